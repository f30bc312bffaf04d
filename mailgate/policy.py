"""The policy as a value: shipped defaults < mailgate.toml < environment.

``load_policy`` validates everything up front; an unknown check id or a bad
parameter is a :class:`~mailgate.errors.ConfigError` naming it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mailgate.directory import Directory
from mailgate.errors import ConfigError
from mailgate.model import Severity
from mailgate.registry import Registry

Lexicons = Mapping[str, Mapping[str, tuple[str, ...]]]


@dataclass(frozen=True, slots=True)
class CheckSettings:
    enabled: bool
    severity: Severity
    params: BaseModel
    source: Mapping[str, str] = field(default_factory=dict)  # key -> "default" | "config" | ...


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one message (SPEC §4 error codes)."""

    max_message_bytes: int = 25 * 1024 * 1024
    max_header_bytes: int = 1024 * 1024
    max_headers: int = 2000
    max_depth: int = 30
    max_parts: int = 500
    max_decoded_bytes: int = 50 * 1024 * 1024
    max_body_chars: int = 2 * 1024 * 1024
    max_addresses: int = 2000
    time_budget_s: float = 5.0  # per message, plus time_budget_per_mb_s for each MB of input
    time_budget_per_mb_s: float = 1.0

    def budget_for(self, size: int) -> float:
        return self.time_budget_s + self.time_budget_per_mb_s * size / 1_000_000


@dataclass(frozen=True)
class Policy:
    registry: Registry
    checks: Mapping[str, CheckSettings]
    internal_domains: tuple[str, ...] = ()
    directory: Directory = field(default_factory=Directory)
    lexicons: Lexicons = field(default_factory=dict)
    short_reply_chars: int = 200
    locale: str = "zh-CN"
    limits: Limits = field(default_factory=Limits)
    raw: Mapping[str, Any] = field(default_factory=dict)  # the config as read, for the relay and API

    def is_internal(self, domain: str) -> bool:
        d = domain.lower().rstrip(".")
        return any(d == i or d.endswith("." + i) for i in self.internal_domains)

    def with_check(self, check_id: str, **changes: Any) -> Policy:
        """A copy with one check's settings changed (validated like the config file)."""
        spec = self._spec(check_id)
        cur = self.checks[check_id]
        enabled = changes.pop("enabled", cur.enabled)
        severity = _severity(check_id, changes.pop("severity", cur.severity))
        params = _params(spec.params, check_id, {**cur.params.model_dump(), **changes})
        checks = dict(self.checks)
        checks[check_id] = CheckSettings(bool(enabled), severity, params, cur.source)
        return replace(self, checks=checks)

    def _spec(self, check_id: str) -> Any:
        if check_id not in self.registry:
            raise ConfigError(f"unknown check id {check_id!r}")
        return self.registry.get(check_id)


def default_registry() -> Registry:
    from checks import REGISTRY

    return REGISTRY


def _severity(check_id: str, value: Any) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise ConfigError(
            f"[checks.{check_id}] severity must be error, warning or info, not {value!r}"
        ) from None


def _params(model: type[BaseModel], check_id: str, values: Mapping[str, Any]) -> BaseModel:
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        errs = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(params)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"[checks.{check_id}] invalid parameter: {errs}") from None


def load_lexicons(registry: Registry) -> dict[str, dict[str, tuple[str, ...]]]:
    """Every ``<name>.toml`` lexicon shipped beside the checks: category -> words."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    if registry.lexicon_dir is None:
        return out
    for path in sorted(registry.lexicon_dir.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        cats = data.get("categories", data)
        out[path.stem] = {
            cat: tuple(str(w) for w in words)
            for cat, words in cats.items()
            if isinstance(words, list)
        }
    return out


def _merge_lexicons(
    base: dict[str, dict[str, tuple[str, ...]]], overrides: Mapping[str, Any]
) -> dict[str, dict[str, tuple[str, ...]]]:
    out = {name: dict(cats) for name, cats in base.items()}
    for name, cats in overrides.items():
        if not isinstance(cats, Mapping):
            raise ConfigError(f"[lexicons.{name}] must be a table of categories")
        target = out.setdefault(name, {})
        for cat, change in cats.items():
            words = list(target.get(cat, ()))
            if isinstance(change, list):
                words = [str(w) for w in change]
            elif isinstance(change, Mapping):
                unknown = set(change) - {"add", "remove"}
                if unknown:
                    raise ConfigError(f"[lexicons.{name}.{cat}] unknown keys {sorted(unknown)}")
                words += [str(w) for w in change.get("add", []) if str(w) not in words]
                drop = {str(w) for w in change.get("remove", [])}
                words = [w for w in words if w not in drop]
            else:
                raise ConfigError(f"[lexicons.{name}.{cat}] must be a list or {{add, remove}}")
            target[cat] = tuple(w for w in words if w)
    return out


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """``MAILGATE_SECTION__KEY=value`` overrides ``[section] key`` (values parsed as TOML when possible)."""
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith("MAILGATE_") or "__" not in name:
            continue
        section, _, key = name[len("MAILGATE_") :].lower().partition("__")
        try:
            parsed: Any = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value
        out.setdefault(section, {})[key] = parsed
    return out


def build_policy(
    config: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    registry: Registry | None = None,
    directory: Directory | None = None,
    admin: Mapping[str, Any] | None = None,
) -> Policy:
    """Validate a config mapping (as read from mailgate.toml) into a :class:`Policy`.

    ``admin`` is the admin layer (changes made over the API, config-shaped): its ``checks`` and
    ``policy`` win over the config's and are reported with source ``admin``; its ``lexicons``
    add and remove words after the config's; its ``directory`` (``{"people": [...]}``) replaces
    the CSV directory.
    """
    registry = registry or default_registry()
    admin = admin or {}
    unknown_admin = set(admin) - {"checks", "lexicons", "policy", "directory"}
    if unknown_admin:
        raise ConfigError(f"unknown admin section(s): {', '.join(sorted(unknown_admin))}")
    file_checks = config.get("checks", {})
    admin_checks = admin.get("checks", {})
    if admin_checks or admin.get("policy"):
        config = dict(config)
        config["checks"] = {
            cid: {**file_checks.get(cid, {}), **admin_checks.get(cid, {})} for cid in {*file_checks, *admin_checks}
        }
        if admin.get("policy"):
            config["policy"] = _deep_merge(config.get("policy", {}), admin["policy"])
    if "directory" in admin:
        directory = Directory.from_rows(admin["directory"].get("people", []))
    known = {"organization", "checks", "lexicons", "lint", "relay", "api", "storage", "policy"}
    unknown = set(config) - known
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
    org = config.get("organization", {})
    domains = org.get("internal_domains", [])
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise ConfigError("[organization] internal_domains must be a list of domain names")
    if directory is None:
        directory = Directory()
        if org.get("directory"):
            path = Path(org["directory"])
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            directory = Directory.from_csv(path)

    check_cfg = config.get("checks", {})
    for cid in check_cfg:
        if cid not in registry:
            raise ConfigError(f"[checks.{cid}] unknown check id {cid!r}")
    settings: dict[str, CheckSettings] = {}
    for spec in registry:
        cfg = dict(check_cfg.get(spec.id, {}))
        by_admin = admin_checks.get(spec.id, {})
        source = {"enabled": "default", "severity": "default"}
        enabled = cfg.pop("enabled", True)
        if "enabled" in check_cfg.get(spec.id, {}):
            source["enabled"] = "admin" if "enabled" in by_admin else "config"
        if not isinstance(enabled, bool):
            raise ConfigError(f"[checks.{spec.id}] enabled must be true or false")
        severity = spec.severity
        if "severity" in cfg:
            severity = _severity(spec.id, cfg.pop("severity"))
            source["severity"] = "admin" if "severity" in by_admin else "config"
        params = _params(spec.params, spec.id, cfg)
        for key in params.model_fields_set:
            source[key] = "admin" if key in by_admin else "config"
        settings[spec.id] = CheckSettings(enabled, severity, params, source)

    lint = config.get("lint", {})
    limits = Limits(**{k: v for k, v in lint.get("limits", {}).items() if k in Limits.__slots__})
    return Policy(
        registry=registry,
        checks=settings,
        internal_domains=tuple(d.lower().rstrip(".") for d in domains),
        directory=directory,
        lexicons=_merge_lexicons(
            _merge_lexicons(load_lexicons(registry), config.get("lexicons", {})), admin.get("lexicons", {})
        ),
        short_reply_chars=int(lint.get("short_reply_chars", 200)),
        locale=str(lint.get("locale", "zh-CN")),
        limits=limits,
        raw=config,
    )


def load_policy(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> Policy:
    """Read ``mailgate.toml`` (optional) and the ``MAILGATE_*`` environment into a policy."""
    config: dict[str, Any] = {}
    base_dir = None
    if path is not None:
        try:
            config = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
        base_dir = Path(path).resolve().parent
    for section, values in _env_overrides(os.environ if env is None else env).items():
        config.setdefault(section, {}).update(values)
    return build_policy(config, base_dir=base_dir, registry=registry)
