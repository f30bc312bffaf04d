"""Dry run: how a proposed policy would have decided messages already seen (admin API, item 4).

    simulate(current, proposed, samples, *, limit=500, examples=10, budget=60.0) -> SimulationResult
    proposed_doc(current_doc, patch, replace=False) -> the admin layer to validate with ``state.build``

Each sample is linted under both policies and decided by both tables the way the relay decides it:
the envelope sender (an upload has none: its header ``From``) picks the department through each
policy's own directory. A sender's ``[override: …]`` marker is not replayed — the question is what
the policy decides, not what one sender chose. When both sides share one :class:`Policy` object
(only the verdict → action table differs), each message is linted once.

Bounded by a message count and a wall-clock budget checked before each message; hitting either
sets ``truncated``. Nothing is stored: the only side effect is the clock.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mailgate.errors import ConfigError
from mailgate.lint import lint_bytes
from mailgate.model import Report
from mailgate.policy import Policy
from mailgate.relay.actions import normalize_line_endings, strip_annotations
from mailgate.relay.decide import DecisionTable

log = logging.getLogger("mailgate.simulate")

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
DEFAULT_BUDGET = 60.0
ARROW = "→"
ADMIN_SECTIONS = ("checks", "lexicons", "policy", "directory")
Source = Literal["retained", "uploaded"]


class PolicyPair(Protocol):
    """A policy and its decision table (a :class:`mailgate.state.PolicyState` is one)."""

    @property
    def policy(self) -> Policy: ...

    @property
    def table(self) -> DecisionTable: ...


@dataclass(frozen=True, slots=True)
class Side:
    policy: Policy
    table: DecisionTable


@dataclass(frozen=True, slots=True)
class Sample:
    """One message to replay: its bytes and, for a relayed one, its envelope."""

    id: str  # the retained row's id, or the upload's file name
    data: bytes
    source: Source = "uploaded"
    mail_from: str | None = None  # envelope sender; None: decide by the header From
    rcpt_to: tuple[str, ...] = ()
    audit_id: str | None = None

    @classmethod
    def upload(cls, name: str, data: bytes) -> Sample:
        """An uploaded ``.eml``, prepared as the relay prepares what it receives."""
        return cls(id=name, data=strip_annotations(normalize_line_endings(data)), source="uploaded")


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: str
    action: str
    source: str  # the decision layer that chose the action
    findings: Counter[str]  # check id → findings
    subject: str | None

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "action": self.action, "source": self.source,
                "findings": sorted(self.findings)}  # fmt: skip


@dataclass(slots=True)
class CheckDelta:
    findings_before: int = 0
    findings_after: int = 0
    messages_added: int = 0  # messages it fires on only under the proposal
    messages_removed: int = 0  # messages it no longer fires on

    @property
    def changed(self) -> bool:
        return bool(self.messages_added or self.messages_removed or self.findings_before != self.findings_after)

    def to_json(self) -> dict[str, int]:
        return {
            "findings_before": self.findings_before,
            "findings_after": self.findings_after,
            "delta": self.findings_after - self.findings_before,
            "messages_added": self.messages_added,
            "messages_removed": self.messages_removed,
        }


@dataclass(frozen=True, slots=True)
class Example:
    sample: Sample
    before: Outcome
    after: Outcome

    def to_json(self) -> dict[str, Any]:
        subject = self.before.subject if self.before.subject is not None else self.after.subject
        out: dict[str, Any] = {"id": self.sample.id, "source": self.sample.source}
        if self.sample.audit_id:
            out["audit_id"] = self.sample.audit_id
        out["subject"] = None if subject is None else subject[:200]
        out["before"], out["after"] = self.before.to_json(), self.after.to_json()
        out["checks_added"] = sorted(set(self.after.findings) - set(self.before.findings))
        out["checks_removed"] = sorted(set(self.before.findings) - set(self.after.findings))
        return out


@dataclass
class SimulationResult:
    messages: int = 0
    verdict_changes: int = 0
    action_changes: int = 0
    findings_changes: int = 0  # messages whose set of firing checks changed
    verdicts: Counter[str] = field(default_factory=Counter)  # "fail→warn" → messages (unchanged pairs too)
    actions: Counter[str] = field(default_factory=Counter)  # "reject→advise" → messages
    checks: dict[str, CheckDelta] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    sources: Counter[str] = field(default_factory=Counter)
    truncated: bool = False
    stopped_by: Literal["limit", "time"] | None = None
    elapsed_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "verdict_changes": self.verdict_changes,
            "action_changes": self.action_changes,
            "findings_changes": self.findings_changes,
            "verdicts": dict(sorted(self.verdicts.items())),
            "actions": dict(sorted(self.actions.items())),
            "checks": {cid: d.to_json() for cid, d in sorted(self.checks.items()) if d.changed},
            "examples": [e.to_json() for e in self.examples],
            "sources": {"retained": self.sources["retained"], "uploaded": self.sources["uploaded"]},
            "truncated": self.truncated,
            "stopped_by": self.stopped_by,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def _lint(sample: Sample, policy: Policy) -> Report:
    try:
        return lint_bytes(sample.data, policy, envelope_from=sample.mail_from or None, envelope_to=sample.rcpt_to)
    except Exception:  # lint_bytes reports bad messages itself; anything else is a bug, not a 500
        log.exception("dry run: lint failed on %s %s", sample.source, sample.id)
        return Report("error")


def _decide(sample: Sample, report: Report, side: Side) -> Outcome:
    sender = sample.mail_from
    if sender is None and report.message is not None and report.message.sender is not None:
        sender = report.message.sender.key
    person = side.policy.directory.by_email(sender) if sender else None
    decision = side.table.decide(report.verdict, sender=sender, department=person.department if person else None)
    findings = Counter(f.check for f in report.findings)
    subject = report.message.subject if report.message is not None else None
    return Outcome(report.verdict, decision.action, decision.source, findings, subject)


def simulate(
    current: PolicyPair,
    proposed: PolicyPair,
    samples: Iterable[Sample],
    *,
    limit: int = DEFAULT_LIMIT,
    examples: int = 10,
    budget: float = DEFAULT_BUDGET,
    clock: Callable[[], float] = time.monotonic,
) -> SimulationResult:
    """Replay ``samples`` (at most ``limit``, within ``budget`` seconds) under both policies."""
    before_side = Side(current.policy, current.table)
    after_side = Side(proposed.policy, proposed.table)
    same_policy = before_side.policy is after_side.policy
    limit = max(0, min(limit, MAX_LIMIT))
    examples = max(0, examples)
    result = SimulationResult()
    # examples by interest: a verdict change, then an action change, then only the checks that fire
    kept: tuple[list[Example], list[Example], list[Example]] = ([], [], [])
    started = clock()
    for sample in samples:
        if result.messages >= limit:
            result.truncated, result.stopped_by = True, "limit"
            break
        if clock() - started >= budget:
            result.truncated, result.stopped_by = True, "time"
            break
        report = _lint(sample, before_side.policy)
        before = _decide(sample, report, before_side)
        after = _decide(sample, report if same_policy else _lint(sample, after_side.policy), after_side)
        _count(result, sample, before, after)
        rank = 0 if before.verdict != after.verdict else 1 if before.action != after.action else 2
        if (rank < 2 or set(before.findings) != set(after.findings)) and len(kept[rank]) < examples:
            kept[rank].append(Example(sample, before, after))
    result.examples = (kept[0] + kept[1] + kept[2])[:examples]
    result.elapsed_ms = (clock() - started) * 1000
    return result


def _count(result: SimulationResult, sample: Sample, before: Outcome, after: Outcome) -> None:
    result.messages += 1
    result.sources[sample.source] += 1
    result.verdicts[f"{before.verdict}{ARROW}{after.verdict}"] += 1
    result.actions[f"{before.action}{ARROW}{after.action}"] += 1
    result.verdict_changes += before.verdict != after.verdict
    result.action_changes += before.action != after.action
    result.findings_changes += set(before.findings) != set(after.findings)
    for cid in before.findings.keys() | after.findings.keys():
        delta = result.checks.setdefault(cid, CheckDelta())
        delta.findings_before += before.findings[cid]
        delta.findings_after += after.findings[cid]
        delta.messages_added += cid in after.findings and cid not in before.findings
        delta.messages_removed += cid in before.findings and cid not in after.findings


# -- the proposal ----------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: tables merge key by key, ``null`` removes a key, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} 必须是表 / {where} must be a table (JSON object)")
    return value


def check_shape(doc: Mapping[str, Any]) -> None:
    """Refuse an admin layer whose sections have the wrong JSON types (ConfigError naming the key).

    The routes that write the admin layer build it from typed bodies; a proposal is free-form JSON,
    so its shape is checked here before ``state.build`` reads it.
    """
    unknown = set(doc) - set(ADMIN_SECTIONS)
    if unknown:
        raise ConfigError(f"未知的部分 / unknown admin section(s): {', '.join(sorted(map(str, unknown)))}")
    for cid, settings in _table(doc.get("checks", {}), "checks").items():
        _table(settings, f"checks.{cid}")
    for name, cats in _table(doc.get("lexicons", {}), "lexicons").items():
        for cat, change in _table(cats, f"lexicons.{name}").items():
            where = f"lexicons.{name}.{cat}"
            if isinstance(change, Mapping):
                for key in ("add", "remove"):
                    if not isinstance(change.get(key, []), list):
                        raise ConfigError(f"{where}.{key} 必须是列表 / {where}.{key} must be a list")
            elif not isinstance(change, list):
                raise ConfigError(f"{where} 必须是列表或 {{add, remove}} / {where} must be a list or {{add, remove}}")
    policy = _table(doc.get("policy", {}), "policy")
    for scope in ("departments", "senders"):
        for name, layer in _table(policy.get(scope, {}), f"policy.{scope}").items():
            _table(layer, f"policy.{scope}.{name}")
    if "directory" in doc:
        people = _table(doc["directory"], "directory").get("people", [])
        if not isinstance(people, list) or not all(isinstance(p, Mapping) for p in people):
            raise ConfigError("directory.people 必须是对象列表 / directory.people must be a list of objects")


def proposed_doc(current: Mapping[str, Any], patch: Mapping[str, Any], *, replace: bool = False) -> dict[str, Any]:
    """The admin layer a proposal means: ``patch`` merged over ``current`` (or ``patch`` alone)."""
    doc = merge_patch({}, patch) if replace else merge_patch(copy.deepcopy(dict(current)), patch)
    check_shape(doc)
    return doc


def lints_alike(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when two admin layers differ at most in ``policy`` (verdict → action): same findings."""
    return {k: v for k, v in a.items() if k != "policy"} == {k: v for k, v in b.items() if k != "policy"}
