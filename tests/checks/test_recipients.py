"""The recipients family (SPEC §2 Recipients) on the demo organisation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from checks.recipients import confidential_markers, nearest_people, source_departments
from mailgate.lint import lint_bytes
from mailgate.model import Applicability, Finding, Report, Severity
from mailgate.policy import Policy
from tests.conftest import build_eml, fired

Lint = Callable[..., Report]

LINA = "李娜 <lina@demo.example.cn>"  # 运营部 member
WANGFANG = "王芳 <wangfang@demo.example.cn>"  # 运营部 head
ZHAOQIANG = "赵强 <zhaoqiang@demo.example.cn>"  # 运营部
CHENMING = "陈明 <chenming@demo.example.cn>"  # 技术部 head
LIUYI = "刘毅 <liuyi@demo.example.cn>"  # 技术部
ZHOUJING = "周静 <zhoujing@demo.example.cn>"  # 市场部 head
WUYU = "吴宇 <wuyu@demo.example.cn>"  # 市场部
XULI = "徐丽 <xuli@demo.example.cn>"  # 数据部 head
HETAO = "何涛 <hetao@demo.example.cn>"  # 数据部
GAOYAN = "高燕 <gaoyan@demo.example.cn>"  # 客服部 head
MAJUN = "马军 <majun@demo.example.cn>"  # 客服部
PARTNER = "陈立 <chenli@partner.example.net>"


def only(report: Report, check_id: str) -> list[Finding]:
    return [f for f in report.findings if f.check == check_id]


# --- recipients-valid -------------------------------------------------------------------


def test_clean_recipients_pass(lint: Lint) -> None:
    assert "recipients-valid" not in fired(lint(to=f"{WANGFANG}, {ZHAOQIANG}", cc=CHENMING))


def test_duplicate_across_to_and_cc(lint: Lint) -> None:
    report = lint(to=f"{WANGFANG}, {ZHAOQIANG}", cc=f"{CHENMING}, 王芳 <WangFang@demo.example.cn>")
    (finding,) = only(report, "recipients-valid")
    assert finding.field == "cc"
    text = report.message.field_text["cc"] if report.message else ""
    assert text[finding.start : finding.end] == "王芳 <WangFang@demo.example.cn>"
    assert finding.fix is not None and finding.fix.applicability is Applicability.UNSAFE
    (edit,) = finding.fix.edits
    assert text[: edit.start] + edit.text + text[edit.end :] == CHENMING


def test_duplicate_within_to_bare_and_named(lint: Lint) -> None:
    report = lint(to=f"{WANGFANG}, {ZHAOQIANG}, zhaoqiang@demo.example.cn")
    (finding,) = only(report, "recipients-valid")
    assert "zhaoqiang@demo.example.cn" in finding.message.zh


def test_sender_in_to_or_cc(lint: Lint) -> None:
    (finding,) = only(lint(to=WANGFANG, cc=f"{LINA}, {ZHAOQIANG}"), "recipients-valid")
    assert "发件人" in finding.message.zh and finding.field == "cc"
    assert finding.fix is not None and finding.fix.applicability is Applicability.UNSAFE
    assert "recipients-valid" in fired(lint(to=f"{LINA}, {WANGFANG}"))


def test_sender_twice_is_one_sender_finding_per_entry(lint: Lint) -> None:
    findings = only(lint(to=f"{WANGFANG}, {LINA}", cc=LINA), "recipients-valid")
    assert len(findings) == 2 and all("发件人" in f.message.zh for f in findings)


def test_empty_to(lint: Lint) -> None:
    (finding,) = only(lint(to="", cc=f"{WANGFANG}, {ZHAOQIANG}"), "recipients-valid")
    assert finding.field == "to" and "为空" in finding.message.zh


def test_undisclosed_recipients_group_counts_as_empty_not_invalid(lint: Lint) -> None:
    (finding,) = only(lint(to="undisclosed-recipients:;", cc=WANGFANG), "recipients-valid")
    assert "为空" in finding.message.zh


@pytest.mark.parametrize("bad", ["王五", "wangwu@@demo.example.cn", "wangwu@demo", "wang@x_y.com", "@demo.example.cn"])
def test_invalid_addresses(lint: Lint, bad: str) -> None:
    findings = only(lint(to=f"{WANGFANG}, {bad}"), "recipients-valid")
    assert any("无效" in f.message.zh for f in findings), bad


def test_valid_runs_on_external_mail(lint: Lint) -> None:
    assert "recipients-valid" in fired(lint(to=f"{PARTNER}, {PARTNER}"))


# --- recipients-directory ---------------------------------------------------------------


def test_directory_known_names_aliases_and_bare_addresses_pass(lint: Lint) -> None:
    to = "王芳 <wangfang@demo.example.cn>, Qiang Zhao <zhaoqiang@demo.example.cn>, liuyi@demo.example.cn"
    cc = (
        '"芳姐" <wangfang@demo.example.cn>, 陈明（技术部） <chenming@demo.example.cn>, '
        "Zhao Qiang <zhaoqiang@demo.example.cn>, 刘毅 | 技术部 <liuyi@demo.example.cn>, "
        "Jie (孙杰) <sunjie@demo.example.cn>"
    )
    assert "recipients-directory" not in fired(lint(to=to, cc=cc))


def test_unknown_internal_address_suggests_nearest(lint: Lint) -> None:
    (finding,) = only(lint(to=f"{WANGFANG}, zhaoqang@demo.example.cn"), "recipients-directory")
    assert finding.severity is Severity.WARNING
    assert "zhaoqiang@demo.example.cn" in finding.suggestion.zh


def test_unknown_address_with_a_known_display_name_suggests_that_person(lint: Lint) -> None:
    (finding,) = only(lint(to="周静 <jing.zhou@demo.example.cn>"), "recipients-directory")
    assert "zhoujing@demo.example.cn" in finding.suggestion.zh


def test_unknown_address_far_from_everyone(lint: Lint) -> None:
    (finding,) = only(lint(to=f"{WANGFANG}, ops-team-all@demo.example.cn"), "recipients-directory")
    assert "没有相近" in finding.suggestion.zh


def test_ambiguous_nearest_lists_both(demo_policy: Policy) -> None:
    people = nearest_people("lijun3@demo.example.cn", demo_policy.directory)
    assert {p.email for p in people} == {"lijun@demo.example.cn", "lijun2@demo.example.cn"}


def test_wrong_display_name_is_real_name_finding(lint: Lint) -> None:
    (finding,) = only(lint(to="王方 <wangfang@demo.example.cn>"), "recipients-directory")
    assert "实名制" in finding.message.zh and "王芳 <wangfang@demo.example.cn>" in finding.suggestion.zh


def test_display_name_of_another_person_is_named(lint: Lint) -> None:
    (finding,) = only(lint(to="陈明 <wangfang@demo.example.cn>"), "recipients-directory")
    assert "chenming@demo.example.cn" in finding.suggestion.zh


def test_partial_name_fires(lint: Lint) -> None:
    assert "recipients-directory" in fired(lint(to="王 <wangfang@demo.example.cn>"))


def test_external_addresses_are_not_in_scope_of_the_directory(lint: Lint) -> None:
    assert "recipients-directory" not in fired(lint(to=PARTNER, cc=WANGFANG))


def test_directory_runs_on_external_mail(lint: Lint) -> None:
    assert "recipients-directory" in fired(lint(to=PARTNER, cc="王方 <wangfang@demo.example.cn>"))


# --- recipients-scope -------------------------------------------------------------------

COOP = "【部门协作】12月会员日活动页面开发排期安排"


def test_cross_department_with_both_heads_passes(lint: Lint) -> None:
    report = lint(subject=COOP, sender=WUYU, to=LIUYI, cc=f"{ZHOUJING}, {CHENMING}")
    assert "recipients-scope" not in fired(report)


def test_cross_department_names_each_missing_head(lint: Lint) -> None:
    (finding,) = only(lint(subject=COOP, sender=WUYU, to=LIUYI), "recipients-scope")
    assert ZHOUJING in finding.suggestion.zh and CHENMING in finding.suggestion.zh
    assert finding.field == "cc"
    assert finding.fix is not None and finding.fix.applicability is Applicability.UNSAFE


def test_cross_department_every_department_in_to(lint: Lint) -> None:
    report = lint(subject=COOP, sender=WUYU, to=f"{LIUYI}, {MAJUN}", cc=f"{ZHOUJING}, {CHENMING}")
    (finding,) = only(report, "recipients-scope")
    assert GAOYAN in finding.suggestion.zh and CHENMING not in finding.suggestion.zh


def test_cross_department_head_in_to_or_sender_is_head(lint: Lint) -> None:
    assert "recipients-scope" not in fired(lint(subject=COOP, sender=ZHOUJING, to=f"{CHENMING}, {LIUYI}"))


def test_cross_department_head_only_in_cc_department_not_required(lint: Lint) -> None:
    # 客服部 is only in Cc, so its head is not required.
    report = lint(subject=COOP, sender=WUYU, to=LIUYI, cc=f"{ZHOUJING}, {CHENMING}, {MAJUN}")
    assert "recipients-scope" not in fired(report)


def test_cross_department_needs_another_department_in_to(lint: Lint) -> None:
    report = lint(subject=COOP, sender=WUYU, to=ZHOUJING, cc=LIUYI)
    (finding,) = only(report, "recipients-scope")
    assert finding.field == "to"


def test_external_release_needs_marketing(lint: Lint) -> None:
    subject = "【对外发布】App 5.0版本发布公告安排"
    (finding,) = only(lint(subject=subject, sender=LIUYI, to=CHENMING), "recipients-scope")
    assert ZHOUJING in finding.suggestion.zh
    assert "recipients-scope" not in fired(lint(subject=subject, sender=LIUYI, to=CHENMING, cc=WUYU))
    assert "recipients-scope" not in fired(lint(subject=subject, sender=WUYU, to=CHENMING))


DATA_BODY = "1. 10月转化率为2.5%。\n2. 较9月提高0.3个百分点。\n\n数据来源：数据部BI看板\n"


def test_data_source_department_must_be_a_recipient(lint: Lint) -> None:
    subject = "【数据】10月活动渠道转化数据汇报"
    kwargs = {"subject": subject, "sender": ZHAOQIANG, "body": DATA_BODY}
    (finding,) = only(lint(to=WANGFANG, **kwargs), "recipients-scope")
    assert XULI in finding.suggestion.zh
    assert "recipients-scope" not in fired(lint(to=WANGFANG, cc=HETAO, **kwargs))
    assert "recipients-scope" not in fired(lint(to=WANGFANG, **{**kwargs, "sender": HETAO}))
    # no source department named: nothing required
    assert "recipients-scope" not in fired(lint(to=WANGFANG, **{**kwargs, "body": "1. 转化率2.5%。\n"}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("数据来源：数据部BI看板", ["数据部"]),
        ("来源: 客服部工单系统", ["客服部"]),
        ("以上数据由技术部提供。", ["技术部"]),
        ("据市场部统计，", ["市场部"]),
        ("数据来源为客服部和数据部", ["客服部", "数据部"]),
        ("数据来源：自有系统", []),
        ("技术部负责开发", []),
    ],
)
def test_source_departments(text: str, expected: list[str], demo_policy: Policy) -> None:
    assert source_departments(text, demo_policy.directory.departments()) == expected


def test_urgent_needs_the_senders_head(lint: Lint) -> None:
    subject = "【紧急】客服热线无法接入处理通知"
    (finding,) = only(lint(subject=subject, sender=MAJUN, to=f"{CHENMING}, {LIUYI}"), "recipients-scope")
    assert GAOYAN in finding.suggestion.zh
    assert "recipients-scope" not in fired(lint(subject=subject, sender=MAJUN, to=CHENMING, cc=GAOYAN))
    assert "recipients-scope" not in fired(lint(subject=subject, sender=GAOYAN, to=MAJUN))


def test_bracket_variant_tag_still_applies_rules(lint: Lint) -> None:
    assert "recipients-scope" in fired(lint(subject="[紧急]客服热线无法接入处理通知", sender=MAJUN, to=CHENMING))


def test_untagged_or_other_tags_have_no_rules(lint: Lint) -> None:
    assert "recipients-scope" not in fired(lint(subject="【通知】客服热线维护安排通知", sender=MAJUN, to=CHENMING))


def test_rule_table_is_a_param(demo_policy: Policy) -> None:
    policy = demo_policy.with_check(
        "recipients-scope", rules=[{"tag": "通知", "require": "department", "department": "客服部"}]
    )
    raw = build_eml(subject="【通知】客服热线维护安排通知", sender=LIUYI, to=CHENMING)
    (finding,) = only(lint_bytes(raw, policy), "recipients-scope")
    assert GAOYAN in finding.suggestion.zh
    raw = build_eml(subject="【紧急】客服热线无法接入处理通知", sender=MAJUN, to=CHENMING)
    assert "recipients-scope" not in fired(lint_bytes(raw, policy))


def test_rule_department_kind_needs_a_department(demo_policy: Policy) -> None:
    from mailgate.errors import ConfigError

    with pytest.raises(ConfigError):
        demo_policy.with_check("recipients-scope", rules=[{"tag": "通知", "require": "department"}])


# --- recipients-external ----------------------------------------------------------------


def test_confidential_subject_to_external(lint: Lint) -> None:
    report = lint(subject="机密：第四季度结算对账差异说明", to=PARTNER, cc=WUYU)
    (finding,) = only(report, "recipients-external")
    assert finding.severity is Severity.ERROR and "chenli@partner.example.net" in finding.message.zh


@pytest.mark.parametrize(
    "body",
    ["以下为内部资料，请勿转发。", "（仅限内部联调使用）", "This document is CONFIDENTIAL.", "For internal  only use"],
)
def test_confidential_body_to_external(lint: Lint, body: str) -> None:
    report = lint(subject="关于联合推广活动排期的确认", to=PARTNER, body=body)
    assert "recipients-external" in fired(report)


@pytest.mark.parametrize("tag", ["部门协作", "会议纪要", "数据", "政策变动", "战略调整"])
def test_internal_only_tags_to_external(lint: Lint, tag: str) -> None:
    assert "recipients-external" in fired(lint(subject=f"【{tag}】联合推广活动安排说明", to=f"{WUYU}, {PARTNER}"))


def test_external_without_marker_passes(lint: Lint) -> None:
    body = "请查收附件中的保密协议，签署后寄回。本邮件不涉及机密信息。confidentiality terms follow."
    assert "recipients-external" not in fired(lint(subject="关于联合推广活动排期的确认", to=PARTNER, body=body))


def test_marker_in_a_disclaimer_footer_is_ignored(lint: Lint) -> None:
    body = (
        "12月联合推广活动排期已确认。\n\n周静\n市场部\n\n"
        "本邮件可能包含保密信息，如果您不是指定收件人，请立即删除。\n"
        "This e-mail is confidential. If you are not the intended recipient, please delete it.\n"
    )
    assert "recipients-external" not in fired(lint(subject="关于联合推广活动排期的确认", to=PARTNER, body=body))


def test_internal_mail_with_marker_passes(lint: Lint) -> None:
    assert "recipients-external" not in fired(lint(subject="机密：结算差异说明", to=WANGFANG))


def test_marker_in_quoted_text_is_ignored(lint: Lint) -> None:
    body = "好的，收到。\n\n-----原始邮件-----\n发件人: 王芳\n主题: 机密\n\n这是机密内容。\n"
    assert "recipients-external" not in fired(lint(subject="Re: 排期确认", to=PARTNER, body=body))


def test_confidential_markers_whole_words_only() -> None:
    assert confidential_markers("unconfidentially", ("confidential",), ()) == []
    assert confidential_markers("Confidential - plan", ("confidential",), ()) == ["Confidential"]
    assert confidential_markers("签署保密协议", ("保密",), ("保密协议",)) == []


# --- recipients-audience ----------------------------------------------------------------

EVERYONE = [
    WANGFANG, ZHAOQIANG, CHENMING, LIUYI, "孙杰 <sunjie@demo.example.cn>", ZHOUJING, WUYU, XULI, HETAO, GAOYAN,
    MAJUN,
]  # fmt: skip


def test_audience_eleven_in_to_is_info(lint: Lint) -> None:
    (finding,) = only(lint(to=", ".join(EVERYONE)), "recipients-audience")
    assert finding.severity is Severity.INFO
    assert "recipients-audience" not in fired(lint(to=", ".join(EVERYONE[:10])))
    assert "recipients-audience" not in fired(lint(to=", ".join(EVERYONE[:2]), cc=", ".join(EVERYONE[2:])))


def test_audience_over_fifty_is_warning(lint: Lint) -> None:
    many = ", ".join(f"user{i}@demo.example.cn" for i in range(51))
    (finding,) = only(lint(to=WANGFANG, cc=many), "recipients-audience")
    assert finding.severity is Severity.WARNING
