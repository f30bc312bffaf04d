"""``[relay]`` settings as a value, validated once (Postfix-like defaults)."""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailgate.errors import ConfigError
from mailgate.policy import Policy

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def split_hostport(value: str, *, key: str, default_port: int) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    host = host.strip("[]")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"[relay] {key} must be host:port, not {value!r}")
    return host, int(port)


@functools.cache
def local_fqdn() -> str:
    """This host's FQDN, looked up once per process. Without a hostname, aiosmtpd calls
    ``socket.getfqdn()`` for every connection on the event loop, and aiosmtplib for every upstream
    connection in a thread; a slow resolver would stall each of them."""
    return socket.getfqdn()


@dataclass(frozen=True)
class UpstreamSettings:
    host: str
    port: int = 25
    starttls: bool | None = None  # None: when offered; True: required; False: never
    tls: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password: str | None = None
    timeout: float = 100.0  # Postfix smtpd_proxy_timeout
    validate_certs: bool = True


@dataclass(frozen=True)
class RelaySettings:
    host: str = "127.0.0.1"
    port: int = 2525
    hostname: str | None = None
    upstream: UpstreamSettings | None = None
    client_networks: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    max_message_bytes: int = 10_240_000  # Postfix message_size_limit
    max_recipients: int = 1000  # smtpd_recipient_limit
    max_connections: int = 100  # default_process_limit
    max_connections_per_client: int = 50  # smtpd_client_connection_count_limit
    command_timeout: float = 300.0  # smtpd_timeout
    data_timeout: float = 600.0  # whole DATA phase: 10 MB at ~17 KB/s
    junk_command_limit: int = 100  # NOOP/RSET/VRFY per session (smtpd_junk_command_limit)
    tls_cert: str | None = None
    tls_key: str | None = None
    users: Mapping[str, str] = field(default_factory=dict)  # login -> pbkdf2 hash (see relay.auth)
    workers: int = 0  # lint processes per server process; 0 = one per core
    processes: int = 1  # SMTP server processes sharing the port (SO_REUSEPORT); 0 = one per core
    auth_fail_delay: float = 1.0  # seconds added per failed AUTH of a client (HOSTILE 18)
    auth_max_failures: int = 10  # failed AUTHs per client within auth_lockout before a lockout
    auth_lockout: float = 900.0  # seconds a locked-out client is refused AUTH
    data_idle_timeout: float = 60.0  # longest silence inside DATA (HOSTILE 15)
    sender_mismatch: str = "annotate"  # header From: ours, envelope sender not: annotate | reject | off
    min_data_rate: int = 1024  # bytes/s; the DATA deadline is max(data_timeout, size limit / rate)
    report_url: str = "http://127.0.0.1:8025/reports/{id}"  # {id}: the audit id
    release_url: str = "http://127.0.0.1:8025/quarantine/{id}"  # {id}: the quarantine id
    report_from: str = "mailgate@localhost"
    report_rate: int = 10  # report mails per sender per hour
    lint_timeout: float = 60.0  # on top of the engine's own budget: a worker that hangs
    config_path: str | None = None  # for the worker processes
    policy_poll: float = 0.5  # seconds between checks for a new policy version ([api] policy_poll)

    @property
    def smtp_hostname(self) -> str:
        """The name in our greeting and in EHLO upstream: ``hostname``, else this host's FQDN."""
        return self.hostname or local_fqdn()

    @property
    def worker_count(self) -> int:
        return self.workers or max(1, (os.cpu_count() or 1) // self.process_count)

    @property
    def process_count(self) -> int:
        return self.processes or os.cpu_count() or 1


_INT_KEYS = (
    "max_message_bytes",
    "max_recipients",
    "max_connections",
    "max_connections_per_client",
    "junk_command_limit",
    "workers",
    "processes",
    "report_rate",
    "auth_max_failures",
    "min_data_rate",
)
_FLOAT_KEYS = (
    "command_timeout",
    "data_timeout",
    "lint_timeout",
    "auth_fail_delay",
    "auth_lockout",
    "data_idle_timeout",
)


def relay_settings(policy: Policy, *, config_path: str | None = None) -> RelaySettings:
    raw: Mapping[str, Any] = policy.raw.get("relay", {})
    api: Mapping[str, Any] = policy.raw.get("api", {})
    known = {
        "listen", "hostname", "upstream", "upstream_starttls", "upstream_tls", "upstream_username",
        "upstream_password", "upstream_timeout", "upstream_validate_certs", "client_networks", "tls_cert",
        "tls_key", "users", "report_url", "sender_mismatch", "release_url", "report_from", *_INT_KEYS, *_FLOAT_KEYS,
    }  # fmt: skip
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"[relay] unknown key(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {"config_path": config_path}
    if "listen" in raw:
        values["host"], values["port"] = split_hostport(str(raw["listen"]), key="listen", default_port=2525)
    if raw.get("hostname"):
        values["hostname"] = str(raw["hostname"])
    if raw.get("upstream"):
        host, port = split_hostport(str(raw["upstream"]), key="upstream", default_port=25)
        values["upstream"] = UpstreamSettings(
            host=host,
            port=port,
            starttls=raw.get("upstream_starttls"),
            tls=bool(raw.get("upstream_tls", False)),
            username=raw.get("upstream_username"),
            password=raw.get("upstream_password"),
            timeout=float(raw.get("upstream_timeout", 100.0)),
            validate_certs=bool(raw.get("upstream_validate_certs", True)),
        )
    if "client_networks" in raw:
        nets = raw["client_networks"]
        if not isinstance(nets, list):
            raise ConfigError("[relay] client_networks must be a list of networks")
        try:
            values["client_networks"] = tuple(ipaddress.ip_network(str(n), strict=False) for n in nets)
        except ValueError as exc:
            raise ConfigError(f"[relay] client_networks: {exc}") from None
    for key in _INT_KEYS:
        if key in raw:
            if not isinstance(raw[key], int) or raw[key] < 0:
                raise ConfigError(f"[relay] {key} must be a non-negative integer")
            values[key] = raw[key]
    for key in _FLOAT_KEYS:
        if key in raw:
            if not isinstance(raw[key], int | float) or raw[key] <= 0:
                raise ConfigError(f"[relay] {key} must be a positive number of seconds")
            values[key] = float(raw[key])
    for key in ("tls_cert", "tls_key"):
        if raw.get(key):
            values[key] = str(raw[key])
    if bool(values.get("tls_cert")) != bool(values.get("tls_key")):
        raise ConfigError("[relay] tls_cert and tls_key go together")
    users = raw.get("users", {})
    if not isinstance(users, Mapping) or not all(isinstance(v, str) for v in users.values()):
        raise ConfigError("[relay] users must map a login to a password hash")
    values["users"] = dict(users)
    if "report_url" in raw:
        values["report_url"] = str(raw["report_url"])
    elif api.get("listen"):
        values["report_url"] = f"http://{api['listen']}/reports/{{id}}"
    if "release_url" in raw:
        values["release_url"] = str(raw["release_url"])
    elif api.get("listen"):
        values["release_url"] = f"http://{api['listen']}/quarantine/{{id}}"
    if "policy_poll" in api:
        if not isinstance(api["policy_poll"], int | float) or not 0 < api["policy_poll"] <= 60:
            raise ConfigError("[api] policy_poll must be a number of seconds between 0 and 60")
        values["policy_poll"] = float(api["policy_poll"])
    if "sender_mismatch" in raw:
        if raw["sender_mismatch"] not in ("annotate", "reject", "off"):
            raise ConfigError("[relay] sender_mismatch must be one of annotate, reject, off")
        values["sender_mismatch"] = raw["sender_mismatch"]
    if "report_from" in raw:
        values["report_from"] = str(raw["report_from"])
    elif policy.internal_domains:
        values["report_from"] = f"mailgate@{policy.internal_domains[0]}"
    if values.get("processes", 1) != 1 and values.get("port", 2525) == 0:
        raise ConfigError("[relay] processes > 1 needs a fixed port in listen")
    return RelaySettings(**values)
