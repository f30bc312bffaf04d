"""meeting-notice, meeting-minutes, urgent-priority, policy-prenotice, signature (SPEC §2 Message types)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from checks.types.labels import find_labelled
from checks.types.prenotice import find_effective
from mailgate.lint import lint_message
from mailgate.model import Applicability, Edit, Finding, Report
from mailgate.parse import parse_message
from mailgate.policy import Policy
from tests.conftest import DEFAULT_DATE, build_eml, fired

Lint = Callable[..., Report]
TO = "王芳 <wangfang@demo.example.cn>, 刘毅 <liuyi@demo.example.cn>"
SIGN = "\n\n李娜\n运营部\n"


def only(report: Report, check_id: str) -> list[Finding]:
    return [f for f in report.findings if f.check == check_id]


# --- meeting-notice ---------------------------------------------------------------------

NOTICE_LINES = {
    "time": "1. 会议时间：2026年11月20日（周五）14:00-15:00",
    "place": "2. 会议地点：总部3楼301会议室（线上：腾讯会议 582-316-907）",
    "attendees": "3. 参会人员：王芳、刘毅、李娜",
    "agenda": "4. 会议议程：积分获取规则评审；上线排期确认",
}
ACTIONS = (
    "行动项：\n"
    "1. 会前发送积分规则文档；负责人：李娜；截止时间：11月19日18:00前。\n"
    "2. 评估积分规则改造的工作量；负责人：刘毅；截止时间：11月20日12:00前。"
)


def notice_body(*, drop: str = "", replace: dict[str, str] | None = None, actions: str = ACTIONS) -> str:
    lines = {**NOTICE_LINES, **(replace or {})}
    facts = "\n".join(v for k, v in lines.items() if k != drop)
    return f"各位好：\n\n会员积分规则评审会议安排如下：\n\n{facts}\n\n{actions}{SIGN}"


def lint_notice(lint: Lint, body: str, subject: str = "【会议通知】会员积分规则评审会议安排", **kw: object) -> Report:
    return lint(subject=subject, body=body, to=TO, **kw)


def test_complete_notice_is_silent(lint: Lint) -> None:
    assert "meeting-notice" not in fired(lint_notice(lint, notice_body()))


@pytest.mark.parametrize(
    "agenda",
    [
        "4. 会议议程：\n（1）积分获取规则评审\n（2）上线排期确认",  # a nested list under its label
        "4. 会议议程：\n   - 积分获取规则评审\n   - 上线排期确认",
    ],
)
def test_a_list_under_its_label_is_the_labels_value(lint: Lint, agenda: str) -> None:
    assert "meeting-notice" not in fired(lint_notice(lint, notice_body(replace={"agenda": agenda})))


def test_the_next_item_of_the_same_list_is_not_the_value(lint: Lint) -> None:
    body = notice_body(replace={"agenda": "4. 会议议程：\n5. 其他事项：无"})
    findings = only(lint_notice(lint, body), "meeting-notice")
    assert findings and "议程" in findings[0].message.zh


@pytest.mark.parametrize(
    ("element", "word"),
    [("time", "会议时间"), ("place", "会议地点"), ("attendees", "参会人员"), ("agenda", "会议议程")],
)
def test_each_missing_element_is_named(lint: Lint, element: str, word: str) -> None:
    findings = only(lint_notice(lint, notice_body(drop=element)), "meeting-notice")
    assert len(findings) == 1
    (f,) = findings
    assert word in f.message.zh
    assert f.severity.value == "error"
    assert f.field == "subject" and (f.start, f.end) == (0, 6)  # underlines 【会议通知】


def test_one_finding_per_missing_element(lint: Lint) -> None:
    body = "各位好：\n\n会员积分规则评审会将于近日召开，请大家做好准备。\n\n" + ACTIONS + SIGN
    findings = only(lint_notice(lint, body), "meeting-notice")
    assert {f.message.en.rsplit("the ", 1)[1] for f in findings} == {
        "meeting time",
        "meeting place",
        "attendees",
        "agenda",
    }


def test_date_without_clock_time_points_at_the_line(lint: Lint) -> None:
    body = notice_body(replace={"time": "1. 会议时间：11月20日（周五）下午"})
    (f,) = only(lint_notice(lint, body), "meeting-notice")
    assert "只有日期" in f.message.zh
    assert f.field == "body"
    assert "11月20日（周五）下午" in body[f.start : f.end]
    assert "2026年11月20日（周五）14:00-15:00" in f.suggestion.zh


def test_clock_times_in_action_items_are_not_the_meeting_time(lint: Lint) -> None:
    # the deadlines "11月19日18:00前" sit in the action-item section only
    findings = only(lint_notice(lint, notice_body(drop="time")), "meeting-notice")
    assert [f for f in findings if "会议时间" in f.message.zh]


def test_date_and_clock_on_two_labelled_lines(lint: Lint) -> None:
    body = notice_body(replace={"time": "1. 日期：2026年11月20日（周五）\n   时间：14:00-15:00"})
    assert "meeting-notice" not in fired(lint_notice(lint, body))


def test_tbd_place_counts_as_missing(lint: Lint) -> None:
    body = notice_body(replace={"place": "2. 会议地点：待定"})
    (f,) = only(lint_notice(lint, body), "meeting-notice")
    assert "会议地点" in f.message.zh and f.field == "body"


@pytest.mark.parametrize(
    "place",
    [
        "2. 会议地点：线上（腾讯会议号 582-316-907）",
        "2. 会议链接：https://meeting.example.cn/j/123",
        "2. 地点：2楼培训室",
    ],
)
def test_place_forms(lint: Lint, place: str) -> None:
    assert "meeting-notice" not in fired(lint_notice(lint, notice_body(replace={"place": place})))


def test_unlabelled_prose_notice(lint: Lint) -> None:
    body = (
        "各位好：\n\n定于2026年11月20日（周五）下午3点在总部3楼301会议室召开积分规则评审会。\n"
        "参会人员为王芳、刘毅、李娜，会议议程是积分获取规则评审与上线排期确认。\n\n" + ACTIONS + SIGN
    )
    assert "meeting-notice" not in fired(lint_notice(lint, body))


def test_agenda_in_the_subject_alone_is_not_enough(lint: Lint) -> None:
    body = notice_body(drop="agenda")
    findings = only(lint_notice(lint, body, subject="【会议通知】会议议程：积分规则评审会议安排"), "meeting-notice")
    assert [f.message.zh for f in findings] == ["会议通知缺少会议议程"]


def test_attendee_suggestion_names_the_recipients(lint: Lint) -> None:
    (f,) = only(lint_notice(lint, notice_body(drop="attendees")), "meeting-notice")
    assert "参会人员：王芳、刘毅、李娜" in f.suggestion.zh


def test_topic_word_makes_a_notice(lint: Lint) -> None:
    report = lint_notice(lint, notice_body(drop="agenda"), subject="【通知】会员积分规则评审会议邀请")
    (f,) = only(report, "meeting-notice")
    assert f.field == "subject" and report.message is not None
    assert report.message.subject[f.start : f.end] == "会议邀请"


def test_meeting_room_notice_is_not_a_meeting_notice(lint: Lint) -> None:
    body = "各位：\n\n1. 会议室统一通过企业微信预订。\n2. 单次预订不超过3小时。" + SIGN
    assert "meeting-notice" not in fired(lint_notice(lint, body, subject="【通知】会议室预订规则调整通知"))


def test_reply_to_a_notice_is_not_a_notice(lint: Lint) -> None:
    body = "收到，我会准时参加。" + SIGN
    assert "meeting-notice" not in fired(lint_notice(lint, body, subject="Re: 【会议通知】会员积分规则评审会议安排"))


def test_find_labelled_needs_a_clause_boundary() -> None:
    labels = (("time", "时间"), ("place", "地点"))
    found = find_labelled("1. 时间：11月20日 14:00，地点：3楼\n反馈时间：11月19日前", labels)
    assert [(x.element, x.value) for x in found] == [("time", "11月20日 14:00"), ("place", "3楼")]


# --- meeting-minutes --------------------------------------------------------------------

MINUTES_HEAD = "会议时间：2026年11月17日（周二）14:00-15:00\n会议地点：总部3楼301会议室\n参会人员：王芳、刘毅、李娜"
MINUTES_TASKS = (
    "任务分工：\n"
    "1. 更新积分规则文档；负责人：李娜；截止时间：11月20日前。\n"
    "2. 完成积分有效期配置改造；负责人：刘毅；截止时间：11月27日18:00前。"
)


def minutes_body(head: str = MINUTES_HEAD, tasks: str = MINUTES_TASKS) -> str:
    findings = "会议结论：\n1. 积分有效期调整为24个月。\n2. 过期前30天提醒。"
    return f"各位好：\n\n会议纪要如下：\n\n{head}\n\n{findings}\n\n{tasks}{SIGN}"


def lint_minutes(lint: Lint, body: str, subject: str = "【会议纪要】会员积分规则评审会议纪要") -> Report:
    return lint(subject=subject, body=body, to=TO)


def test_complete_minutes_are_silent(lint: Lint) -> None:
    assert "meeting-minutes" not in fired(lint_minutes(lint, minutes_body()))


def test_minutes_without_attendees(lint: Lint) -> None:
    head = "会议时间：2026年11月17日（周二）14:00-15:00\n会议地点：总部3楼301会议室"
    (f,) = only(lint_minutes(lint, minutes_body(head=head)), "meeting-minutes")
    assert f.message.zh == "会议纪要缺少参会人员"


def test_minutes_without_time_ignore_deadlines(lint: Lint) -> None:
    head = "会议地点：总部3楼301会议室\n参会人员：王芳、刘毅、李娜"
    (f,) = only(lint_minutes(lint, minutes_body(head=head)), "meeting-minutes")
    assert f.message.zh == "会议纪要缺少会议时间"
    assert "2026年11月18日" in f.suggestion.zh  # minutes: the day of Date


def test_minutes_without_task_assignment(lint: Lint) -> None:
    (f,) = only(lint_minutes(lint, minutes_body(tasks="以上，请知悉。")), "meeting-minutes")
    assert "任务分工" in f.message.zh


def test_action_items_heading_counts_as_task_assignment(lint: Lint) -> None:
    tasks = MINUTES_TASKS.replace("任务分工：", "行动项：")
    assert "meeting-minutes" not in fired(lint_minutes(lint, minutes_body(tasks=tasks)))


def test_meeting_record_in_topic_under_another_tag(lint: Lint) -> None:
    head = "会议地点：总部3楼301会议室\n参会人员：王芳、刘毅、李娜"
    report = lint_minutes(lint, minutes_body(head=head), subject="【项目进度】会员积分项目周会会议记录")
    assert "meeting-minutes" in fired(report)
    assert "meeting-notice" not in fired(report)


def test_minutes_tag_wins_over_notice_words(lint: Lint) -> None:
    head = "会议地点：总部3楼301会议室\n参会人员：王芳、刘毅、李娜"
    report = lint_minutes(lint, minutes_body(head=head), subject="【会议纪要】会议通知流程优化讨论会纪要")
    assert "meeting-notice" not in fired(report)
    assert "meeting-minutes" in fired(report)


# --- urgent-priority --------------------------------------------------------------------

URGENT = "【紧急】会员积分重复发放处理通知"
PLAIN_BODY = (
    "各位：\n\n1. 积分重复发放已暂停。\n2. 正在核对明细。\n\n"
    "行动项：\n1. 核对明细；负责人：李娜；截止时间：今天15:00前。" + SIGN
)


def test_urgent_without_header_gets_a_safe_fix(lint: Lint) -> None:
    (f,) = only(lint(subject=URGENT, body=PLAIN_BODY), "urgent-priority")
    assert f.severity.value == "warning"
    assert f.field == "subject" and (f.start, f.end) == (0, 4)
    assert f.fix is not None and f.fix.applicability is Applicability.SAFE
    assert f.fix.edits == (Edit("headers", 0, 0, "Importance: high"),)


def test_urgent_with_normal_priority_fires(lint: Lint) -> None:
    (f,) = only(lint(subject=URGENT, body=PLAIN_BODY, headers={"X-Priority": "3 (Normal)"}), "urgent-priority")
    assert "X-Priority: 3 (Normal)" in f.message.zh


@pytest.mark.parametrize(
    "headers",
    [
        {"Importance": "high"},
        {"Importance": "High"},
        {"X-Priority": "1 (Highest)"},
        {"X-Priority": "2"},
        {"Priority": "urgent"},
    ],
)
def test_urgent_with_high_header_is_silent(lint: Lint, headers: dict[str, str]) -> None:
    assert "urgent-priority" not in fired(lint(subject=URGENT, body=PLAIN_BODY, headers=headers))


@pytest.mark.parametrize("headers", [{"Importance": "high"}, {"X-Priority": "1"}, {"Priority": "urgent"}])
def test_high_header_without_urgent_tag(lint: Lint, headers: dict[str, str]) -> None:
    (f,) = only(lint(subject="【周报】运营部第47周工作汇报", body=PLAIN_BODY, headers=headers), "urgent-priority")
    assert f.field == "headers" and f.fix is None
    assert "【紧急】" in f.suggestion.zh


@pytest.mark.parametrize("headers", [{"X-Priority": "3"}, {"Importance": "normal"}, {"X-Priority": "5 (Lowest)"}])
def test_normal_priority_without_urgent_tag_is_silent(lint: Lint, headers: dict[str, str]) -> None:
    assert "urgent-priority" not in fired(
        lint(subject="【周报】运营部第47周工作汇报", body=PLAIN_BODY, headers=headers)
    )


def test_bracket_variant_of_urgent_counts(lint: Lint) -> None:
    report = lint(subject="[紧急]会员积分重复发放处理通知", body=PLAIN_BODY, headers={"Importance": "high"})
    assert "urgent-priority" not in fired(report)


# --- policy-prenotice -------------------------------------------------------------------

POLICY = "【政策变动】会议室预订规则调整预通知"


def policy_body(first: str) -> str:
    return (
        f"各位负责人：\n\n1. {first}\n2. 预订方式：统一通过企业微信预订。\n\n"
        "行动项：\n1. 上线预订入口；负责人：李娜；截止时间：11月27日前。" + SIGN
    )


@pytest.mark.parametrize(
    "first",
    [
        "生效日期：2026年12月1日。",
        "生效时间：2026年11月19日10:00起生效。",  # exactly 24 hours
        "本规定自下周一起执行。",
        "新规则将于2026年12月1日正式实施。",
        "本规定自2026年11月25日零时起生效。",  # a midnight word between the date and 起生效
        "本规定自2026年12月1日0时起施行。",
    ],
)
def test_enough_notice_is_silent(lint: Lint, first: str) -> None:
    assert "policy-prenotice" not in fired(lint(subject=POLICY, body=policy_body(first)))


def test_less_than_24_hours(lint: Lint) -> None:
    body = policy_body("生效时间：2026年11月18日16:00起生效。")
    (f,) = only(lint(subject=POLICY, body=body), "policy-prenotice")
    assert f.severity.value == "error" and f.field == "body"
    assert body[f.start : f.end].startswith("2026年11月18日16:00")
    assert "仅6小时" in f.message.zh
    assert "不早于2026年11月19日 10:00" in f.suggestion.zh
    assert "2026年11月20日" in f.suggestion.zh


def test_23_hours_is_too_short(lint: Lint) -> None:
    assert "policy-prenotice" in fired(lint(subject=POLICY, body=policy_body("生效时间：2026年11月19日09:00起执行。")))


def test_date_only_means_midnight(lint: Lint) -> None:
    # 11月19日 00:00 is 14 hours after Wed 10:00
    assert "policy-prenotice" in fired(lint(subject=POLICY, body=policy_body("本规定自2026年11月19日起实施。")))


def test_midnight_word_keeps_the_date(lint: Lint) -> None:
    # 11月19日零时 is 14 hours after Wed 10:00
    assert "policy-prenotice" in fired(lint(subject=POLICY, body=policy_body("本规定自2026年11月19日零时起施行。")))


def test_effective_before_sending(lint: Lint) -> None:
    (f,) = only(lint(subject=POLICY, body=policy_body("生效日期：本规定自2026年11月16日起生效。")), "policy-prenotice")
    assert "早于发信时间" in f.message.zh


@pytest.mark.parametrize("first", ["调整原因：统一预订入口。", "生效时间：另行通知。"])
def test_no_effective_time(lint: Lint, first: str) -> None:
    (f,) = only(lint(subject="【战略调整】会议室预订规则调整说明", body=policy_body(first)), "policy-prenotice")
    assert "没有写明具体的生效时间" in f.message.zh


def test_immediately_effective_is_too_short(lint: Lint) -> None:
    assert "policy-prenotice" in fired(lint(subject=POLICY, body=policy_body("本规定自即日起执行。")))


def test_deadline_verb_is_not_an_effective_time() -> None:
    found = find_effective("请于11月30日前执行完毕。", DEFAULT_DATE, {"effective_verb": ("执行",)})
    assert found == []


def test_effective_time_in_subject_only(lint: Lint) -> None:
    report = lint(subject="【政策变动】12月1日起会议室预订规则调整预通知", body=policy_body("预订时长：不超过3小时。"))
    assert "policy-prenotice" not in fired(report)


def test_other_tags_and_replies_are_skipped(lint: Lint) -> None:
    body = policy_body("生效时间：2026年11月18日16:00起生效。")
    assert "policy-prenotice" not in fired(lint(subject="【通知】会议室预订规则调整通知", body=body))
    assert "policy-prenotice" not in fired(lint(subject="Re: " + POLICY, body=body))


def test_no_date_header_only_checks_presence(lint: Lint) -> None:
    raw = (
        "From: 李娜 <lina@demo.example.cn>\nTo: 王芳 <wangfang@demo.example.cn>\n"
        f"Subject: =?utf-8?b?{__import__('base64').b64encode(POLICY.encode()).decode()}?=\n"
        "Content-Type: text/plain; charset=utf-8\n\n" + policy_body("生效时间：2026年11月18日16:00起生效。")
    ).encode()
    report = lint(raw)
    assert report.message is not None and report.message.date is None
    assert "policy-prenotice" not in fired(report)


# --- signature --------------------------------------------------------------------------

SIG_BODY = (
    "王总：\n\n1. 积分发放任务全部按时完成。\n2. 过期提醒短信已发送。\n\n"
    "行动项：\n1. 整理计划；负责人：李娜；截止时间：11月27日前。"
)


@pytest.mark.parametrize(
    "closing", ["\n\n谢谢！\n李娜\n运营部\n", "\n\n此致\n敬礼！\n李娜 运营部\n", "\n\n运营部 李娜\n"]
)
def test_closing_with_name_and_department(lint: Lint, closing: str) -> None:
    assert "signature" not in fired(lint(body=SIG_BODY + closing))


def test_alias_counts_as_the_name(demo_policy: Policy) -> None:
    # the closing is taken from the parser; pin it here so the test is about the check alone
    body = SIG_BODY + "\n\nFang Wang\n运营部\n"
    msg = parse_message(
        build_eml(sender="王芳 <wangfang@demo.example.cn>", to="李娜 <lina@demo.example.cn>", body=body)
    )
    msg = replace(msg, closing_start=msg.new_text.index("Fang Wang"))
    assert "signature" not in {f.check for f in lint_message(msg, demo_policy)}
    msg = replace(msg, closing_start=msg.new_text.index("运营部\n"))
    assert "signature" in {f.check for f in lint_message(msg, demo_policy)}


def test_closing_without_department(lint: Lint) -> None:
    body = SIG_BODY + "\n\n谢谢！\n李娜\n"
    (f,) = only(lint(body=body), "signature")
    assert f.severity.value == "info"
    assert "部门" in f.message.zh and "姓名" not in f.message.zh
    assert f.fix is not None and f.fix.applicability is Applicability.UNSAFE
    (edit,) = f.fix.edits
    assert edit.text == "\n运营部"


def test_no_closing_at_all(lint: Lint) -> None:
    (f,) = only(lint(body=SIG_BODY + "\n\n谢谢！\n"), "signature")
    assert "李娜\n运营部" in f.suggestion.zh


def test_someone_elses_name_is_not_a_signature(lint: Lint) -> None:
    assert "signature" in fired(lint(body=SIG_BODY + "\n\n王芳\n运营部\n"))


def test_sender_outside_directory_uses_display_name(lint: Lint) -> None:
    sender = "陈立 <chenli@demo.example.cn>"
    assert "signature" not in fired(lint(sender=sender, body=SIG_BODY + "\n\n陈立\n合作伙伴事业部\n"))
    assert "signature" in fired(lint(sender=sender, body=SIG_BODY + "\n\n陈立\n"))


def test_value_on_the_line_after_its_label(lint: Lint) -> None:
    body = notice_body(replace={"time": "会议时间：\n    2026年11月20日（周五）14:00-15:00"})
    assert "meeting-notice" not in fired(lint_notice(lint, body))
    body = notice_body(replace={"place": "会议地点：\n3. 参会人员：王芳"}, drop="attendees")
    messages = {f.message.zh for f in only(lint_notice(lint, body), "meeting-notice")}
    assert messages == {"会议通知的会议地点未确定（“空”）"}
