"""Each action of SPEC §3 over a real SMTP conversation."""

from __future__ import annotations

import email
import re
import smtplib
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from mailgate.api import ApiSettings, build_app
from mailgate.lint import lint_bytes
from mailgate.relay.testing import CaptureSink
from mailgate.state import PolicyState
from tests.conftest import text_of
from tests.relay.conftest import (
    FAIL_EML,
    PASS_EML,
    PASS_RCPTS,
    SENDER,
    WARN_EML,
    WARN_RCPTS,
    Harness,
    example,
)


def send(port: int, data: bytes, rcpts: list[str], sender: str = SENDER, **kw: object) -> dict[str, tuple[int, bytes]]:
    """smtplib conversation; the example files have LF endings, the wire has CRLF."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
        return c.sendmail(sender, rcpts, crlf(data), **kw)  # type: ignore[arg-type]


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def mails(sink: CaptureSink, report: bool = False) -> list[email.message.Message]:
    out = [email.message_from_bytes(m.data) for m in sink.messages]
    return [m for m in out if (m.get("X-Mailgate-Report") is not None) == report]


def attachments(mail: email.message.Message) -> dict[str, bytes]:
    return {str(p.get_filename()): p.get_payload(decode=True) for p in mail.walk() if p.get_filename()}  # type: ignore[misc]


def test_pass_is_delivered_unchanged(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    data = example(PASS_EML)
    assert send(h.port, data, PASS_RCPTS) == {}
    assert len(sink.messages) == 1
    got = sink.messages[0]
    assert got.data == crlf(data)
    assert got.rcpt_tos == PASS_RCPTS and got.mail_from == SENDER
    [audit] = h.audit()
    assert (audit.verdict, audit.action, audit.smtp_code, audit.sender) == ("pass", "deliver", 250, SENDER)
    assert audit.recipients == PASS_RCPTS and audit.latency_ms > 0


def test_fail_is_rejected_with_ascii_findings(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(h.port, example(FAIL_EML), PASS_RCPTS)
    assert err.value.smtp_code == 550
    text = err.value.smtp_error
    assert text.isascii()
    lines = text.decode().split("\n")
    assert all(line.startswith("5.7.1 ") for line in lines)
    assert any("[action-items]" in line and "fix:" in line for line in lines)
    [audit] = h.audit()
    assert lines[-1] == f"5.7.1 Full report: http://127.0.0.1:8025/reports/{audit.id}"
    assert (audit.verdict, audit.action, audit.smtp_code) == ("fail", "reject", 550)
    assert "action-items" in audit.findings and audit.report is not None
    assert sink.messages == []


def test_reject_is_chinese_for_smtputf8_clients(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(h.port, example(FAIL_EML), PASS_RCPTS, mail_options=["SMTPUTF8"])
    text = err.value.smtp_error.decode("utf-8")
    assert err.value.smtp_code == 550
    assert "邮件未发送" in text and "[action-items]" in text and "建议" in text
    assert all(len(line.encode()) < 512 for line in text.split("\n"))


def test_reject_lists_at_most_ten_findings(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    bad = crlf(
        "From: 李娜 <lina@demo.example.cn>\nTo: x@demo.example.cn, x@demo.example.cn\nSubject: 急\n"
        "Date: Wed, 18 Nov 2026 10:00:00 +0800\n\n据说 听说 网传 可能 也许 大概 尽快 一些 若干！！？？ 见附件\n"
        "增长 30% 密码：abc123 垃圾 是不是傻\n".encode()
    )
    n = len(lint_bytes(bad, h.policy).findings)
    assert n > 10
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(h.port, bad, ["x@demo.example.cn"])
    lines = err.value.smtp_error.decode().split("\n")
    assert sum(1 for line in lines if line.startswith("5.7.1 [")) == 10
    assert f"{n - 10} more in the full report" in err.value.smtp_error.decode()


def test_warn_is_advised_with_a_report_mail(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    assert send(h.port, example(WARN_EML), WARN_RCPTS) == {}
    assert h.wait_for(lambda: len(sink.messages) == 2)
    [delivered] = mails(sink)
    assert delivered.get("X-Mailgate-Verdict") is None
    [report] = mails(sink, report=True)
    report_env = next(m for m in sink.messages if b"X-Mailgate-Report" in m.data)
    assert report_env.rcpt_tos == [SENDER]
    assert report["Auto-Submitted"] == "auto-generated"
    body = text_of(report)
    assert "action-item-deadline" in body and "建议" in body and "完整报告" in body
    [audit] = h.audit()
    assert (audit.verdict, audit.action) == ("warn", "advise")


def test_an_advised_mail_with_safe_fixes_gets_the_corrected_draft(
    start_relay: Callable[..., Harness], sink: CaptureSink
) -> None:
    h = start_relay(policy={"pass": "advise", "warn": "advise"})
    data = example("typography/bad.eml")
    assert send(h.port, data, ["zhaoqiang@demo.example.cn"]) == {}
    assert h.wait_for(lambda: len(sink.messages) == 2)
    [delivered] = mails(sink)
    assert delivered.as_bytes() and crlf(data) in [m.data for m in sink.messages]  # delivered unchanged
    [report] = mails(sink, report=True)
    text = text_of(report)
    assert "按规范自动修正后的草稿" in text and "中文与英文、数字之间" in text  # what was corrected
    # the draft: the spacing, the full-width punctuation and the doubled comma corrected
    assert "今天 18:00-19:00 门禁系统升级，期间请走 1 楼东侧临时通道。" in text
    assert "，，" not in text.split("———— 修正稿 ————")[1]
    assert attachments(report) == {}  # already delivered: nothing to resend


def test_no_draft_without_safe_fixes(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    report_findings = lint_bytes(example(WARN_EML), h.policy).findings
    assert not any(f.fix is not None and f.fix.applicability.value == "safe" for f in report_findings)
    send(h.port, example(WARN_EML), WARN_RCPTS)
    assert h.wait_for(lambda: len(sink.messages) == 2)
    [report] = mails(sink, report=True)
    assert "修正稿" not in text_of(report) and not report.is_multipart()


def test_report_mails_are_rate_limited(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay(relay={"report_rate": 1})
    for _ in range(3):
        send(h.port, example(WARN_EML), WARN_RCPTS)
    assert h.wait_for(lambda: len(sink.messages) >= 4)
    h.wait_for(lambda: False, timeout=0.3)
    assert len(mails(sink)) == 3 and len(mails(sink, report=True)) == 1


def test_no_report_mail_for_auto_submitted(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    data = b"Auto-Submitted: auto-replied\r\n" + crlf(example(WARN_EML))
    send(h.port, data, WARN_RCPTS)
    h.wait_for(lambda: False, timeout=0.5)
    assert len(sink.messages) == 1 and not mails(sink, report=True)


def test_annotate_adds_headers(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay(policy={"warn": "annotate"})
    forged = b"X-Mailgate-Verdict: pass\r\n" + crlf(example(WARN_EML))
    send(h.port, forged, WARN_RCPTS)
    [m] = mails(sink)
    [audit] = h.audit()
    assert m.get_all("X-Mailgate-Verdict") == [f"warn; id={audit.id}"]
    assert "action-item-deadline" in m["X-Mailgate-Findings"]
    assert audit.action == "annotate"
    assert not mails(sink, report=True)


def test_monitor_delivers_and_logs_only(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay(policy={"fail": "monitor"})
    send(h.port, example(FAIL_EML), PASS_RCPTS)
    h.wait_for(lambda: False, timeout=0.3)
    assert len(sink.messages) == 1 and sink.messages[0].data == crlf(example(FAIL_EML))
    [audit] = h.audit()
    assert (audit.verdict, audit.action, audit.source) == ("fail", "monitor", "policy")


def test_department_and_sender_layers(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    person = start_relay().policy.directory.by_email(SENDER)
    assert person is not None
    h = start_relay(
        policy={"departments": {person.department: {"fail": "monitor"}}, "senders": {"other@demo.example.cn": {}}}
    )
    send(h.port, example(FAIL_EML), PASS_RCPTS)
    [audit] = h.audit()
    assert (audit.action, audit.source) == ("monitor", f"department:{person.department}")


def test_hold_stores_in_quarantine(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay(policy={"fail": "hold"})
    with smtplib.SMTP("127.0.0.1", h.port) as c:
        c.ehlo()
        c.mail(SENDER)
        for r in PASS_RCPTS:
            c.rcpt(r)
        code, msg = c.data(crlf(example(FAIL_EML)))
    assert code == 250 and b"held for review" in msg
    [held] = h.store.quarantine()
    assert held.rcpt_to == PASS_RCPTS and held.data == crlf(example(FAIL_EML))
    assert "action-items" in held.findings
    assert h.wait_for(lambda: len(sink.messages) == 1)
    [report] = mails(sink, report=True)
    text = text_of(report)
    assert "暂存" in text
    assert not mails(sink)
    # the release link in the report mail opens the held-message page of the API on the same store
    link = re.search(r"审核与放行：(\S+)", text)
    assert link is not None and link.group(1).endswith(f"/quarantine/{held.id}")
    # the safe fixes (typography) give a corrected draft: inline, and attached to resend
    assert "按规范自动修正后的草稿" in text and "———— 修正稿 ————" in text
    fixed = attachments(report)["修正稿.eml"]
    assert fixed != held.data
    typography = [f for f in lint_bytes(held.data, h.policy).findings if f.check == "typography"]
    assert typography and not [f for f in lint_bytes(fixed, h.policy).findings if f.check == "typography"]
    assert "标题：【通知】本周六办公区电力检修安排通知" in text
    [audit] = h.audit()
    assert all(f["en"]["message"] for f in audit.report["findings"])  # the pages show English too
    state = PolicyState(h.policy, h.store)
    with TestClient(build_app(state, h.store, ApiSettings(), poll=False)) as client:
        page = client.get(urlsplit(link.group(1)).path)
    assert page.status_code == 200 and "暂存中，等待管理员审核" in page.text


def test_override_delivers_a_rejected_mail(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    data = crlf(example(FAIL_EML)).replace(
        "Subject: 【通知】本周六办公区电力检修安排通知".encode(),
        "Subject: 【通知】本周六办公区电力检修安排通知 [override: 客户今天必须收到]".encode(),
    )
    assert b"override" in data
    assert send(h.port, data, PASS_RCPTS) == {}
    [m] = mails(sink)
    from email.header import decode_header, make_header

    subject = str(make_header(decode_header(m["Subject"])))
    assert subject == "【通知】本周六办公区电力检修安排通知"
    [audit] = h.audit()
    assert (audit.verdict, audit.action, audit.override_reason, audit.override_by) == (
        "fail", "deliver", "客户今天必须收到", SENDER
    )


def test_format_applies_safe_fixes(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay(policy={"format": True})
    data = example("typography/bad.eml")
    before = lint_bytes(data, h.policy)
    assert any(f.check == "typography" and f.fix for f in before.findings)
    rcpts = [a.email for a in before.message.recipients] if before.message else []
    send(h.port, data, rcpts)
    [got] = sink.messages
    assert got.data != crlf(data)
    after = lint_bytes(got.data, h.policy)
    assert len([f for f in after.findings if f.check == "typography"]) < len(
        [f for f in before.findings if f.check == "typography"]
    )


def test_outbox_when_no_upstream(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay(upstream=False)
    assert send(h.port, example(PASS_EML), PASS_RCPTS) == {}
    [entry] = h.store.outbox()
    assert entry.kind == "mail" and entry.rcpt_to == PASS_RCPTS and entry.data == crlf(example(PASS_EML))
    assert sink.messages == []
