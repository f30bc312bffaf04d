"""The built-in mail templates of the gallery (``templates/*.toml``) pass the regulation.

Every built-in, rendered with its own example and with a second, different set of realistic
values (another sender and department), must lint with no error and no warning for the demo
organisation (``checks/examples``): SPEC §2 is the contract the gallery drafts for.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest

from mailgate.model import Report, Severity
from mailgate.policy import Policy
from mailgate.templating.compose import FormError
from mailgate.templating.gallery import Gallery, Rendered
from mailgate.templating.spec import TEMPLATE_ID, TemplateSpec, builtin_specs, example_values

CHINA = dt.timezone(dt.timedelta(hours=8))
DATE = dt.datetime(2026, 11, 18, 10, 0, tzinfo=CHINA)  # a Wednesday
BUILTINS = builtin_specs()
IDS = sorted(BUILTINS)

# The kinds of mail the regulation names (SPEC top, seed 000): (tag, title) of each.
REQUIRED_KINDS = [
    ("部门协作", "部门协作需求"),
    ("会议通知", "会议通知"),
    ("会议纪要", "会议纪要"),
    ("项目进度", "项目进度汇报"),
    ("周报", "周报"),
    ("月报", "月报"),
    ("问题反馈", "问题反馈"),
    ("紧急", "紧急故障通报"),
    ("数据", "数据汇报"),
    ("对外发布", "对外发布协同确认"),
    ("政策变动", "政策变动预通知"),
    ("战略调整", "战略调整预通知"),
    ("交接备忘录", "交接备忘录"),
    ("通知", "任务安排"),
]

NUMBERED = re.compile(r"^[ \t]*1\. [^\n]+\n(?:[^\n]*\n)*?[ \t]*2\. ", re.M)
ACTION_HEADING = re.compile(r"^(?:行动项|任务分工)[^\n]{0,8}[：:]\n1\. ", re.M)
OWNER_AND_DEADLINE = re.compile(r"负责人：\S+；完成时限：\d{4} ?年 ?\d{1,2} ?月 ?\d{1,2} ?日前")

# A second set of values per template: another sender (another department where it makes
# sense), other recipients, optional fields left empty, absolute dates after DATE.
SECOND: dict[str, dict[str, Any]] = {
    "approval-request": {
        "from": "sunjie@demo.example.cn",
        "to": ["chenming@demo.example.cn"],
        "cc": [],
        "values": {
            "item": "积分商城压力测试服务器",
            "reason": "12月会员日前需要按生产规格完成积分商城的压力测试",
            "details": ["租用8核16G云服务器4台，租期14天", "费用共计2240元，从技术部测试环境预算中列支"],
            "cost_basis": "云服务商官网11月18日的按量计费价格",
            "actions": [{"task": "审批压力测试服务器租用申请", "owner": "陈明", "deadline": "2026-11-20"}],
        },
    },
    "dept-collab": {
        "from": "hetao@demo.example.cn",
        "to": ["sunjie@demo.example.cn"],
        "cc": ["xuli@demo.example.cn", "chenming@demo.example.cn"],
        "values": {
            "project": "会员标签平台",
            "need_kind": "埋点数据同步",
            "background": "会员标签每天凌晨更新，需要使用App前一天的埋点数据",
            "points": ["每天02:00前将前一天的App埋点数据同步到数据仓库", "同步失败时向数据部何涛发送告警邮件"],
            "actions": [
                {"task": "评估埋点数据同步方案并反馈排期", "owner": "孙杰", "deadline": "2026-11-24"},
                {"task": "提供数据仓库的目标表结构", "owner": "何涛", "deadline": "2026-11-20"},
            ],
        },
    },
    "meeting-notice": {
        "from": "zhoujing@demo.example.cn",
        "to": [
            "wuyu@demo.example.cn",
            "wangfang@demo.example.cn",
            "chenming@demo.example.cn",
            "xuli@demo.example.cn",
        ],
        "cc": [],
        "values": {
            "topic": "2027年品牌推广计划评审",
            "start": "2026-11-20T10:00",
            "place": "总部5楼501会议室",
            "attendees": "周静、吴宇、王芳、陈明、徐丽",
            "agenda": ["2027年品牌推广预算和渠道方案（吴宇）", "各部门配合事项确认（周静）"],
            "actions": [{"task": "发送品牌推广计划初稿", "owner": "吴宇", "deadline": "2026-11-19"}],
        },
    },
    "meeting-minutes": {
        "from": "majun@demo.example.cn",
        "to": ["gaoyan@demo.example.cn", "lina@demo.example.cn"],
        "cc": ["sunjie@demo.example.cn"],
        "values": {
            "topic": "积分兑换投诉处理流程复盘",
            "held": "2026-11-17T15:00",
            "place": "客服中心2楼培训室",
            "attendees": "高燕、马军、李娜、孙杰",
            "decisions": [
                "积分兑换类投诉由客服部一线直接登记，24小时内转技术部处理",
                "技术部处理完成后在工单中填写原因，客服部负责回访会员",
            ],
            "actions": [
                {"task": "更新积分兑换投诉的处理流程说明", "owner": "高燕", "deadline": "2026-11-20"},
                {"task": "在工单系统中增加处理原因字段", "owner": "孙杰", "deadline": "2026-11-25"},
            ],
        },
    },
    "project-progress": {
        "from": "sunjie@demo.example.cn",
        "to": ["chenming@demo.example.cn"],
        "cc": ["zhoujing@demo.example.cn"],
        "values": {
            "project": "官网改版项目",
            "as_of": "2026-11-18",
            "phase": "开发",
            "status": "比计划延后2天，原因是首页设计稿11月16日才定稿",
            "done": ["完成首页和活动页的前端开发", "完成内容管理后台的文章发布功能"],
            "planned": ["完成产品介绍页的开发", "11月24日提交测试"],
            "actions": [
                {"task": "确认产品介绍页的文案终稿", "owner": "周静", "deadline": "2026-11-20"},
                {"task": "提交官网改版的测试版本", "owner": "孙杰", "deadline": "2026-11-24"},
            ],
        },
    },
    "weekly-report": {
        "from": "hetao@demo.example.cn",
        "to": ["xuli@demo.example.cn"],
        "cc": [],
        "values": {
            "week_start": "2026-11-16",
            "week_end": "2026-11-20",
            "done": ["完成会员标签平台的标签口径文档", "完成11月会员日活动数据的导出和核对"],
            "planned": ["搭建会员流失预警模型的样本数据集", "配合运营部完成12月会员日的数据需求评审"],
            "actions": [{"task": "提交会员流失预警模型的样本说明", "owner": "何涛", "deadline": "2026-11-27"}],
        },
    },
    "monthly-report": {
        "from": "wuyu@demo.example.cn",
        "to": ["zhoujing@demo.example.cn"],
        "cc": ["xuli@demo.example.cn"],
        "values": {
            "team": "市场部品牌组",
            "month": "2026年11月",
            "done": ["完成会员日活动的微信公众号推文6篇", "完成2027年品牌推广计划初稿"],
            "metrics": ["公众号推文平均阅读量1.2万次，环比增长15%", "品牌投放费用共计38万元，占季度预算的42%"],
            "data_source": "微信公众号后台和财务部费用报表，已由数据部徐丽复核",
            "planned": ["完成2027年品牌推广计划终稿", "启动12月会员日的宣传物料设计"],
            "actions": [{"task": "提交2027年品牌推广计划终稿", "owner": "吴宇", "deadline": "2026-11-30"}],
        },
    },
    "issue-feedback": {
        "from": "lina@demo.example.cn",
        "to": ["hetao@demo.example.cn"],
        "cc": ["xuli@demo.example.cn", "wangfang@demo.example.cn"],
        "values": {
            "summary": "会员运营看板11月17日数据缺失",
            "system": "数据部会员运营看板",
            "found_at": "2026-11-18T09:00",
            "details": ["看板中11月17日的新增会员数和活跃会员数显示为空", "11月16日及以前的数据显示正常"],
            "impact": "运营部11月18日的会员日报无法按时发出",
            "actions": [
                {"task": "排查11月17日数据缺失的原因并补数", "owner": "何涛", "deadline": "2026-11-19"},
                {"task": "补数后核对会员日报并发出", "owner": "李娜", "deadline": "2026-11-19"},
            ],
        },
    },
    "urgent-incident": {
        "from": "majun@demo.example.cn",
        "to": ["gaoyan@demo.example.cn", "chenming@demo.example.cn"],
        "cc": [],
        "values": {
            "system": "客服热线",
            "fault": "呼入线路中断",
            "start": "2026-11-18T09:10",
            "symptom": "客服热线呼入后直接挂断，09:12起没有新的来电接入",
            "impact": "全部客服热线来电；在线客服和工单系统正常",
            "state": "处理中，已在App和官网发布热线维护公告",
            "measures": [
                "09:20在App和官网发布热线维护公告，引导会员使用在线客服",
                "09:25联系线路运营商报障，工单号为20261118-0457",
            ],
            "actions": [
                {"task": "跟进运营商恢复热线线路", "owner": "马军", "deadline": "2026-11-18"},
                {"task": "检查呼叫中心系统的中继配置", "owner": "陈明", "deadline": "2026-11-18"},
            ],
        },
    },
    "data-report": {
        "from": "wuyu@demo.example.cn",
        "to": ["zhoujing@demo.example.cn"],
        "cc": ["xuli@demo.example.cn"],
        "values": {
            "topic": "11月公众号推广效果",
            "period": "2026年11月1日至11月17日",
            "figures": ["推文带来的新增会员1560人，占同期新增会员的18.2%", "推广费用12.5万元，单个新增会员成本80.1元"],
            "source_dept": "数据部",
            "confirmed_by": "徐丽",
            "actions": [{"task": "根据获客成本调整12月推文投放计划", "owner": "吴宇", "deadline": "2026-11-25"}],
        },
    },
    "external-release": {
        "from": "liuyi@demo.example.cn",
        "to": ["wuyu@demo.example.cn"],
        "cc": ["chenming@demo.example.cn"],
        "values": {
            "topic": "App 5.8版本更新说明",
            "release_at": "2026-11-25T10:00",
            "channels": "应用商店和App公告",
            "points": ["新增“积分+现金”兑换方式", "修复积分流水页面加载缓慢的问题（请市场部确认对外表述）"],
            "actions": [
                {"task": "确认更新说明的对外表述", "owner": "吴宇", "deadline": "2026-11-21"},
                {"task": "提交应用商店审核", "owner": "刘毅", "deadline": "2026-11-23"},
            ],
        },
    },
    "policy-change": {
        "from": "gaoyan@demo.example.cn",
        "to": ["majun@demo.example.cn", "wangfang@demo.example.cn"],
        "cc": [],
        "values": {
            "policy": "客服工单升级规则",
            "effective": "2026-11-20T09:00",
            "changes": [
                "积分类工单超过24小时未解决时自动升级到客服部主管",
                "升级后的工单由客服部主管在4小时内回复会员",
            ],
            "reason": "11月会员日期间积分类工单的平均处理时长超过48小时",
            "scope": "客服部全部积分类工单",
            "actions": [{"task": "在工单系统中配置升级规则", "owner": "马军", "deadline": "2026-11-19"}],
        },
    },
    "strategy-change": {
        "from": "chenming@demo.example.cn",
        "to": ["liuyi@demo.example.cn", "sunjie@demo.example.cn"],
        "cc": ["wangfang@demo.example.cn"],
        "values": {
            "topic": "技术部2027年研发资源分配",
            "decided_by": "技术部11月17日部门会议",
            "effective": "2026-12-01T09:00",
            "background": "2027年会员业务的重点调整为积分商城和线上会员日",
            "changes": ["积分商城组由3人增加到5人", "门店活动系统进入维护期，只处理缺陷"],
            "actions": [
                {"task": "提交积分商城组的人员调整名单", "owner": "刘毅", "deadline": "2026-11-25"},
                {"task": "整理门店活动系统的维护清单", "owner": "孙杰", "deadline": "2026-11-27"},
            ],
        },
    },
    "handover-memo": {
        "from": "zhaoqiang@demo.example.cn",
        "to": ["lina@demo.example.cn"],
        "cc": ["wangfang@demo.example.cn"],
        "values": {
            "work": "会员日活动报名审核",
            "reason": "赵强11月23日起轮岗到客服部",
            "handover_date": "2026-11-23",
            "receiver": "李娜",
            "items": ["会员日活动报名审核后台的账号权限", "报名审核标准文档（运营部共享盘“会员日”目录）"],
            "giver_duty": "11月22日前完成审核标准讲解，交接后通过邮件解答问题",
            "receiver_duty": "11月23日起负责全部报名审核",
            "checkpoints": ["11月20日15:00双方当面讲解审核标准", "11月27日17:00双方确认交接完成"],
            "actions": [
                {"task": "讲解报名审核标准并移交账号权限", "owner": "赵强", "deadline": "2026-11-20"},
                {"task": "确认交接完成", "owner": "李娜", "deadline": "2026-11-27"},
            ],
        },
    },
    "task-assignment": {
        "from": "xuli@demo.example.cn",
        "to": ["hetao@demo.example.cn"],
        "cc": [],
        "values": {
            "task": "会员流失预警模型上线",
            "goal": "12月15日前上线会员流失预警模型，每周一输出流失风险会员名单",
            "due": "2026-12-15",
            "owner": "何涛",
            "actions": [
                {"task": "完成模型训练和离线评估", "owner": "何涛", "deadline": "2026-12-05"},
                {"task": "评审模型评估结果", "owner": "徐丽", "deadline": "2026-12-08"},
            ],
        },
    },
}


@pytest.fixture(scope="module")
def gallery() -> Iterator[Gallery]:
    g = Gallery(None)
    try:
        yield g
    finally:
        g.close()


def problems(report: Report) -> list[str]:
    return [
        f"{f.check} {f.severity.value}: {f.message.zh} | {f.suggestion.zh}"
        for f in report.findings
        if f.severity in (Severity.ERROR, Severity.WARNING)
    ]


def assert_compliant(spec: TemplateSpec, r: Rendered) -> None:
    assert r.report.error is None, r.report.error
    assert problems(r.report) == [], "\n" + r.body
    assert r.subject.startswith(f"【{spec.tag}】"), r.subject
    heading = ACTION_HEADING.search(r.body)
    assert heading, r.body
    assert NUMBERED.search(r.body, 0, heading.start()), r.body  # numbered points before the action items
    assert OWNER_AND_DEADLINE.search(r.body), r.body
    assert r.body.rstrip().endswith(r.envelope.sender.department), r.body  # the signature
    assert f"X-Mailgate-Template: {spec.id}".encode() in r.eml
    assert r.suggested_cc == ()


def test_the_kinds_the_regulation_names_exist() -> None:
    have = {(s.tag, s.title) for s in BUILTINS.values()}
    missing = [kind for kind in REQUIRED_KINDS if kind not in have]
    assert missing == []
    assert len(BUILTINS) >= 14


def test_every_builtin_has_a_second_set_of_values() -> None:
    assert sorted(SECOND) == IDS


@pytest.mark.parametrize("template_id", IDS)
def test_metadata(template_id: str) -> None:
    spec = BUILTINS[template_id]
    assert TEMPLATE_ID.fullmatch(spec.id)
    assert spec.description and spec.keywords
    assert all(f.label for f in spec.fields)
    assert any(f.type == "actions" and f.required for f in spec.fields)
    assert spec.example.from_ and spec.example.to


@pytest.mark.parametrize("template_id", IDS)
def test_example_passes(template_id: str, gallery: Gallery, demo_policy: Policy) -> None:
    spec = BUILTINS[template_id]
    assert_compliant(spec, gallery.render_example(spec, demo_policy, DATE))


@pytest.mark.parametrize("template_id", IDS)
def test_example_has_no_info_either(template_id: str, gallery: Gallery, demo_policy: Policy) -> None:
    """Info is allowed by the regulation, but a built-in example is meant to be spotless."""
    r = gallery.render_example(BUILTINS[template_id], demo_policy, DATE)
    assert [f"{f.check}: {f.message.zh}" for f in r.report.findings] == []


@pytest.mark.parametrize("template_id", IDS)
def test_example_passes_today(template_id: str, gallery: Gallery, demo_policy: Policy) -> None:
    """Relative example dates keep the example compliant on whatever day it is shown."""
    spec = BUILTINS[template_id]
    r = gallery.render_example(spec, demo_policy)
    assert r.report.error is None and problems(r.report) == [], "\n" + r.body


@pytest.mark.parametrize("template_id", sorted(SECOND))
def test_other_values_pass(template_id: str, gallery: Gallery, demo_policy: Policy) -> None:
    spec = BUILTINS[template_id]
    case = SECOND[template_id]
    r = gallery.render(spec, case["values"], case["from"], case["to"], case["cc"], demo_policy, DATE)
    assert r.envelope.sender.email != spec.example.from_
    assert_compliant(spec, r)


@pytest.mark.parametrize("template_id", IDS)
def test_passes_the_upload_validation(template_id: str, gallery: Gallery, demo_policy: Policy) -> None:
    """A built-in passes what an admin upload of the same shape must pass (compile, dummy render)."""
    rendered = gallery.validate(BUILTINS[template_id], demo_policy)
    assert rendered.report.error is None


def test_search_finds_by_keyword(gallery: Gallery) -> None:
    assert [e.spec.id for e in gallery.search("交接")] == ["handover-memo"]
    assert {"meeting-notice", "meeting-minutes"} <= {e.spec.id for e in gallery.search("会议")}
    assert "urgent-incident" in {e.spec.id for e in gallery.search("故障")}


def test_optional_fields_leave_no_labels(gallery: Gallery, demo_policy: Policy) -> None:
    case = SECOND["project-progress"]
    r = gallery.render(
        BUILTINS["project-progress"], case["values"], case["from"], case["to"], case["cc"], demo_policy, DATE
    )
    assert "下一里程碑" not in r.body and "风险与问题" not in r.body
    assert "\n\n\n" not in r.body


def test_urgent_gets_high_importance(gallery: Gallery, demo_policy: Policy) -> None:
    r = gallery.render_example(BUILTINS["urgent-incident"], demo_policy, DATE)
    assert b"\nImportance: high" in r.eml


def test_policy_notice_too_late_is_flagged(gallery: Gallery, demo_policy: Policy) -> None:
    """The template does not hide the 24-hour rule: an effective time 10 hours away fails."""
    case = SECOND["policy-change"]
    values = {**case["values"], "effective": "2026-11-18T20:00"}
    r = gallery.render(BUILTINS["policy-change"], values, case["from"], case["to"], case["cc"], demo_policy, DATE)
    assert "policy-prenotice" in {f.check for f in r.report.findings}


def test_data_source_department_must_be_recipient(gallery: Gallery, demo_policy: Policy) -> None:
    case = SECOND["data-report"]
    r = gallery.render(BUILTINS["data-report"], case["values"], case["from"], case["to"], [], demo_policy, DATE)
    assert "recipients-scope" in {f.check for f in r.report.findings}
    assert any("数据部" in s for s in (f.suggestion.zh for f in r.report.findings))


@pytest.mark.parametrize("template_id", IDS)
def test_empty_required_field_is_refused(template_id: str, gallery: Gallery, demo_policy: Policy) -> None:
    spec = BUILTINS[template_id]
    required = [f for f in spec.fields if f.required]
    assert required
    ex = spec.example
    for field in required:
        values = example_values(spec, DATE.date())
        values[field.name] = [] if field.type in ("lines", "actions") else "  "
        with pytest.raises(FormError) as exc:
            gallery.render(spec, values, ex.from_, ex.to, ex.cc, demo_policy, DATE)
        assert set(exc.value.errors) == {field.name}
        assert field.label in exc.value.errors[field.name]
