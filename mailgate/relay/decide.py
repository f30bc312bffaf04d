"""Verdict → action, as a layered table (SPEC §3). Pure: no I/O, no clock.

Layers, later wins: shipped defaults < ``[policy]`` < ``[policy.departments.<name>]`` <
``[policy.senders."<address>"]``. Each layer may set any of ``pass``/``warn``/``fail``/``error``
(an action) and ``format`` (bool); the decision says which layer chose the action.

    [policy]
    fail = "reject"
    warn = "advise"
    format = true
    [policy.departments."市场部"]
    fail = "hold"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mailgate.errors import ConfigError

Action = Literal["deliver", "reject", "hold", "advise", "annotate", "monitor"]
ACTIONS: tuple[str, ...] = ("deliver", "reject", "hold", "advise", "annotate", "monitor")
VERDICTS = ("pass", "warn", "fail", "error")
DEFAULTS: Mapping[str, Any] = {"pass": "deliver", "warn": "advise", "fail": "reject", "error": "hold", "format": False}

OVERRIDE = re.compile(r"\s*[\[［]\s*override\s*[:：]\s*(?P<reason>[^\]］]*?)\s*[\]］]\s*$", re.I)


@dataclass(frozen=True, slots=True)
class Layer:
    name: str  # "default" | "policy" | "department:<d>" | "sender:<a>"
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    source: str  # the layer that chose the action
    format: bool = False
    override: str | None = None  # the sender's reason, when an override turned a reject into a delivery


def _check_layer(name: str, values: Any) -> Mapping[str, Any]:
    if not isinstance(values, Mapping):
        raise ConfigError(f"[{name}] must be a table")
    for key, value in values.items():
        if key in VERDICTS:
            if value not in ACTIONS:
                raise ConfigError(f"[{name}] {key} must be one of {', '.join(ACTIONS)}, not {value!r}")
        elif key == "format":
            if not isinstance(value, bool):
                raise ConfigError(f"[{name}] format must be true or false")
        elif key not in {"departments", "senders"} or name != "policy":
            raise ConfigError(f"[{name}] unknown key {key!r}")
    return {k: v for k, v in values.items() if k in VERDICTS or k == "format"}


@dataclass(frozen=True)
class DecisionTable:
    base: Mapping[str, Any]
    departments: Mapping[str, Mapping[str, Any]]
    senders: Mapping[str, Mapping[str, Any]]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DecisionTable:
        """Validate the ``[policy]`` section (a :class:`ConfigError` names a bad key)."""
        base = _check_layer("policy", config)
        deps = config.get("departments", {})
        senders = config.get("senders", {})
        if not isinstance(deps, Mapping) or not isinstance(senders, Mapping):
            raise ConfigError("[policy] departments and senders must be tables")
        return cls(
            base=base,
            departments={str(d): _check_layer(f"policy.departments.{d}", v) for d, v in deps.items()},
            senders={str(s).lower(): _check_layer(f"policy.senders.{s}", v) for s, v in senders.items()},
        )

    def layers(self, *, sender: str | None, department: str | None) -> list[Layer]:
        out = [Layer("default", DEFAULTS), Layer("policy", self.base)]
        if department and department in self.departments:
            out.append(Layer(f"department:{department}", self.departments[department]))
        if sender and sender.lower() in self.senders:
            out.append(Layer(f"sender:{sender.lower()}", self.senders[sender.lower()]))
        return out

    def decide(
        self,
        verdict: str,
        *,
        sender: str | None = None,
        department: str | None = None,
        override: str | None = None,
    ) -> Decision:
        """The action for ``verdict``; ``override`` (a reason) turns ``reject`` into ``deliver``."""
        action, source, fmt = "deliver", "default", False
        for layer in self.layers(sender=sender, department=department):
            if verdict in layer.values:
                action, source = layer.values[verdict], layer.name
            if "format" in layer.values:
                fmt = bool(layer.values["format"])
        if action == "reject" and override:
            return Decision("deliver", source, fmt, override)
        return Decision(action, source, fmt)  # type: ignore[arg-type]


def override_reason(subject: str) -> str | None:
    """The reason of a ``[override: 理由]`` marker at the end of ``subject`` (empty reasons do not count)."""
    m = OVERRIDE.search(subject)
    if m is None or not m.group("reason").strip():
        return None
    return m.group("reason").strip()


def strip_override(subject: str) -> str:
    return OVERRIDE.sub("", subject)
