"""Structure family: body-numbered, attachment-missing, body-layout."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from mailgate.lint import lint_bytes
from mailgate.model import Applicability, Finding, Report
from mailgate.policy import Policy
from tests.conftest import build_eml, fired

Lint = Callable[..., Report]

PROSE = (
    "会员中心第一轮功能测试已在测试环境完成，覆盖登录、积分、订单三个模块。登录成功后头像需要手动刷新页面才会显示，"
    "积分为0的账户仍显示立即兑换按钮，点击后才提示积分不足，订单列表在部分安卓机型上出现文字重叠，这三个问题都会影响会员日活动的用户体验，需要在活动开始前修复并完成回归验收。"
)
ACTION = "\n\n行动项：\n1. 修复以上问题；负责人：赵强；截止时间：11月24日前。\n\n李娜\n运营部\n"
POINTS = (
    "1. 登录成功后头像需要手动刷新页面才会显示，用户容易误以为登录失败。\n"
    "2. 积分为0的账户仍显示“立即兑换”按钮，点击后才提示积分不足。\n"
    "3. 订单列表在部分安卓机型上出现文字重叠，影响阅读。\n"
)
CC = "赵强 <zhaoqiang@demo.example.cn>"


def of(report: Report, check_id: str) -> list[Finding]:
    return [f for f in report.findings if f.check == check_id]


def apply_fixes(body: str, findings: list[Finding]) -> str:
    edits = sorted((e for f in findings if f.fix for e in f.fix.edits), key=lambda e: e.start, reverse=True)
    for e in edits:
        assert e.field == "body"
        body = body[: e.start] + e.text + body[e.end :]
    return body


# --- body-numbered


def test_numbered_body_passes(lint: Lint) -> None:
    report = lint(body="王芳：\n\n测试发现的问题如下：\n" + POINTS + ACTION, cc=CC)
    assert "body-numbered" not in fired(report)


def test_prose_body_fires(lint: Lint) -> None:
    report = lint(body="王芳：\n\n" + PROSE + ACTION, cc=CC)
    (finding,) = of(report, "body-numbered")
    assert finding.severity.value == "warning"
    assert finding.fix is None
    body = report.message.body  # type: ignore[union-attr]
    assert body[finding.start : finding.end].startswith("会员中心第一轮")
    assert "1." in finding.suggestion.zh


def test_short_prose_is_fine(lint: Lint) -> None:
    report = lint(body="王芳：\n\n测试环境今晚20:00重启，预计十分钟恢复，请提前保存工作。" + ACTION, cc=CC)
    assert "body-numbered" not in fired(report)


def test_list_only_in_the_action_section_does_not_count(lint: Lint) -> None:
    action = "\n\n行动项：\n1. 修复登录问题；负责人：赵强。\n2. 回归验收；负责人：李娜。\n\n李娜\n运营部\n"
    report = lint(body="王芳：\n\n" + PROSE + action, cc=CC)
    assert "body-numbered" in fired(report)


def test_bullets_fire_with_a_safe_numbering_fix(lint: Lint) -> None:
    bullets = POINTS.replace("1. ", "- ").replace("2. ", "- ").replace("3. ", "- ")
    report = lint(body="王芳：\n\n" + PROSE + "\n问题如下：\n" + bullets + ACTION, cc=CC)
    (finding,) = of(report, "body-numbered")
    assert "项目符号" in finding.message.zh
    assert finding.fix is not None and finding.fix.applicability is Applicability.SAFE
    fixed = apply_fixes(report.message.body, [finding])  # type: ignore[union-attr]
    assert POINTS in fixed


@pytest.mark.parametrize("bullet", ["•", "·"])
def test_other_bullets_are_not_numbering(lint: Lint, bullet: str) -> None:
    bullets = "".join(f"{bullet} {line[3:]}\n" for line in POINTS.splitlines())
    report = lint(body="王芳：\n\n" + PROSE + "\n问题如下：\n" + bullets + ACTION, cc=CC)
    assert any("项目符号" in f.message.zh for f in of(report, "body-numbered"))


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (
            "1、甲方案已评审。\n2、乙方案已评审。\n4、丙方案待评审。\n",
            "1、甲方案已评审。\n2、乙方案已评审。\n3、丙方案待评审。\n",
        ),
        ("1. 甲。\n2. 乙。\n2. 丙。\n3. 丁。\n", "1. 甲。\n2. 乙。\n3. 丙。\n4. 丁。\n"),
        ("1. 甲。\n2. 乙。\n3、丙。\n4）丁。\n", "1. 甲。\n2. 乙。\n3. 丙。\n4. 丁。\n"),
        ("一、甲。\n二、乙。\n二、丙。\n", "一、甲。\n二、乙。\n三、丙。\n"),
    ],
)
def test_broken_numbering_fires_and_renumbers(lint: Lint, points: str, expected: str) -> None:
    report = lint(body="王芳：\n\n" + PROSE + "\n\n" + points + ACTION, cc=CC)
    (finding,) = of(report, "body-numbered")
    assert finding.fix is not None and finding.fix.applicability is Applicability.SAFE
    body = report.message.body  # type: ignore[union-attr]
    assert expected in apply_fixes(body, [finding])
    assert body[finding.start : finding.end] in points


def test_skip_in_the_action_items_fires(lint: Lint) -> None:
    action = "\n\n行动项：\n1. 修复登录问题；负责人：赵强。\n3. 回归验收；负责人：李娜。\n\n李娜\n运营部\n"
    report = lint(body="王芳：\n\n问题如下：\n" + POINTS + action, cc=CC)
    assert "body-numbered" in fired(report)


def test_levels_and_restarts_are_not_violations(lint: Lint) -> None:
    body = (
        "王芳：\n\n测试环境使用规则将做以下调整：\n\n"
        "一、申请方式：\n1. 通过工单系统提交申请。\n2. 申请单需写明使用时段与负责人。\n"
        "二、回收规则：\n1. 连续7天未使用的测试环境自动回收。\n2. 回收前一天发送提醒邮件。\n"
        "三、生效日期：2026年12月1日起执行。\n\n"
        "复盘结论：\n1. 规则需要提前一周通知。\n2. 工单模板需要更新。\n" + ACTION
    )
    report = lint(body=body, cc=CC)
    assert "body-numbered" not in fired(report)


def test_short_reply_is_exempt_long_reply_is_not(lint: Lint) -> None:
    quoted = "\n\n-----原始邮件-----\n发件人: 王芳\n发送时间: 2026年11月17日\n收件人: 李娜\n主题: 问题\n\n" + PROSE * 3
    short = lint(subject="Re: 【问题反馈】会员中心测试问题反馈", body="收到，今天处理。\n\n李娜\n运营部" + quoted)
    assert "body-numbered" not in fired(short)
    long = lint(subject="Re: 【问题反馈】会员中心测试问题反馈", body="王芳：\n\n" + PROSE * 2 + ACTION + quoted, cc=CC)
    assert "body-numbered" in fired(long)


def test_min_chars_is_a_param(demo_policy: Policy) -> None:
    policy = demo_policy.with_check("body-numbered", min_chars=1000)
    report = lint_bytes(build_eml(body="王芳：\n\n" + PROSE + ACTION, cc=CC), policy)
    assert "body-numbered" not in fired(report)


def test_external_mail_is_not_checked_for_numbering(lint: Lint) -> None:
    report = lint(to="Partner <p@partner.example.net>", body="您好：\n\n" + PROSE + "\n\n李娜\n运营部\n")
    assert "body-numbered" not in fired(report)


# --- attachment-missing


def test_mention_without_attachment_fires(lint: Lint) -> None:
    report = lint(body="王芳：\n\n数据核对报告已完成，详见附件。\n" + POINTS + ACTION, cc=CC)
    (finding,) = of(report, "attachment-missing")
    assert finding.severity.value == "error"
    assert report.message.body[finding.start : finding.end] == "详见附件"  # type: ignore[union-attr]


def test_mention_with_attachment_passes(lint: Lint) -> None:
    report = lint(
        body="王芳：\n\n数据核对报告已完成，详见附件。\n" + POINTS + ACTION,
        cc=CC,
        attachments=[("报告.pdf", b"%PDF-1.4 ...")],
    )
    assert "attachment-missing" not in fired(report)


def test_empty_attachment_fires(lint: Lint) -> None:
    report = lint(body="王芳：\n\n附上报名名单。\n" + POINTS + ACTION, cc=CC, attachments=[("名单.xlsx", b"")])
    (finding,) = of(report, "attachment-missing")
    assert finding.field == "attachments"
    assert "名单.xlsx" in finding.message.zh


@pytest.mark.parametrize(
    "sentence",
    [
        "附件是更新后的名单。",
        "随信附上报价单。",
        "请查收附件。",
        "名单已作为附件发送。",
        "Please see the attached file.",
        "附：报名名单。",
    ],
)
def test_mention_forms(lint: Lint, sentence: str) -> None:
    report = lint(body=f"王芳：\n\n{sentence}\n" + POINTS + ACTION, cc=CC)
    assert "attachment-missing" in fired(report)


@pytest.mark.parametrize(
    "sentence",
    [
        "本邮件无附件，明细见共享盘。",
        "附件稍后单独发送。",
        "用户反馈工单附件上传失败。",
        "上传附件时提示文件过大。",
        "报销时请附上发票原件。",
        "No attachment this time.",
    ],
)
def test_negated_or_topical_mentions_pass(lint: Lint, sentence: str) -> None:
    report = lint(body=f"王芳：\n\n{sentence}\n" + POINTS + ACTION, cc=CC)
    assert "attachment-missing" not in fired(report)


def test_mention_in_quoted_text_does_not_count(lint: Lint) -> None:
    body = "收到，谢谢。\n\n李娜\n运营部\n\n在 2026年11月17日 王芳 写道：\n> 详见附件。\n> 附上名单。\n"
    report = lint(subject="Re: 【通知】报名名单确认", body=body)
    assert "attachment-missing" not in fired(report)


def test_external_mail_is_checked_for_attachments(lint: Lint) -> None:
    report = lint(to="Partner <p@partner.example.net>", body="您好：\n\n合作方案详见附件。\n\n李娜\n运营部\n")
    assert "attachment-missing" in fired(report)


# --- body-layout


def test_long_paragraph_fires(lint: Lint) -> None:
    report = lint(body="王芳：\n\n" + PROSE * 3 + "\n\n" + POINTS + ACTION, cc=CC)
    findings = of(report, "body-layout")
    assert [f.severity.value for f in findings] == ["info"]
    assert "段落过长" in findings[0].message.zh


def test_list_items_are_separate_paragraphs(lint: Lint) -> None:
    points = "".join(f"{i}. {PROSE}\n" for i in range(1, 4))
    report = lint(body="王芳：\n\n" + points + ACTION, cc=CC)
    assert "body-layout" not in fired(report)


def test_long_body_needs_an_attachment(lint: Lint) -> None:
    points = "\n\n".join(f"{i}. {PROSE}" for i in range(1, 12))
    body = "王芳：\n\n" + points + ACTION
    assert any("没有附件" in f.message.zh for f in of(lint(body=body, cc=CC), "body-layout"))
    with_file = lint(body=body, cc=CC, attachments=[("对比表.xlsx", b"data")])
    assert "body-layout" not in fired(with_file)


def test_blank_lines_are_collapsed(lint: Lint) -> None:
    report = lint(body="王芳：\n\n\n\n测试发现的问题如下：\n" + POINTS + ACTION, cc=CC)
    (finding,) = of(report, "body-layout")
    assert "3个空行" in finding.message.zh
    assert finding.fix is not None and finding.fix.applicability is Applicability.SAFE
    assert apply_fixes(report.message.body, [finding]).startswith("王芳：\n\n测试发现")  # type: ignore[union-attr]


def test_two_blank_lines_and_quoted_lines_are_fine(lint: Lint) -> None:
    body = "王芳：\n\n\n测试发现的问题如下：\n" + POINTS + ACTION + "\n在 2026年11月17日 王芳 写道：\n>\n>\n>\n> 原文\n"
    report = lint(subject="Re: 【问题反馈】会员中心测试问题反馈", body=body, cc=CC)
    assert "body-layout" not in fired(report)


# --- linear time (timing is measured by hand / in bench/; here only the result shape)


def test_hundred_thousand_bullets_lint(lint: Lint) -> None:
    started = time.monotonic()
    report = lint(body="- a\n" * 100_000)
    assert report.error is None
    (finding,) = of(report, "body-numbered")
    assert finding.fix is None  # too many markers for an automatic fix
    assert time.monotonic() - started < 30  # a hang guard, not a benchmark


def test_one_megabyte_single_line_lint(lint: Lint) -> None:
    started = time.monotonic()
    report = lint(body="测试内容，详见附件" + "测试内容，" * 200_000)
    assert report.error is None
    assert {"body-numbered", "attachment-missing", "body-layout"} <= fired(report)
    assert time.monotonic() - started < 30  # a hang guard, not a benchmark


def test_forwarded_message_part_is_not_an_empty_file(lint: Lint) -> None:
    raw = (
        "From: 李娜 <lina@demo.example.cn>\r\nTo: 王芳 <wangfang@demo.example.cn>\r\n"
        "Subject: 【通知】转发原邮件说明\r\nDate: Wed, 18 Nov 2026 10:00:00 +0800\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
        "王芳：原邮件见附件。\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n\r\n--b--\r\n"
    ).encode()
    assert "attachment-missing" not in fired(lint(raw))


def test_blank_lines_of_html_text_are_not_reported(lint: Lint) -> None:
    html = "<div>王芳：</div><div><br></div><div><br></div><div><br></div><div><br></div><p>测试发现的问题如下：</p>"
    raw = (
        "From: 李娜 <lina@demo.example.cn>\r\nTo: 王芳 <wangfang@demo.example.cn>\r\n"
        "Subject: 【通知】测试问题说明\r\nDate: Wed, 18 Nov 2026 10:00:00 +0800\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n"
    ).encode()
    report = lint(raw)
    assert report.message is not None and report.message.body_is_html
    assert not any("空行" in f.message.zh for f in of(report, "body-layout"))
