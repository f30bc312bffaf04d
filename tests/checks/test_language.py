"""wording-vague, wording-civility, content-unverified, data-source, sensitive-data, typography."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from checks.language.datasource import data_mentions
from checks.language.sensitive import luhn_valid, mobile_numbers, sensitive_items, valid_id_number
from checks.language.spans import protected_spans
from checks.language.typography import typography_edits
from checks.language.vague import approximate_numbers
from mailgate.model import Applicability, Finding, Report, Severity
from tests.conftest import build_eml
from tests.scaling import growth

Lint = Callable[..., Report]
SIGN = "\n\n谢谢！\n李娜\n运营部\n"
EXTERNAL = "Kevin <kevin@partner.example.net>"


def only(report: Report, check_id: str) -> list[Finding]:
    return [f for f in report.findings if f.check == check_id]


def spans(report: Report, check_id: str) -> list[str]:
    assert report.message is not None
    out = []
    for f in only(report, check_id):
        text = report.message.body if f.field == "body" else report.message.subject
        out.append(text[f.start : f.end])
    return out


def body(lines: str) -> str:
    return lines + SIGN


# --- wording-vague ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word", "category"),
    [
        ("2. UPS保障期间可能出现短时告警。", "可能", "含糊推测"),
        ("2. 这个问题应该是配置错误导致的。", "应该是", "含糊推测"),
        ("2. 尽快启动客服系统角色改造。", "尽快", "时间不明确"),
        ("2. 截止时间：近期。", "近期", "时间不明确"),
        ("2. 请在近期内完成评估。", "近期", "时间不明确"),
        ("2. 请ASAP处理。", "ASAP", "时间不明确"),
        ("2. 兑换记录页在一些安卓机型上出现文字重叠。", "一些", "数量不明确"),
        ("2. 同样的问题出现了好几次。", "好几", "数量不明确"),
        ("2. 权限由运营部统一申请，相关部门按需开通。", "相关部门", "指代不明"),
        ("2. 当天以户外徒步为主，请大家尽量穿运动鞋。", "尽量", "承诺不明确"),
        ("2. 请酌情处理超时工单。", "酌情", "承诺不明确"),
        ("2. 这个事需要技术部确认。", "这个事", "指代不明"),
    ],
)
def test_vague_words_fire_with_category(lint: Lint, text: str, word: str, category: str) -> None:
    report = lint(body=body("1. 第一项已完成。\n" + text))
    found = only(report, "wording-vague")
    assert [f.severity for f in found] == [Severity.WARNING]
    assert spans(report, "wording-vague") == [word]
    assert category in found[0].message.zh
    assert found[0].suggestion.zh and found[0].suggestion.en


@pytest.mark.parametrize(
    "text",
    [
        "客服已完成“手机拦截短信”的可能性排查。",
        "请尽可能详细地描述复现步骤。",
        "该场景不可能出现重复扣款。",
        "每天抽检不少于3次。",
        "2026年多个部门将调整考勤规则。",
        "会议在3楼多功能厅举行。",
        "9点上下班打卡。",
        "请按说明文档执行，11月20日18:00前完成。",
        "这个事项需要再说明一下。",  # 这个 + 事项, 再 + 说明: neither 这个事 nor 再说
    ],
)
def test_precise_wording_does_not_fire(lint: Lint, text: str) -> None:
    assert only(lint(body=body(text)), "wording-vague") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("本周末加班人数在30左右。", "30左右"),
        ("报名人数为30人左右。", "30人左右"),
        ("共有10多个用户反馈。", "10多"),
        ("整改持续了三个多月。", "三个多"),
    ],
)
def test_approximate_numbers_fire(lint: Lint, text: str, expected: str) -> None:
    report = lint(body=body(text))
    assert spans(report, "wording-vague") == [expected]
    assert "区间" in only(report, "wording-vague")[0].suggestion.zh


def test_approximate_number_suggests_a_range() -> None:
    (m,) = list(approximate_numbers("人数在30左右"))
    assert (m.num, m.unit, m.approx) == ("30", "", "左右")


def test_time_rewrite_uses_the_date_header(lint: Lint) -> None:
    # Wed 18 Nov 2026 + two working days = Fri 20 Nov.
    (f,) = only(lint(body=body("请尽快提交排期。")), "wording-vague")
    assert "11月20日（周五）18:00" in f.suggestion.zh
    assert "Fri 20 Nov 18:00" in f.suggestion.en


def test_vague_ignores_quoted_text_and_subject(lint: Lint) -> None:
    text = "收到，我明天上午确认。\n\n-----原始邮件-----\n发件人: 王芳\n主题: 进度\n\n可能需要尽快处理一些问题。\n"
    report = lint(subject="回复：【通知】可能的调整说明", body=text)
    assert only(report, "wording-vague") == []


def test_vague_categories_param(lint: Lint, demo_policy) -> None:  # type: ignore[no-untyped-def]
    from mailgate.lint import lint_bytes

    policy = demo_policy.with_check("wording-vague", categories=["time"])
    report = lint_bytes(build_eml(body=body("可能需要尽快处理。")), policy)
    assert spans(report, "wording-vague") == ["尽快"]


# --- wording-civility ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "severity"),
    [
        ("同样的错误又出现了，是不是傻？", "是不是傻", Severity.WARNING),
        ("这个要求我们已经说了多少遍。", "说了多少遍", Severity.WARNING),
        ("你们到底有没有排进修复计划？", "你们到底有没有", Severity.WARNING),
        ("请别找借口，给出明确时间。", "别找借口", Severity.WARNING),
        ("问题又出现了！！", "！！", Severity.WARNING),
        ("为什么还没上线??", "??", Severity.WARNING),
        ("PLEASE NOTE：升级后需重新激活工牌。", "PLEASE", Severity.WARNING),
        ("这代码写得真垃圾。", "垃圾", Severity.ERROR),
        ("真是白痴操作。", "白痴", Severity.ERROR),
        ("这个问题TODAY必须解决。", "TODAY", Severity.WARNING),  # an English word, not a function name
    ],
)
def test_civility_fires(lint: Lint, text: str, expected: str, severity: Severity) -> None:
    report = lint(body=body(text))
    found = only(report, "wording-civility")
    assert spans(report, "wording-civility") == [expected]
    assert found[0].severity is severity


@pytest.mark.parametrize(
    "text",
    [
        "合作方邮件被误判为垃圾邮件，进入垃圾邮件箱后没有提醒。",
        "办公区垃圾分类投放调整，各楼层设置垃圾桶。",
        "排查反垃圾规则的命中原因。",
        "HTTP返回码说明见文档，API和SLA均正常。",
        "请使用HTTPS访问，登录走OAUTH。",
        "详见https://wiki.demo.example.cn/PLEASE/README 页面。",
        "问题出在`NULLPOINTER`分支。",
        "这是个好问题？请确认。",
        "用VLOOKUP按单号匹配，部门合计用SUMIFS汇总。",  # spreadsheet function names
    ],
)
def test_civility_hard_negatives(lint: Lint, text: str) -> None:
    assert only(lint(body=body(text)), "wording-civility") == []


def test_civility_checks_the_subject_and_runs_on_external_mail(lint: Lint) -> None:
    report = lint(subject="【通知】你们是不是傻", to=EXTERNAL, body="您好：\n\n请查收。\n")
    (f,) = only(report, "wording-civility")
    assert f.field == "subject"
    assert report.message is not None and report.message.subject[f.start : f.end] == "是不是傻"


def test_repeated_punctuation_has_a_safe_fix(lint: Lint) -> None:
    report = lint(body=body("白屏的问题又出现了！！"))
    (f,) = only(report, "wording-civility")
    assert f.fix is not None and f.fix.applicability is Applicability.SAFE
    (edit,) = f.fix.edits
    assert edit.text == "！"


# --- content-unverified ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("听说技术部下周要调整测试环境。", "听说"),
        ("据说上个月也出现过类似情况。", "据说"),
        ("网传某支付渠道将上调费率。", "网传"),
        ("有传言说发布时间要推迟。", "有传言"),
        ("有人说是因为采购流程没走完。", "有人说"),
        ("这些都是小道消息。", "小道消息"),
    ],
)
def test_unverified_fires(lint: Lint, text: str, expected: str) -> None:
    report = lint(body=body(text))
    assert spans(report, "content-unverified") == [expected]
    assert only(report, "content-unverified")[0].severity is Severity.WARNING


@pytest.mark.parametrize(
    "text",
    [
        "请根据说明书操作。",
        "请再说明一下原因。",
        "我没听说过这个安排。",
        "请勿轻信网传消息，以公司公告为准。",
        "网传的降价消息不属实。",
        "没有人说过要推迟。",
        "岗位要求英语听说读写熟练。",  # 听说 inside a neutral compound: listening and speaking
        "新人培训包括英语听说训练。",
    ],
)
def test_unverified_negatives(lint: Lint, text: str) -> None:
    assert only(lint(body=body(text)), "content-unverified") == []


def test_unverified_neutral_compound_does_not_hide_other_hearsay(lint: Lint) -> None:
    report = lint(body=body("岗位要求英语听说读写熟练。听说下周还要加一轮面试。"))
    assert spans(report, "content-unverified") == ["听说"]
    assert report.message is not None
    assert only(report, "content-unverified")[0].start == report.message.body.index("听说下周")


def test_unverified_runs_on_external_mail(lint: Lint) -> None:
    report = lint(subject="合作进展说明", to=EXTERNAL, body="您好：\n\n听说贵司下月调整接口。\n")
    assert spans(report, "content-unverified") == ["听说"]


# --- data-source -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "转化率为12.6%，环比增长2.4个百分点。",
        "通讯补贴由150元调整为200元。",
        "活动总预算核定为¥150,000。",
        "推广预算8万元。",
        "营收同比增长15%。",
        "新用户数环比下降12。",
        "成本约1.2亿。",
        "转化率达到百分之十二。",
    ],
)
def test_figures_without_source_fire(lint: Lint, text: str) -> None:
    (f,) = only(lint(body=body(text)), "data-source")
    assert f.severity is Severity.WARNING
    assert "数据来源" in f.suggestion.zh


@pytest.mark.parametrize(
    "text",
    [
        "转化率为12.6%。\n数据来源：数据部用户行为分析平台。",
        "报销总额286.4万元，环比下降5.3%。\n统计口径：10月1日至10月31日提交的报销单。",
        "据数据部统计，转化率为12.6%。",
        "转化率为12.6%（数据由数据部提供）。",
        "Conversion was 12.6%. Source: BI dashboard",
        "会议时间：2026年11月19日15:00，地点3楼302会议室，电话13800138021。",
        "共收到用户投诉21起，工单37张。",
        "已完成单元测试，覆盖3个模块。",
        "1. 第一项\n2. 第二项",
        "详见https://example.com/report?rate=50%25 页面。",
    ],
)
def test_no_figures_or_a_source_stay_silent(lint: Lint, text: str) -> None:
    assert only(lint(body=body(text)), "data-source") == []


def test_data_mentions_counts_one_figure_once() -> None:
    got = data_mentions("环比增长2.4个百分点，转化率12.6%")
    assert [(k, s, e) for s, e, k in got] == [("growth", 0, 11), ("percent", 15, 20)]


def test_data_source_does_not_run_on_external_mail(lint: Lint) -> None:
    report = lint(subject="报价说明", to=EXTERNAL, body="您好：\n\n报价为150元。\n")
    assert only(report, "data-source") == []


# --- sensitive-data --------------------------------------------------------------------------


def test_id_number_checksum() -> None:
    assert valid_id_number("110105199003072311")
    assert not valid_id_number("110105199003072312")  # wrong check digit
    assert not valid_id_number("110105199013072311")  # month 13


def test_luhn() -> None:
    assert luhn_valid("6222021234567890128")
    assert not luhn_valid("6222021234567890127")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("员工的身份证号为110105199003072311，请核对。", "身份证号"),
        ("扣款银行卡号为6222021234567890128。", "银行卡号"),
        ("卡号：6222 0212 3456 7890 128", "银行卡号"),
        ("测试账号mall_test，密码：Mall@2026test。", "明文密码"),
        ("数据库 password=S3cretPass!", "明文密码"),
        ("泄露的令牌为：ghp_8fK2mQ7xTa9LbV3nWc5YdR1uZs6PjE4hGt0v，已吊销。", "GitHub"),
        ("AWS密钥AKIAIOSFODNN7EXAMPLE需要轮换。", "AWS"),
        ("接口密钥为sk-proj-abcdefghijklmnopqrstuvwx123。", "API key"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "private key"),
        ("值班：何涛 13800138011，孙杰 13900139012，马军 13700137013。", "手机号"),
        ("AccessKey ID：LTAI5tQ8mXk2Rz7WnVbPc4Hd，用于日志采集。", "Alibaba Cloud"),
        ("SecretId: AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA", "密钥"),
        ("AccessKey Secret：wq7Zk2Lm9Xp4Rt6Yb8Nc3Vd5Hf1Jg0", "密钥"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "密钥"),
    ],
)
def test_sensitive_data_fires(lint: Lint, text: str, kind: str) -> None:
    found = only(lint(body=body(text)), "sensitive-data")
    assert len(found) == 1
    assert kind in found[0].message.zh
    assert found[0].severity is Severity.WARNING  # internal mail


@pytest.mark.parametrize(
    "text",
    [
        "订单号为XH20261117104532。",
        "订单号：4111111111111111",
        "联系方式：何涛 13800138021，孙杰 13900139022。",
        "密码：请通过企业微信单独获取。",
        "密码：******",
        "密码已通过短信发送。",
        "修改密码：https://sso.example.com/reset",
        "工单号CS-20261113-027已关闭，会议号 582-316-907。",
        "何涛 13800138021，13800138021，13800138021",
        "阿里云AccessKey ID以LTAI开头，请勿写进邮件。",
        "AccessKey Secret：每90天轮换一次。",
    ],
)
def test_sensitive_data_negatives(lint: Lint, text: str) -> None:
    assert only(lint(body=body(text)), "sensitive-data") == []


def test_sensitive_data_is_an_error_on_external_mail(lint: Lint) -> None:
    report = lint(subject="联调账号说明", to=EXTERNAL, body="您好：\n\n账号：partner01\n密码：Xh#2026pt\n")
    (f,) = only(report, "sensitive-data")
    assert f.severity is Severity.ERROR
    assert f.fix is not None and f.fix.applicability is Applicability.UNSAFE
    assert "Xh#2026pt" not in f.fix.edits[0].text


def test_mobile_numbers_with_country_code() -> None:
    got = [d for _, _, d in mobile_numbers("+8613800138000, 86-13700137000, a13800138001, 213800138002")]
    assert got == ["13800138000", "13700137000"]


def test_sensitive_items_does_not_report_an_id_as_a_card() -> None:
    kinds = [k for *_, k, _ in sensitive_items("身份证号110105199003072311")]
    assert kinds == ["id"]


# --- typography ------------------------------------------------------------------------------


def test_typography_fixes_spacing_punctuation_width_and_doubles(lint: Lint) -> None:
    text = "今天18:00门禁系统升级,期间请走1楼通道.请在ＡＰＰ中重新绑定，，谢谢。"
    report = lint(body=body(text))
    found = only(report, "typography")
    assert {f.severity for f in found} == {Severity.INFO}
    assert len(found) == 4  # spacing, punctuation, fullwidth, doubled
    assert all(f.fix is not None and f.fix.applicability is Applicability.SAFE for f in found)
    assert report.message is not None
    fixed = report.message.body
    edits = sorted((e for f in found for e in f.fix.edits), key=lambda e: e.start, reverse=True)  # type: ignore[union-attr]
    for e in edits:
        fixed = fixed[: e.start] + e.text + fixed[e.end :]
    assert fixed.startswith("今天 18:00 门禁系统升级，期间请走 1 楼通道。请在 APP 中重新绑定，谢谢。")


def test_typography_leaves_urls_emails_and_code_alone() -> None:
    text = "访问https://a.example.com/x,y或写信给ops@demo.example.cn\n运行`a,b`即可"
    edits = [e for _, _, es in typography_edits(text, ("spacing", "punctuation")) for e in es]
    for start, end, _, _ in edits:
        for ps, pe in protected_spans(text):
            assert not (ps < start < pe or (start < pe and ps < end))


def test_typography_good_text_is_silent(lint: Lint) -> None:
    text = "1. 今天 18:00-19:00 门禁系统升级，期间请走 1 楼东侧临时通道。\n2. 升级后请在 App 中重新绑定工牌。"
    assert only(lint(body=body(text)), "typography") == []


def test_typography_kinds_param(demo_policy) -> None:  # type: ignore[no-untyped-def]
    from mailgate.lint import lint_bytes

    policy = demo_policy.with_check("typography", kinds=["punctuation"])
    report = lint_bytes(build_eml(body=body("今天18:00升级,请注意")), policy)
    (f,) = only(report, "typography")
    assert [e.text for e in f.fix.edits] == ["，"]  # type: ignore[union-attr]


# --- scale -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "可能" * 10 + "数据增长了一些，" * 30000 + "x" * 200000,
        "中文内容没有标点符号" * 100_000,
        "13800138000 6222021234567890128 密码：abcd1234 " * 20000,
    ],
    ids=["mixed-1MB-line", "cjk-1M", "digits"],
)
def test_language_checks_are_linear_on_huge_bodies(lint: Lint, text: str) -> None:
    report = lint(body=text)
    assert report.error is None
    assert len(only(report, "wording-vague")) <= 30
    assert len(only(report, "wording-civility")) <= 20
    # a quarter of the body takes about a quarter of the time (a quadratic step would make it a sixteenth)
    assert growth(lambda n: lint(body=text[: len(text) * n // 4]), 1, factor=4, repeat=2) < 8


def test_lone_surrogates_are_survived(demo_policy) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from mailgate.lint import lint_message
    from mailgate.parse import parse_message

    text = "abc\udcff中文可能出现问题,请尽快处理！！密码：abcd1234\n"
    msg = replace(parse_message(build_eml(body="x")), body=text, new_text=text, closing_start=len(text))
    fired_ids = {f.check for f in lint_message(msg, demo_policy)}
    assert {"wording-vague", "wording-civility", "sensitive-data", "typography"} <= fired_ids
