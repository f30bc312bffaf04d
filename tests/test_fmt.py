"""`mailgate format`: safe fixes applied, MIME structure and every other byte kept."""

from __future__ import annotations

import email
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailgate.cli import main
from mailgate.fmt import format_bytes
from mailgate.lint import lint_bytes
from mailgate.mimebytes import locate
from mailgate.policy import Policy
from tests.conftest import EXAMPLES, build_eml

BULLETS = (
    "王芳：\n\n本周系统升级的安排如下，请各位同事提前做好准备并通知到各自团队：\n"
    "- 周五晚上22:00开始停机维护，预计持续两个小时左右完成全部操作\n"
    "- 维护期间订单系统和客服系统均不可用，请提前告知重点客户\n"
    "- 升级完成后由技术部发送验证结果邮件，各部门按清单完成验证\n\n"
    "行动项：\n1. 通知重点客户停机安排；负责人：王芳；截止时间：11月20日18:00前。\n\n李娜\n运营部\n"
)


def multipart(subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "李娜 <lina@demo.example.cn>"
    msg["To"] = "王芳 <wangfang@demo.example.cn>"
    msg["Subject"] = subject
    msg["Date"] = "Wed, 18 Nov 2026 10:00:00 +0800"
    msg.set_content(body, charset="gbk", cte="base64")
    html = "<html><body>" + "".join(f"<div>{ln or '<br>'}</div>" for ln in body.split("\n")) + "</body></html>"
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    msg.add_attachment(b"%PDF-1.4 test\x00\x01\x02", maintype="application", subtype="pdf", filename="计划.pdf")
    return bytes(msg)


def fired(raw: bytes, policy: Policy) -> set[str]:
    return {f.check for f in lint_bytes(raw, policy).findings}


def parts(raw: bytes) -> list[email.message.Message]:
    return [p for p in email.message_from_bytes(raw, policy=email_policy.compat32).walk() if not p.is_multipart()]


def test_fixes_subject_tag_and_bullets_in_both_text_parts(demo_policy: Policy) -> None:
    raw = multipart("[通知]系统升级停机安排说明", BULLETS)
    assert {"subject-tag", "body-numbered"} <= fired(raw, demo_policy)
    result = format_bytes(raw, demo_policy)
    assert result.error is None and result.changed
    after = fired(result.data, demo_policy)
    assert "subject-tag" not in after and "body-numbered" not in after
    new_parts = parts(result.data)
    plain, html = new_parts[0], new_parts[1]
    assert plain.get_content_charset() == "gbk"
    assert plain["Content-Transfer-Encoding"] == "base64"
    assert "1. 周五晚上" in plain.get_payload(decode=True).decode("gbk")
    assert html["Content-Transfer-Encoding"] == "quoted-printable"
    assert "1. 周五晚上" in html.get_payload(decode=True).decode("utf-8")


def test_every_other_byte_is_identical(demo_policy: Policy) -> None:
    raw = multipart("[通知]系统升级停机安排说明", BULLETS)
    result = format_bytes(raw, demo_policy)
    before, after = locate(raw), locate(result.data)
    assert [s.path for s in before] == [s.path for s in after]
    attachment_before = raw[before[-1].header_start : before[-1].body_end]
    attachment_after = result.data[after[-1].header_start : after[-1].body_end]
    assert attachment_before == attachment_after
    for b, a in zip(before, after, strict=True):  # part headers untouched
        assert raw[b.header_start : b.header_end] == result.data[a.header_start : a.header_end]
    head_before = raw.split(b"\n\n", 1)[0].splitlines()
    head_after = result.data.split(b"\n\n", 1)[0].splitlines()
    assert [h for h in head_before if not h.startswith(b"Subject")] == [
        h for h in head_after if not h.startswith(b"Subject")
    ]


def test_urgent_gets_the_importance_header(demo_policy: Policy) -> None:
    raw = build_eml(subject="【紧急】支付接口故障处理通报", body="各位：\n\n支付接口故障，请立即处理。\n")
    assert "urgent-priority" in fired(raw, demo_policy)
    result = format_bytes(raw, demo_policy)
    assert b"\nImportance: high" in result.data
    assert "urgent-priority" not in fired(result.data, demo_policy)


def test_format_is_idempotent(demo_policy: Policy) -> None:
    raw = multipart("[通知]系统升级停机安排说明", BULLETS)
    once = format_bytes(raw, demo_policy).data
    twice = format_bytes(once, demo_policy)
    assert twice.data == once
    assert not twice.changed


def test_unlintable_message_is_left_alone(demo_policy: Policy) -> None:
    raw = b"From: a@demo.example.cn\r\n" + b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" * 300
    result = format_bytes(raw, demo_policy)
    assert result.data == raw
    assert result.error


def test_cli_write_rewrites_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "draft.eml"
    path.write_bytes(build_eml(subject="［通知］系统升级停机安排说明", body="各位：\n\n见下文。\n"))
    assert main(["format", "--config", str(EXAMPLES / "mailgate.toml"), "--write", str(path)]) == 0
    assert "【通知】系统升级停机安排说明" in email.message_from_bytes(
        path.read_bytes(), policy=email_policy.default
    )["Subject"]


SHARED_DEV = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev"


@pytest.mark.skipif(not SHARED_DEV.is_dir(), reason="../shared/corpus/dev is not beside the repo")
def test_format_over_the_dev_corpus_leaves_no_safe_fix_and_adds_no_finding() -> None:
    from mailgate.model import Applicability
    from mailgate.policy import load_policy

    policy = load_policy(SHARED_DEV.parent / "mailgate.toml", env={})
    changed = 0
    for path in sorted(SHARED_DEV.glob("*.eml")):
        raw = path.read_bytes()
        result = format_bytes(raw, policy)
        assert result.error is None, (path.name, result.error)
        changed += result.changed
        before = {f.check for f in lint_bytes(raw, policy).findings}
        after = lint_bytes(result.data, policy).findings
        assert not [f.check for f in after if f.fix and f.fix.applicability is Applicability.SAFE], path.name
        assert {f.check for f in after} <= before, path.name
    assert changed >= 50
