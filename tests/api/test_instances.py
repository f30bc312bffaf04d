"""Two mailgate instances on one database: an admin change on one reaches the other's relay within 1 s.

Real processes (``mailgate serve``, each with its relay, API and lint worker), one shared store (the
PostgreSQL database in the CI's second pass, an SQLite file otherwise), a real SMTP client.
"""

from __future__ import annotations

import contextlib
import json
import os
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgate.api.tokens import create_token
from mailgate.relay.testing import free_port
from mailgate.store import Store
from tests.conftest import EXAMPLES
from tests.relay.conftest import FAIL_EML, SENDER, example
from tests.relay.test_actions_paths import crlf

RCPTS = ["zhaoqiang@demo.example.cn"]


def _config(tmp_path: Path, name: str, url: str) -> tuple[Path, int, int]:
    smtp, http = free_port(), free_port()
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(
        f'[organization]\ninternal_domains = ["demo.example.cn"]\ndirectory = "{EXAMPLES / "directory.csv"}"\n'
        f'[relay]\nlisten = "127.0.0.1:{smtp}"\nworkers = 1\n'
        f'[api]\nlisten = "127.0.0.1:{http}"\npolicy_poll = 0.25\n'
        f'[storage]\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return cfg, smtp, http


def _ready(smtp: int, http: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=1) as r:
            if r.status != 200:
                return False
        with socket.create_connection(("127.0.0.1", smtp), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def instance(cfg: Path, smtp: int, http: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailgate.cli", "serve", "--config", str(cfg)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
            if _ready(smtp, http):
                break
            time.sleep(0.2)
        else:
            pytest.fail("instance did not start")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def send_code(port: int) -> int:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.sendmail(SENDER, RCPTS, crlf(example(FAIL_EML)))
        return 250
    except smtplib.SMTPDataError as err:
        return err.smtp_code


def test_a_change_on_one_instance_reaches_the_other_within_a_second(tmp_path: Path, store_url: str) -> None:
    store = Store(store_url)
    _, token = create_token(store, "admin", "instances-test")
    store.close()
    cfg_a, smtp_a, http_a = _config(tmp_path, "a", store_url)
    cfg_b, smtp_b, http_b = _config(tmp_path, "b", store_url)
    with instance(cfg_a, smtp_a, http_a), instance(cfg_b, smtp_b, http_b):
        assert send_code(smtp_b) == 550  # action-items/bad.eml fails: rejected
        request = urllib.request.Request(
            f"http://127.0.0.1:{http_a}/v1/checks/action-items",
            data=json.dumps({"enabled": False}).encode(),
            method="PATCH",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            assert json.load(r)["change"]["version"] == 1
        changed_at = time.monotonic()
        while send_code(smtp_b) != 250:
            assert time.monotonic() - changed_at < 5, "instance B never picked up the change"
            time.sleep(0.05)
        took = time.monotonic() - changed_at
        assert took <= 1.0, f"instance B followed after {took:.2f} s"
