"""The actions family: action-items, action-item-owner, action-item-deadline, action-owner-recipient.

Messages are built for the demo organisation (checks/examples/directory.csv): the sender is
李娜 (运营部), the default To is 王芳 (head of 运营部), Date is Wed 2026-11-18 10:00 +08:00.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mailgate.model import Applicability, Finding, Report, Severity
from tests.conftest import fired
from tests.scaling import growth

Lint = Callable[..., Report]

INTRO = "王芳：\n\n本周的工作安排如下，请知悉。\n\n"
CLOSING = "\n谢谢！\n李娜\n运营部\n"


def body(*items: str, heading: str = "行动项：", after: str = "") -> str:
    lines = "\n".join(f"{i}. {text}" for i, text in enumerate(items, 1))
    return f"{INTRO}{heading}\n{lines}\n{after}{CLOSING}"


OK_ITEM = "整理需求清单；负责人：王芳；截止时间：11月20日前。"


def findings(report: Report, check_id: str) -> list[Finding]:
    return [f for f in report.findings if f.check == check_id]


# --------------------------------------------------------------------------- action-items


def test_compliant_message_fires_nothing(lint: Lint) -> None:
    report = lint(body=body(OK_ITEM, "准备评审材料；负责人：李娜；截止时间：本周五18:00前。"))
    assert not fired(report) & {"action-items", "action-item-owner", "action-item-deadline", "action-owner-recipient"}


def test_no_action_section(lint: Lint) -> None:
    report = lint(body=INTRO + "1. 周五下午进行系统升级。\n2. 升级期间暂停发布。\n" + CLOSING)
    (f,) = findings(report, "action-items")
    assert f.severity is Severity.ERROR
    assert "行动项" in f.suggestion.zh and "王芳" in f.suggestion.zh  # a recipient as the example owner
    assert "11月20日（周五）18:00前" in f.suggestion.zh  # a deadline computed from Date


@pytest.mark.parametrize(
    "heading", ["行动项：", "【行动项】", "Action Items:", "ActionItems：", "待办事项", "下一步计划：", "任务分工："]
)
def test_heading_variants(lint: Lint, heading: str) -> None:
    assert "action-items" not in fired(lint(body=body(OK_ITEM, heading=heading)))


def test_text_after_the_items(lint: Lint) -> None:
    report = lint(body=body(OK_ITEM, after="\n另外，上周的问题还请大家再看一下原因。\n"))
    (f,) = findings(report, "action-items")
    assert "不在正文结尾" in f.message.zh
    assert report.message is not None
    assert report.message.body[f.start : f.end].startswith("另外")


def test_heading_without_items(lint: Lint) -> None:
    report = lint(body=INTRO + "1. 周五下午进行系统升级。\n2. 升级期间暂停发布。\n\n行动项：\n" + CLOSING)
    assert "action-items" in fired(report)


def test_short_reply_is_exempt(lint: Lint) -> None:
    report = lint(subject="Re: 【通知】测试邮件发送安排说明", body="收到，谢谢！\n李娜\n")
    assert "action-items" not in fired(report)


def test_long_reply_is_not_exempt(lint: Lint) -> None:
    text = "关于上线安排，我这边补充几点意见，供大家参考。" * 12
    report = lint(subject="Re: 【通知】测试邮件发送安排说明", body=f"王芳：\n\n{text}\n{CLOSING}")
    assert "action-items" in fired(report)


def test_external_mail_is_not_checked(lint: Lint) -> None:
    report = lint(to="Partner <bob@partner.example.net>", body="Bob:\n\nPlease see the plan below.\n" + CLOSING)
    assert "action-items" not in fired(report)


# --------------------------------------------------------------------------- action-item-owner


@pytest.mark.parametrize(
    "item",
    [
        "整理需求；负责人：王芳；截止时间：11月20日前。",
        "整理需求；责任人：王芳；截止时间：11月20日前。",
        "整理需求；Owner: Na Li；截止时间：11月20日前。",  # an alias
        "@王芳 整理需求，截止时间：11月20日前。",
        "由王芳牵头整理需求，截止时间：11月20日前。",
        "整理需求，由技术部陈明跟进，截止时间：11月20日前。",
        "王芳负责整理需求，11月20日前完成。",
        "整理需求（王芳），截止时间：11月20日前。",
        "请王芳整理需求，截止时间：11月20日前。",
        "整理需求；负责人：王芳、赵强；截止时间：11月20日前。",
        "整理需求；负责人：技术部陈明；截止时间：11月20日前。",
        "整理需求；负责人：张三；截止时间：11月20日前。",  # explicit: whoever it is
        "整理需求；负责人 王芳；截止时间：11月20日前。",
        "整理需求，负责人为王芳，截止时间：11月20日前。",
        "王芳：整理需求，截止时间：11月20日前。",
        "整理需求；Owner: Wang Fang；截止时间：11月20日前。",  # alias written the other way round
        "整理需求；负责人：本人；截止时间：11月20日前。",  # the sender
    ],
)
def test_owner_forms(lint: Lint, item: str) -> None:
    assert "action-item-owner" not in fired(lint(body=body(OK_ITEM, item), cc="赵强 <zhaoqiang@demo.example.cn>"))


@pytest.mark.parametrize(
    ("item", "group"),
    [
        ("更新知识库；负责人：客服部；截止时间：11月20日前。", "客服部"),
        ("更新知识库；@客服部；截止时间：11月20日前。", "客服部"),
        ("更新知识库，由技术部跟进；截止时间：11月20日前。", "技术部"),
        ("更新知识库，客服部负责，11月20日前完成。", "客服部"),
        ("更新知识库；负责人：各组长；截止时间：11月20日前。", "各组长"),
        ("更新知识库；负责人：质检组；截止时间：11月20日前。", "质检组"),
    ],
)
def test_department_is_not_an_owner(lint: Lint, item: str, group: str) -> None:
    report = lint(body=body(OK_ITEM, item))
    (f,) = findings(report, "action-item-owner")
    assert f.severity is Severity.ERROR
    assert group in f.message.zh
    assert report.message is not None and report.message.body[f.start : f.end] == group


def test_department_suggests_its_head(lint: Lint) -> None:
    (f,) = findings(lint(body=body("更新知识库；负责人：客服部；截止时间：11月20日前。")), "action-item-owner")
    assert "高燕" in f.suggestion.zh and "gaoyan@demo.example.cn" in f.suggestion.zh


@pytest.mark.parametrize(
    "item",
    [
        "尽快启动角色改造。",
        "整理需求（技术部），截止时间：11月20日前。",  # a department in brackets
        "整理需求（下周），截止时间：11月20日前。",
        "整理王芳提出的需求，截止时间：11月20日前。",  # a name that is not an owner form
        "由于系统原因需要完成迁移，截止时间：11月20日前。",  # 由于 is not 由X完成
        "向各部门负责人同步调整内容，截止时间：11月20日前。",  # 负责人 without a value
        "整理需求；负责人 待定；截止时间：11月20日前。",
    ],
)
def test_item_without_owner(lint: Lint, item: str) -> None:
    report = lint(body=body(OK_ITEM, item))
    (f,) = findings(report, "action-item-owner")
    assert "第2条" in f.message.zh


# --------------------------------------------------------------------------- action-item-deadline


@pytest.mark.parametrize(
    "deadline",
    [
        "11月30日前", "2026-12-01", "2026年12月1日", "本周五18:00前", "明天下班前", "下周三前", "今天17:00前",
        "月底前", "3个工作日内", "11月24日18:00前", "周五下班前", "11/20前", "11 月 20 日前", "11/20", "11.20",
        "20号",
    ],
)  # fmt: skip
def test_resolvable_deadlines(lint: Lint, deadline: str) -> None:
    report = lint(body=body(f"整理需求；负责人：王芳；截止时间：{deadline}。"))
    assert "action-item-deadline" not in fired(report)


@pytest.mark.parametrize("word", ["尽快", "近期", "待定", "ASAP", "有空时", "稍后"])
def test_vague_deadline(lint: Lint, word: str) -> None:
    report = lint(body=body(OK_ITEM, f"整理需求；负责人：王芳；截止时间：{word}。"))
    (f,) = findings(report, "action-item-deadline")
    assert f.severity is Severity.WARNING
    assert word in f.message.zh
    assert "11月20日（周五）18:00前" in f.suggestion.zh  # Date (Wed) + 2 working days, absolute
    assert f.fix is not None and f.fix.applicability is Applicability.UNSAFE
    assert report.message is not None and report.message.body[f.start : f.end] == word


def test_vague_word_beside_a_firm_deadline(lint: Lint) -> None:
    report = lint(body=body("尽快整理需求，最晚11月20日前完成；负责人：王芳。"))
    assert "action-item-deadline" not in fired(report)


def test_missing_deadline(lint: Lint) -> None:
    report = lint(body=body(OK_ITEM, "完成接口自测；负责人：王芳。"))
    (f,) = findings(report, "action-item-deadline")
    assert "没有截止时间" in f.message.zh and "第2条" in f.message.zh
    assert f.fix is not None
    (edit,) = f.fix.edits
    assert edit.text == "；截止时间：11月20日（周五）18:00前"
    assert report.message is not None and report.message.body[edit.start - 2 : edit.start] == "王芳"


def test_unresolvable_labelled_deadline(lint: Lint) -> None:
    report = lint(body=body("完成接口自测；负责人：王芳；截止时间：下次会议前。"))
    (f,) = findings(report, "action-item-deadline")
    assert "下次会议前" in f.message.zh


@pytest.mark.parametrize("deadline", ["11月31日前", "2月30日", "13/25前", "13/45", "32号"])
def test_a_deadline_on_a_day_that_does_not_exist(lint: Lint, deadline: str) -> None:
    report = lint(body=body(f"整理需求；负责人：王芳；截止时间：{deadline}。"))
    (f,) = findings(report, "action-item-deadline")
    assert deadline in f.message.zh


def test_deadline_relative_to_an_event_does_not_resolve(lint: Lint) -> None:
    report = lint(body=body("提交报销；负责人：王芳；出差结束后10个工作日内完成。"))
    assert "action-item-deadline" in fired(report)


def test_deadline_suggestion_skips_the_weekend(lint: Lint) -> None:
    import datetime as dt

    friday = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    (f,) = findings(lint(body=body("完成自测；负责人：王芳。"), date=friday), "action-item-deadline")
    assert "11月24日（周二）18:00前" in f.suggestion.zh


# --------------------------------------------------------------------------- action-owner-recipient


def test_owner_not_a_recipient(lint: Lint) -> None:
    report = lint(body=body(OK_ITEM, "提供接口文档；负责人：刘毅；截止时间：11月20日前。"))
    (f,) = findings(report, "action-owner-recipient")
    assert f.severity is Severity.ERROR
    assert "liuyi@demo.example.cn" in f.suggestion.zh
    assert f.fix is not None and f.fix.applicability is Applicability.UNSAFE
    (edit,) = f.fix.edits
    assert edit.field == "cc" and "刘毅 <liuyi@demo.example.cn>" in edit.text


def test_owner_reported_once(lint: Lint) -> None:
    items = ("提供文档；负责人：刘毅；截止时间：11月20日前。", "联调；负责人：刘毅；截止时间：11月23日前。")
    assert len(findings(lint(body=body(*items)), "action-owner-recipient")) == 1


@pytest.mark.parametrize(
    ("item", "cc"),
    [
        ("提供文档；负责人：李娜；截止时间：11月20日前。", None),  # the sender
        ("提供文档；负责人：本人；截止时间：11月20日前。", None),  # the sender, as 本人
        ("提供文档；负责人：刘毅；截止时间：11月20日前。", "刘毅 <liuyi@demo.example.cn>"),
        ("提供文档；负责人：芳姐；截止时间：11月20日前。", None),  # alias of 王芳 (To)
        ("提供文档；负责人：Yi Liu；截止时间：11月20日前。", "liuyi@demo.example.cn"),
        ("提供文档；负责人：李军（lijun2@demo.example.cn）；截止时间：11月20日前。", "李军 <lijun2@demo.example.cn>"),
    ],
)
def test_owner_is_sender_or_recipient(lint: Lint, item: str, cc: str | None) -> None:
    assert "action-owner-recipient" not in fired(lint(body=body(item), cc=cc))


def test_ambiguous_owner_is_a_warning_even_when_both_are_recipients(lint: Lint) -> None:
    report = lint(
        body=body("核对工单；负责人：李军；截止时间：11月20日前。"),
        cc="李军 <lijun@demo.example.cn>, 李军 <lijun2@demo.example.cn>",
    )
    (f,) = findings(report, "action-owner-recipient")
    assert f.severity is Severity.WARNING
    assert "lijun@demo.example.cn" in f.message.zh and "lijun2@demo.example.cn" in f.message.zh


def test_unknown_owner_is_a_warning(lint: Lint) -> None:
    (f,) = findings(lint(body=body("提供文档；负责人：张三；截止时间：11月20日前。")), "action-owner-recipient")
    assert f.severity is Severity.WARNING and "张三" in f.message.zh


def test_implicit_owner_is_checked_too(lint: Lint) -> None:
    report = lint(body=body("刘毅负责提供文档，11月20日前完成。"))
    assert "action-owner-recipient" in fired(report)


def test_department_owner_is_not_a_recipient_problem(lint: Lint) -> None:
    report = lint(body=body("提供文档；负责人：技术部；截止时间：11月20日前。"))
    assert "action-owner-recipient" not in fired(report)


# --------------------------------------------------------------------------- robustness


def test_huge_item_is_bounded(lint: Lint) -> None:
    def run(n: int) -> Report:
        return lint(body=f"{INTRO}行动项：\n1. " + "请负责由@尽快（" * n + f"\n{CLOSING}")

    report = run(60_000)
    assert report.error is None or report.error.code != "timeout"
    assert growth(run, 15_000) < 8  # linear in the item's length (quadratic would be 16)


def test_owner_written_as_an_address_is_matched_by_address(lint) -> None:  # type: ignore[no-untyped-def]
    body = (
        "王芳：\n\n本周工作安排如下：\n1. 整理活动数据并核对口径。\n2. 汇总各渠道反馈并形成结论。\n\n"
        "行动项：\n1. 输出核对结果；Owner: liuyi@demo.example.cn；截止时间：11月20日18:00前。\n\n李娜\n运营部\n"
    )
    report = lint(subject="【通知】活动数据核对安排说明", body=body, cc="刘毅 <liuyi@demo.example.cn>")
    assert not {"action-item-owner", "action-owner-recipient"} & {f.check for f in report.findings}
    report = lint(subject="【通知】活动数据核对安排说明", body=body)
    (finding,) = [f for f in report.findings if f.check == "action-owner-recipient"]
    assert "liuyi@demo.example.cn" in finding.suggestion.zh
