"""The browser-test harness: Debian's Chromium driven by Playwright, and real ``mailgate serve``
processes for it to open. Without Chromium the browser tests skip — unless
``MAILGATE_REQUIRE_BROWSER`` is set, as ``.ci/run`` does, where they fail instead. Screenshots go to
``test-artifacts/`` (or ``$MAILGATE_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailgate.relay.testing import free_port
from tests.conftest import EXAMPLES

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_BROWSER = Path(CHROMIUM).exists()
if not HAVE_BROWSER and os.environ.get("MAILGATE_REQUIRE_BROWSER"):
    raise RuntimeError(f"MAILGATE_REQUIRE_BROWSER is set but {CHROMIUM} is missing")

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(os.environ.get("MAILGATE_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
MAILGATE = [sys.executable, "-m", "mailgate.cli"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.browser)
            if not HAVE_BROWSER:
                item.add_marker(pytest.mark.skip(reason="Debian's chromium is not installed"))


@dataclass
class Server:
    """A running ``mailgate serve``: its API base URL, config, store URL and an admin token."""

    base: str
    config: Path
    store_url: str
    token: str
    smtp_port: int | None


def serve(root: Path, extra: str = "", *, relay: bool = False) -> Iterator[Server]:
    """Start ``mailgate serve`` (``--api-only`` unless ``relay``) on free ports, wait until it answers,
    yield it with an admin token, stop it."""
    port = free_port()
    smtp_port = free_port() if relay else None
    store_url = f"sqlite:///{root / 'm.db'}"
    config = root / "mailgate.toml"
    relay_toml = f'[relay]\nlisten = "127.0.0.1:{smtp_port}"\nworkers = 1\n' if relay else ""
    config.write_text(
        f'[organization]\ninternal_domains = ["demo.example.cn"]\ndirectory = "{EXAMPLES / "directory.csv"}"\n'
        f'[api]\nlisten = "127.0.0.1:{port}"\n[storage]\nurl = "{store_url}"\n{relay_toml}{extra}',
        encoding="utf-8",
    )
    log = (root / "serve.log").open("wb")
    command = [*MAILGATE, "serve", "--config", str(config)] + ([] if relay else ["--api-only"])
    proc = subprocess.Popen(command, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/readyz" if relay else f"{base}/healthz", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((root / "serve.log").read_text(errors="replace")) from None
            time.sleep(0.2)
    out = subprocess.run([*MAILGATE, "token", "create", "--config", str(config), "--role", "admin", "--name", "t"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    token = re.search(r"mg_[A-Za-z0-9_-]+", out.stdout + out.stderr)
    assert token, out
    try:
        yield Server(base, config, store_url, token.group(0), smtp_port)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page plus what it reported: console messages (CSP violations land there) and dialogs."""

    def __init__(self, browser: Any, base: str, width: int = 1280, height: int = 1000, prefix: str = "gallery") -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True,
                                           locale="zh-CN")  # fmt: skip
        self.page = self.context.new_page()
        self.base = base
        self.prefix = prefix
        self.console: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.console.append(m.text))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

        def dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{self.prefix}-{name}.png"), full_page=True)

    def verdict(self, expected: str, timeout: float = 15_000) -> None:
        self.page.wait_for_selector(f'#verdict[data-verdict="{expected}"]', timeout=timeout)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m or "pageerror" in m]

    def close(self) -> None:
        self.context.close()
