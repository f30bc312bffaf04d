"""``[api]`` settings as a value, validated once."""

from __future__ import annotations

from dataclasses import dataclass

from mailgate.errors import ConfigError
from mailgate.policy import Policy
from mailgate.relay.config import split_hostport
from mailgate.store.repo import retain_days


@dataclass(frozen=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = 8025
    public_lint: bool = False  # POST /v1/lint and /v1/format without a token (a mail-client add-in)
    max_body_bytes: int = 10_240_000  # 413 above this, before parsing
    max_json_depth: int = 32  # 400 above this, before parsing
    lint_workers: int = 2  # threads linting API requests (each bounded by the engine's time budget)
    policy_poll: float = 0.5
    open_rate: float = 5.0  # requests/s per client address on the open routes that lint (0: no limit)
    open_burst: int = 20
    auth_fail_rate: float = 0.5  # failed token attempts per client address allowed per second (0: no limit) …
    auth_fail_burst: int = 20  # … after this many in a row; then every token from it is 429 until they refill
    gallery: bool = True  # the template gallery: /gallery pages (open) and /v1/templates
    retain_days: int = 0  # keep relayed message bytes this long for policy dry runs (0: off)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def api_settings(policy: Policy) -> ApiSettings:
    raw = policy.raw.get("api", {})
    known = {
        "listen", "public_lint", "gallery", "open_rate", "open_burst", "auth_fail_rate", "auth_fail_burst",
        "max_body_bytes", "max_json_depth", "lint_workers", "policy_poll",
    }
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"[api] unknown key(s): {', '.join(sorted(unknown))}")
    values: dict[str, object] = {}
    if "listen" in raw:
        host, port = split_hostport(str(raw["listen"]), key="listen", default_port=8025)
        values["host"], values["port"] = host, port
    if "public_lint" in raw:
        if not isinstance(raw["public_lint"], bool):
            raise ConfigError("[api] public_lint must be true or false")
        values["public_lint"] = raw["public_lint"]
    if "gallery" in raw:
        if not isinstance(raw["gallery"], bool):
            raise ConfigError("[api] gallery must be true or false")
        values["gallery"] = raw["gallery"]
    for key in ("max_body_bytes", "max_json_depth", "lint_workers", "open_burst", "auth_fail_burst"):
        if key in raw:
            if not isinstance(raw[key], int) or isinstance(raw[key], bool) or raw[key] <= 0:
                raise ConfigError(f"[api] {key} must be a positive integer")
            values[key] = raw[key]
    for key in ("open_rate", "auth_fail_rate"):
        if key in raw:
            value = raw[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"[api] {key} must be a non-negative number (0: no limit)")
            values[key] = float(value)
    if "policy_poll" in raw:
        values["policy_poll"] = float(raw["policy_poll"])
    values["retain_days"] = retain_days(policy.raw)
    return ApiSettings(**values)  # type: ignore[arg-type]
