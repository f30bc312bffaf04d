"""subject-tag and subject-topic (SPEC §2 Subject)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from checks.subject import DEFAULT_TAGS, closest_tag, guess_tag
from mailgate.model import Applicability, Finding, Report
from mailgate.policy import Policy
from tests.conftest import fired

Lint = Callable[..., Report]
GOOD_TOPIC = "本周六办公区电力检修安排通知"


def only(report: Report, check_id: str) -> list[Finding]:
    return [f for f in report.findings if f.check == check_id]


# --- subject-tag ------------------------------------------------------------------------


@pytest.mark.parametrize("tag", DEFAULT_TAGS)
def test_every_default_tag_is_accepted(lint: Lint, tag: str) -> None:
    assert "subject-tag" not in fired(lint(subject=f"【{tag}】{GOOD_TOPIC}"))


@pytest.mark.parametrize(
    "written",
    ["[通知]", "〔通知〕", "〖通知〗", "［通知］", "【 通知 】", "【通知 】", "[ 通知]", "[通知】"],
)
def test_bracket_variants_get_a_safe_fix(lint: Lint, written: str) -> None:
    subject = f"{written}{GOOD_TOPIC}"
    (finding,) = only(lint(subject=subject), "subject-tag")
    assert finding.fix is not None and finding.fix.applicability is Applicability.SAFE
    (edit,) = finding.fix.edits
    assert edit.field == "subject"
    fixed = subject[: edit.start] + edit.text + subject[edit.end :]
    assert fixed == f"【通知】{GOOD_TOPIC}"


def test_offsets_point_into_the_full_subject_of_a_reply(lint: Lint) -> None:
    subject = f"Re: 回复：[周报]{GOOD_TOPIC}"
    (finding,) = only(lint(subject=subject), "subject-tag")
    assert subject[finding.start : finding.end] == "[周报]"
    assert finding.fix is not None
    assert finding.fix.edits[0].start == subject.index("[")


def test_reply_with_a_good_tag_passes(lint: Lint) -> None:
    assert "subject-tag" not in fired(lint(subject=f"RE：【通知】{GOOD_TOPIC}"))


def test_unknown_tag_suggests_the_closest_allowed_tag(lint: Lint) -> None:
    (finding,) = only(lint(subject=f"【通告】{GOOD_TOPIC}"), "subject-tag")
    assert "【通知】" in finding.suggestion.zh
    assert finding.fix is not None and finding.fix.applicability is Applicability.UNSAFE


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("通告", "通知"),
        ("公告", "通知"),
        ("会议记录", "会议纪要"),
        ("纪要", "会议纪要"),
        ("项目进度汇报", "项目进度"),
        ("进展", "项目进度"),
        ("加急", "紧急"),
        ("Urgent", "紧急"),
        ("周总结", "周报"),
        ("需求说明", "需求"),
        ("部门协做", "部门协作"),  # a typo: character similarity
        ("重要", None),  # resembles no allowed tag
    ],
)
def test_closest_tag(name: str, expected: str | None, demo_policy: Policy) -> None:
    hints = demo_policy.lexicons["subject_tag_hints"]
    assert closest_tag(name, DEFAULT_TAGS, hints) == expected


def test_unknown_tag_like_no_tag_is_guessed_from_the_topic(lint: Lint) -> None:
    (finding,) = only(lint(subject="【重要】客服热线IVR菜单调整会议纪要"), "subject-tag")
    assert "【会议纪要】" in finding.suggestion.zh


def test_missing_tag_suggests_one_from_the_topic(lint: Lint) -> None:
    (finding,) = only(lint(subject="客服热线IVR菜单调整会议纪要"), "subject-tag")
    assert "【会议纪要】客服热线IVR菜单调整会议纪要" in finding.suggestion.zh
    assert finding.fix is not None and finding.fix.applicability is Applicability.UNSAFE


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("关于客服热线IVR菜单调整的说明", "通知"),
        ("活动页面上线事故复盘会议纪要", "会议纪要"),
        ("数据中台二期开发进度汇报", "项目进度"),
        ("差旅报销制度调整预通知", "政策变动"),
        ("测试环境服务器扩容申请", "申请"),
        ("下周团建", None),
    ],
)
def test_guess_tag(topic: str, expected: str | None, demo_policy: Policy) -> None:
    assert guess_tag(topic, DEFAULT_TAGS, demo_policy.lexicons["subject_tag_hints"]) == expected


def test_missing_tag_on_a_reply_fires(lint: Lint) -> None:
    assert "subject-tag" in fired(lint(subject="Re: 下周团建活动报名名单确认"))


def test_tag_not_at_the_start_fires(lint: Lint) -> None:
    assert "subject-tag" in fired(lint(subject=f"{GOOD_TOPIC}【通知】"))


def test_empty_subject_fires_both_subject_checks(lint: Lint) -> None:
    assert {"subject-tag", "subject-topic"} <= fired(lint(subject=""))


def test_tag_list_is_a_param(demo_policy: Policy, lint: Lint) -> None:
    from mailgate.lint import lint_bytes
    from tests.conftest import build_eml

    policy = demo_policy.with_check("subject-tag", tags=["公告", "通知"])
    assert "subject-tag" not in fired(lint_bytes(build_eml(subject=f"【公告】{GOOD_TOPIC}"), policy))
    report = lint_bytes(build_eml(subject=f"【周报】{GOOD_TOPIC}"), policy)
    assert "subject-tag" in fired(report)
    assert "subject-tag" in fired(lint(subject=f"【公告】{GOOD_TOPIC}"))


def test_external_mail_is_not_checked(lint: Lint) -> None:
    report = lint(subject="关于联合推广活动排期的确认", to="陈立 <chenli@partner.example.net>")
    assert not {"subject-tag", "subject-topic"} & fired(report)


# --- subject-topic ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "【报告】资料",
        "【会议通知】请查收",
        "【需求】如题",
        "【通知】急！！",
        "【通知】资料，请查收",
        "【通知】FYI",
        "【项目进度】会员中心改版第二阶段",
        "【项目进度】会员积分商城二期开发进展",  # 进展 names a state, not a document type
        "【数据】10月会员消费数据分析与汇总",  # nor do 分析 / 汇总
        "【问题反馈】安卓端登录页面偶发白屏",
        "【通知】",
        "【周报】客服部第47周热线接听、在线客服、工单处理、质检抽查、新人培训、"
        "知识库维护与投诉回访各项工作情况汇总汇报",
    ],
)
def test_topic_fires(lint: Lint, subject: str) -> None:
    assert "subject-topic" in fired(lint(subject=subject))


@pytest.mark.parametrize(
    "subject",
    [
        f"【通知】{GOOD_TOPIC}",
        "【数据】双十一预热活动转化数据复盘",
        "【对外发布】星河App 4.0版本发布新闻稿确认",
        "【会议通知】12月大促客服排班协调会议安排",
        "关于客服热线IVR菜单调整的说明",  # no tag: the whole subject is the topic
        "Re: 【问题反馈】App验证码短信发送失败问题反馈",
        "【通知】App 验证码 说明",  # 6 characters without whitespace
        "【周报】" + "一" * 48 + "汇报",  # exactly 50
    ],
)
def test_topic_passes(lint: Lint, subject: str) -> None:
    assert "subject-topic" not in fired(lint(subject=subject))


def test_topic_length_counts_characters_without_whitespace(lint: Lint) -> None:
    assert "subject-topic" in fired(lint(subject="【通知】A B 说明"))  # 4 characters
    assert "subject-topic" in fired(lint(subject="【周报】" + "一" * 49 + "汇报"))  # 51


def test_topic_suggests_a_document_type_ending(lint: Lint) -> None:
    (finding,) = only(lint(subject="【项目进度】会员中心改版第二阶段"), "subject-topic")
    assert "【项目进度】会员中心改版第二阶段进度汇报" in finding.suggestion.zh
    assert finding.severity.value == "warning"
    assert (finding.field, finding.start, finding.end) == ("subject", 6, 16)


def test_topic_offsets_skip_reply_prefix(lint: Lint) -> None:
    subject = "回复：【需求】如题"
    (finding,) = only(lint(subject=subject), "subject-topic")
    assert subject[finding.start : finding.end] == "如题"


def test_topic_params(demo_policy: Policy) -> None:
    from mailgate.lint import lint_bytes
    from tests.conftest import build_eml

    policy = demo_policy.with_check("subject-topic", min_chars=10, doctypes=["通知"])
    assert "subject-topic" in fired(lint_bytes(build_eml(subject="【通知】机房检修通知"), policy))
    assert "subject-topic" in fired(lint_bytes(build_eml(subject="【通知】本周六机房电力检修安排"), policy))
    assert "subject-topic" not in fired(lint_bytes(build_eml(subject="【通知】本周六机房电力检修通知"), policy))


def test_long_generic_run_is_linear(lint: Lint) -> None:
    report = lint(subject="【通知】" + "急" * 5000 + "x")
    assert "subject-topic" in fired(report)
    assert report.elapsed_ms < 2000
