"""Shared fixtures: the demo organisation's policy and a compact message builder."""

from __future__ import annotations

import datetime as dt
import email.message
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from mailgate.lint import lint_bytes
from mailgate.model import Report
from mailgate.policy import Policy, load_policy

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "checks" / "examples"
SHARED = ROOT.parent / "shared"
DEFAULT_DATE = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Wednesday


@pytest.fixture(scope="session")
def demo_policy() -> Policy:
    """The policy the check examples are written for (demo.example.cn, checks/examples/directory.csv)."""
    return load_policy(EXAMPLES / "mailgate.toml", env={})


def build_eml(
    *,
    subject: str = "【通知】测试邮件发送安排说明",
    body: str = "",
    sender: str = "李娜 <lina@demo.example.cn>",
    to: str = "王芳 <wangfang@demo.example.cn>",
    cc: str | None = None,
    date: dt.datetime = DEFAULT_DATE,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes]] | None = None,
    html: str | None = None,
) -> bytes:
    """A UTF-8 message built with the stdlib, for tests that need one field changed."""
    msg = EmailMessage()
    msg["From"] = sender
    if to:
        msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, data in attachments or []:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(msg)


@pytest.fixture
def lint(demo_policy: Policy) -> Callable[..., Report]:
    """``lint(subject=..., body=..., ...)`` -> Report under the demo policy."""

    def run(raw: bytes | None = None, **kwargs: object) -> Report:
        return lint_bytes(raw if raw is not None else build_eml(**kwargs), demo_policy)  # type: ignore[arg-type]

    return run


def fired(report: Report) -> set[str]:
    return {f.check for f in report.findings}


def text_of(mail: email.message.Message) -> str:
    """A mail's first text/plain part, decoded (a report mail with an attachment is multipart)."""
    part = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "utf-8")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``store`` every test that keeps its store where ``tests/db.py`` says (a fixture named
    ``store_url``, or ``fresh_store_url`` used by its module): the PostgreSQL pass runs those."""
    for item in items:
        module = getattr(item, "module", None)
        if "store_url" in getattr(item, "fixturenames", ()) or "fresh_store_url" in vars(module or object):
            item.add_marker(pytest.mark.store)
