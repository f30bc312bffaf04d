"""A held message's page in a real browser, reached the way a sender reaches it: a real ``mailgate
serve`` (relay + API, ``fail = "hold"``) holds a mail sent over SMTP, its report mail lands in the
outbox, and Chromium follows the release link in it. The sender withdraws one message; an
administrator releases another by typing a token; a wrong token is refused on the page."""

from __future__ import annotations

import email
import re
import smtplib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mailgate.store import Store
from tests.conftest import EXAMPLES, text_of
from tests.web.conftest import Page, Server, serve

pytestmark = pytest.mark.browser

SENDER = "lina@demo.example.cn"
RCPTS = ["zhaoqiang@demo.example.cn", "wangfang@demo.example.cn"]
FAILING = (EXAMPLES / "action-items" / "bad.eml").read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(tmp_path_factory.mktemp("hold"), '[policy]\nfail = "hold"\n', relay=True)


@pytest.fixture(scope="module")
def store(server: Server) -> Iterator[Store]:
    s = Store(server.store_url)
    yield s
    s.close()


def held(server: Server, store: Store) -> tuple[str, str]:
    """Send the failing example through the relay; its quarantine id and the release link of the
    report mail the relay wrote for it."""
    assert server.smtp_port is not None
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as c:
        c.ehlo()
        c.mail(SENDER)
        for r in RCPTS:
            c.rcpt(r)
        code, reply = c.data(FAILING.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    found = re.search(rb"held for review as ([0-9a-f]{32})", reply)
    assert code == 250 and found, reply
    entry_id = found.group(1).decode()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for row in store.outbox(kind="report"):
            text = text_of(email.message_from_bytes(row.data))
            link = re.search(r"审核与放行：(\S+)", text)
            if link and link.group(1).endswith(entry_id):
                return entry_id, link.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no report mail with a release link for {entry_id}")


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Page]:
    p = Page(browser, server.base, prefix="hold")
    yield p
    assert p.csp_violations() == [] and p.dialogs == []
    p.close()


def test_the_sender_follows_the_release_link_and_withdraws(page: Page, server: Server, store: Store) -> None:
    entry_id, link = held(server, store)
    page.page.goto(link)
    p = page.page
    assert "暂存中，等待管理员审核" in p.inner_text("#state")
    assert p.locator("ol li").count() >= 1  # the findings, each with its suggestion
    assert "建议" in p.inner_text("ol")
    page.shot("held")
    p.click("#withdraw")
    p.wait_for_url(re.compile(r"done=withdrawn"))
    assert "已撤回：这封邮件不会被投递" in p.inner_text('[role="status"]')
    assert "已由发件人撤回" in p.inner_text("#state")
    assert p.locator("#withdraw").count() == 0 and p.locator("#token").count() == 0
    page.shot("withdrawn")
    row = store.get_quarantine(entry_id)
    assert row is not None and row.status == "discarded" and row.decided_by == f"sender:{SENDER}"
    # the full report is one click away
    p.click("text=完整检查报告")
    p.wait_for_url(re.compile(r"/reports/[0-9a-f]{32}$"))
    assert "邮件规范检查报告" in p.inner_text("h1") and p.locator("ol li").count() >= 1


def test_an_administrator_releases_it_with_a_token(page: Page, server: Server, store: Store) -> None:
    entry_id, link = held(server, store)
    p = page.page
    p.goto(link)
    p.fill("#token", "mg_not-a-real-token")
    p.click("#release")
    assert "令牌无效" in p.inner_text('[role="alert"]')
    assert p.input_value("#token") == ""  # the typed token is not sent back into the page
    assert store.get_quarantine(entry_id).status == "held"  # type: ignore[union-attr]
    page.shot("bad-token")
    before = len(store.outbox(kind="mail"))
    p.fill("#token", server.token)
    p.click("#release")
    p.wait_for_url(re.compile(r"done=released"))
    assert "已放行并投递" in p.inner_text("#state")
    page.shot("released")
    row = store.get_quarantine(entry_id)
    assert row is not None and row.status == "released" and row.decided_by.startswith("token:t/")  # type: ignore[union-attr]
    delivered = store.outbox(kind="mail")
    assert len(delivered) == before + 1 and sorted(delivered[0].rcpt_to) == sorted(RCPTS)


def test_keyboard_labels_and_phone_width(browser: Any, server: Server, store: Store) -> None:
    _, link = held(server, store)
    page = Page(browser, server.base, width=375, height=740, prefix="hold")
    try:
        p = page.page
        p.goto(link)
        assert p.evaluate("document.documentElement.scrollWidth") <= 375
        assert p.get_attribute("#token", "type") == "password"
        assert p.locator('label[for="token"]').count() == 1
        p.focus("#withdraw")
        p.keyboard.press("Tab")
        assert p.evaluate("document.activeElement.id") == "token"
        p.keyboard.press("Tab")
        assert p.evaluate("document.activeElement.id") == "release"
        p.keyboard.press("Tab")
        assert p.evaluate("document.activeElement.id") == "discard"
        page.shot("phone")
        assert page.csp_violations() == []
    finally:
        page.close()
