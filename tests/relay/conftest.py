"""Real SMTP conversations: smtplib (this thread) → relay (its own loop thread) → capture sink."""

from __future__ import annotations

import dataclasses
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from mailgate.lint import lint_bytes
from mailgate.policy import Policy, load_policy
from mailgate.relay import build_relay, relay_settings
from mailgate.relay.testing import CaptureSink, RelayThread, free_port
from mailgate.relay.worker import Linter, ThreadLinter
from mailgate.store import AuditEntry, Store
from tests.conftest import EXAMPLES
from tests.db import fresh_store_url

SENDER = "lina@demo.example.cn"


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


PASS_EML = "action-items/good.eml"  # verdict pass: To zhaoqiang, Cc wangfang
FAIL_EML = "action-items/bad.eml"  # verdict fail (action-items)
WARN_EML = "action-item-deadline/bad.eml"  # verdict warn (action-item-deadline)
PASS_RCPTS = ["zhaoqiang@demo.example.cn", "wangfang@demo.example.cn"]
WARN_RCPTS = ["liuyi@demo.example.cn", "wangfang@demo.example.cn", "chenming@demo.example.cn"]


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture(scope="session")
def base_policy() -> Policy:
    policy = load_policy(EXAMPLES / "mailgate.toml", env={})
    lint_bytes(example(PASS_EML), policy)  # load the NLP pipeline once, outside any timed conversation
    return policy


@pytest.fixture
def sink() -> Iterator[CaptureSink]:
    with CaptureSink() as s:
        yield s


@dataclasses.dataclass
class Harness:
    relay: RelayThread
    store: Store
    sink: CaptureSink | None
    policy: Policy

    @property
    def port(self) -> int:
        return self.relay.port

    def audit(self, limit: int = 100) -> Sequence[AuditEntry]:
        """The audit table once the relay's audit log wrote every row queued so far (it is written
        after the reply, in batches)."""
        assert self.relay.relay is not None
        assert self.relay.relay.pipeline.audit_log.flush(timeout=30), "audit rows not written"
        return self.store.audit(limit)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        return wait_until(predicate, timeout)


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    with fresh_store_url(tmp_path, "relay.db") as url:
        yield url


@pytest.fixture
def start_relay(base_policy: Policy, store_url: str, sink: CaptureSink) -> Iterator[Callable[..., Harness]]:
    running: list[RelayThread] = []
    stores: list[Store] = []

    def start(
        *,
        relay: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
        upstream: bool | int = True,
        linter: Linter | None = None,
        storage: dict[str, Any] | None = None,
    ) -> Harness:
        relay_cfg: dict[str, Any] = {"listen": "127.0.0.1:0", "upstream_timeout": 3}
        if upstream is True:
            relay_cfg["upstream"] = f"127.0.0.1:{sink.port}"
        elif upstream:
            relay_cfg["upstream"] = f"127.0.0.1:{upstream}"
        relay_cfg.update(relay or {})
        raw = {**base_policy.raw, "relay": relay_cfg, "policy": policy or {}, "storage": storage or {}}
        pol = dataclasses.replace(base_policy, raw=raw)
        store = Store(store_url)
        stores.append(store)
        settings = relay_settings(pol)
        rt = RelayThread(lambda: build_relay(pol, settings=settings, linter=linter or ThreadLinter(pol), store=store))
        rt.__enter__()
        running.append(rt)
        return Harness(rt, store, sink if upstream is True else None, pol)

    yield start
    for rt in running:
        rt.__exit__(None, None, None)
    for st in stores:
        st.close()


@pytest.fixture(scope="session")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate and key for STARTTLS: (cert path, key path)."""
    d: Path = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
         "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(crt), str(key)


def client_tls() -> ssl.SSLContext:
    """A client context that accepts the self-signed test certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def dead_port() -> int:
    return free_port()
