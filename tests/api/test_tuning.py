"""Tuning over HTTP: checks, tags, lexicons, recipient rules and the verdict → action layers.

Every change must show in the effective values (with ``admin`` as their source) and in the very
next ``POST /v1/lint`` or ``state.table.decide(...)``; every invalid change is refused with a reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailgate.policy import Policy, load_policy
from tests.api.conftest import Api
from tests.conftest import EXAMPLES, build_eml

RFC822 = {"Content-Type": "message/rfc822"}
DOC_SECTIONS = {"What it checks", "Why", "Bad", "Good", "Fix safety", "Params"}


def lint(api: Api, raw: bytes) -> Any:
    r = api.client.post("/v1/lint", content=raw, headers={**api.admin, **RFC822})
    assert r.status_code == 200, r.text
    return r.json()


def lint_example(api: Api, name: str) -> Any:
    return lint(api, (EXAMPLES / name).read_bytes())


def checks_of(report: dict[str, Any]) -> set[str]:
    return {f["check"] for f in report["findings"]}


def patch(api: Api, check_id: str, body: dict[str, Any], status: int = 200) -> Any:
    r = api.client.patch(f"/v1/checks/{check_id}", json=body, headers=api.admin)
    assert r.status_code == status, r.text
    return r.json()


def reason(response_json: dict[str, Any]) -> str:
    detail = response_json["detail"]
    return detail["message"] if isinstance(detail, dict) else str(detail)


def body_message(text: str, subject: str = "【通知】办公区电力检修安排说明") -> bytes:
    body = f"赵强：\n\n{text}\n\n行动项：\n1. 确认检修安排；负责人：赵强；截止时间：11月20日18:00前。\n\n李娜\n运营部\n"
    return build_eml(subject=subject, body=body, to="赵强 <zhaoqiang@demo.example.cn>")


# -- checks --------------------------------------------------------------------------------------


def test_list_checks_documents_every_check(api: Api, demo_policy: Policy) -> None:
    r = api.get("/v1/checks", headers=api.viewer)
    assert r.status_code == 200
    body = r.json()
    assert body["policy_version"] == 0
    checks = body["checks"]
    assert len(checks) == 25
    assert [c["id"] for c in checks] == [spec.id for spec in demo_policy.registry]
    for c in checks:
        assert set(c["doc"]) >= DOC_SECTIONS, c["id"]
        assert all(c["doc"][s].strip() for s in DOC_SECTIONS), c["id"]
        assert c["summary"]
        assert c["severity"] in {"error", "warning", "info"} and c["severity"] == c["default_severity"]
        assert c["enabled"] is True
        schema = c["params_schema"]
        assert schema["type"] == "object"
        assert set(schema.get("properties", {})) == set(c["params"]), c["id"]
        assert c["sources"] == {"enabled": "default", "severity": "default"}, c["id"]
    one = api.get("/v1/checks/subject-topic").json()
    assert one["params"]["min_chars"] == 6 and one["params_schema"]["properties"]["min_chars"]["type"] == "integer"
    assert one["policy_version"] == 0
    assert api.get("/v1/checks/no-such-check").status_code == 404


def test_disable_a_check_drops_its_finding(api: Api) -> None:
    assert "action-items" in checks_of(lint_example(api, "action-items/bad.eml"))
    body = patch(api, "action-items", {"enabled": False})
    assert body["enabled"] is False and body["sources"]["enabled"] == "admin"
    assert body["sources"]["severity"] == "default"
    assert api.get("/v1/checks/action-items").json()["enabled"] is False
    report = lint_example(api, "action-items/bad.eml")
    assert "action-items" not in checks_of(report)
    assert report["verdict"] == "pass"
    patch(api, "action-items", {"enabled": True})
    assert "action-items" in checks_of(lint_example(api, "action-items/bad.eml"))


def test_lower_severity_changes_the_verdict(api: Api) -> None:
    assert lint_example(api, "action-items/bad.eml")["verdict"] == "fail"
    body = patch(api, "action-items", {"severity": "warning"})
    assert body["severity"] == "warning" and body["default_severity"] == "error"
    assert body["sources"]["severity"] == "admin"
    report = lint_example(api, "action-items/bad.eml")
    assert report["verdict"] == "warn"
    assert {f["severity"] for f in report["findings"] if f["check"] == "action-items"} == {"warning"}
    patch(api, "action-items", {"severity": "info"})
    assert lint_example(api, "action-items/bad.eml")["verdict"] == "pass"


def test_params_change_the_effective_value_and_the_lint(api: Api) -> None:
    assert "subject-topic" not in checks_of(lint_example(api, "action-items/good.eml"))
    body = patch(api, "subject-topic", {"params": {"min_chars": 30}})
    assert body["params"]["min_chars"] == 30 and body["params"]["max_chars"] == 50
    assert body["sources"]["min_chars"] == "admin" and "max_chars" not in body["sources"]
    assert "subject-topic" in checks_of(lint_example(api, "action-items/good.eml"))
    # a second params change keeps the first
    body = patch(api, "subject-topic", {"params": {"max_chars": 45}})
    assert body["params"]["min_chars"] == 30 and body["params"]["max_chars"] == 45


INVALID_PATCHES: list[tuple[str, dict[str, Any], int, str]] = [
    ("subject-topic", {"params": {"min_chars": "many"}}, 422, "min_chars"),
    ("subject-topic", {"params": {"min_chars": [1]}}, 422, "min_chars"),
    ("subject-topic", {"params": {"no_such_param": 1}}, 422, "no_such_param"),
    ("subject-topic", {"params": {"enabled": "maybe"}}, 422, "enabled"),
    ("subject-topic", {"severity": "fatal"}, 422, "severity"),
    ("subject-topic", {"enabled": "maybe"}, 422, "enabled"),
    ("subject-topic", {"colour": "red"}, 422, "colour"),
    ("subject-topic", {"params": []}, 422, "params"),
    ("recipients-scope", {"params": {"rules": [{"tag": "x", "require": "nobody"}]}}, 422, "require"),
    ("no-such-check", {"enabled": False}, 404, "no-such-check"),
]


def test_invalid_patches_are_refused_with_a_reason(api: Api) -> None:
    for check_id, body, status, needle in INVALID_PATCHES:
        r = api.client.patch(f"/v1/checks/{check_id}", json=body, headers=api.admin)
        assert r.status_code == status, (body, r.text)
        assert needle in reason(r.json()), (body, r.text)
    assert api.state.version == 0 and api.store.latest_version() == 0
    assert api.get("/v1/policy/history").json()["versions"] == []


def _config_policy(tmp_path: Path) -> Policy:
    config = tmp_path / "mailgate.toml"
    config.write_text(
        "[organization]\n"
        'internal_domains = ["demo.example.cn"]\n'
        f"directory = {str(EXAMPLES / 'directory.csv')!r}\n"
        "[checks.subject-topic]\n"
        'severity = "warning"\n'
        "min_chars = 8\n",
        encoding="utf-8",
    )
    return load_policy(config, env={})


class TestConfigFileValues:
    """A policy whose mailgate.toml sets subject-topic: admin changes lie over it and come off again."""

    @pytest.fixture
    def demo_policy(self, tmp_path: Path) -> Policy:
        return _config_policy(tmp_path)

    def test_delete_admin_restores_config_values(self, api: Api) -> None:
        _delete_admin_restores_config_values(api)


def _delete_admin_restores_config_values(api: Api) -> None:
    before = api.get("/v1/checks/subject-topic").json()
    assert before["severity"] == "warning" and before["params"]["min_chars"] == 8
    assert before["sources"] == {"enabled": "default", "severity": "config", "min_chars": "config"}

    body = patch(api, "subject-topic", {"enabled": False, "severity": "error", "params": {"min_chars": 12}})
    assert (body["enabled"], body["severity"], body["params"]["min_chars"]) == (False, "error", 12)
    assert body["sources"] == {"enabled": "admin", "severity": "admin", "min_chars": "admin"}
    patch(api, "subject-tag", {"severity": "warning"})  # another check's change must survive the reset

    r = api.client.delete("/v1/checks/subject-topic/admin", headers=api.admin)
    assert r.status_code == 200, r.text
    after = r.json()
    for key in ("enabled", "severity", "params", "sources"):
        assert after[key] == before[key], key
    assert after["change"]["changed"] is True
    assert api.get("/v1/checks/subject-tag").json()["severity"] == "warning"
    # resetting again changes nothing
    again = api.client.delete("/v1/checks/subject-topic/admin", headers=api.admin).json()
    assert again["change"]["changed"] is False
    assert api.client.delete("/v1/checks/nope/admin", headers=api.admin).status_code == 404


def test_check_writes_need_an_admin(api: Api) -> None:
    assert api.client.patch("/v1/checks/action-items", json={"enabled": False}, headers=api.viewer).status_code == 403
    assert api.client.delete("/v1/checks/action-items/admin", headers=api.viewer).status_code == 403
    assert api.client.patch("/v1/checks/action-items", json={"enabled": False}).status_code == 401
    assert api.get("/v1/checks/action-items").json()["enabled"] is True


# -- tags ----------------------------------------------------------------------------------------


def test_new_tag_is_accepted_by_subject_tag(api: Api) -> None:
    raw = body_message("本周六办公区进行电力检修，检修时间为9:00至12:00。", subject="【培训】本周六办公区电力检修安排")
    assert "subject-tag" in checks_of(lint(api, raw))
    tags = api.get("/v1/tags", headers=api.viewer).json()["tags"]
    assert "通知" in tags and "培训" not in tags
    r = api.client.put("/v1/tags", json={"tags": [*tags, "培训", "培训"]}, headers=api.admin)
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == [*tags, "培训"]  # duplicates dropped, order kept
    assert api.get("/v1/tags").json()["tags"] == [*tags, "培训"]
    assert api.get("/v1/checks/subject-tag").json()["sources"]["tags"] == "admin"
    assert "subject-tag" not in checks_of(lint(api, raw))
    # dropping 通知 makes the good example fail the tag check
    r = api.client.put("/v1/tags", json={"tags": ["培训"]}, headers=api.admin)
    assert r.status_code == 200
    assert "subject-tag" in checks_of(lint_example(api, "action-items/good.eml"))


def test_bad_tags_are_422(api: Api) -> None:
    bodies: tuple[dict[str, Any], ...] = (
        {"tags": []},
        {"tags": ["【通知】"]},
        {"tags": ["a\nb"]},
        {"tags": "通知"},
        {"tags": ["通知"], "x": 1},
        {},
    )
    for body in bodies:
        assert api.client.put("/v1/tags", json=body, headers=api.admin).status_code == 422, body
    assert api.store.latest_version() == 0


# -- lexicons ------------------------------------------------------------------------------------


def test_lexicon_words_drive_wording_vague(api: Api) -> None:
    hedge_text = "检修期间兴许会出现短时告警，请提前保存工作文件。"
    raw = body_message(hedge_text)
    assert "wording-vague" not in checks_of(lint(api, raw))
    r = api.client.patch("/v1/lexicons/vague", json={"hedge": {"add": ["兴许"]}}, headers=api.admin)
    assert r.status_code == 200, r.text
    assert "兴许" in r.json()["categories"]["hedge"]
    assert "兴许" in api.get("/v1/lexicons/vague").json()["categories"]["hedge"]
    assert "兴许" in api.get("/v1/lexicons").json()["lexicons"]["vague"]["hedge"]
    [finding] = [f for f in lint(api, raw)["findings"] if f["check"] == "wording-vague"]
    assert "兴许" in finding["message"]

    # removing a shipped word silences it; adding it back restores it
    raw2 = body_message("检修期间可能会出现短时告警，请提前保存工作文件。")
    assert "wording-vague" in checks_of(lint(api, raw2))
    r = api.client.patch("/v1/lexicons/vague", json={"hedge": {"remove": ["可能"]}}, headers=api.admin)
    assert r.status_code == 200, r.text
    assert "可能" not in r.json()["categories"]["hedge"] and "兴许" in r.json()["categories"]["hedge"]
    assert "wording-vague" not in checks_of(lint(api, raw2))
    api.client.patch("/v1/lexicons/vague", json={"hedge": {"add": ["可能"]}}, headers=api.admin)
    assert "wording-vague" in checks_of(lint(api, raw2))


def test_lexicon_errors(api: Api) -> None:
    r = api.client.patch("/v1/lexicons/no-such-lexicon", json={"x": {"add": ["a"]}}, headers=api.admin)
    assert r.status_code == 404
    assert api.get("/v1/lexicons/no-such-lexicon").status_code == 404
    r = api.client.patch("/v1/lexicons/vague", json={"no_such_category": {"add": ["a"]}}, headers=api.admin)
    assert r.status_code == 422
    assert "no_such_category" in reason(r.json())
    bad: list[dict[str, Any]] = [
        {"hedge": {"add": "兴许"}},
        {"hedge": {"add": [""]}},
        {"hedge": {"insert": ["x"]}},
        {"hedge": []},
    ]
    for body in bad:
        assert api.client.patch("/v1/lexicons/vague", json=body, headers=api.admin).status_code == 422, body
    assert api.client.patch("/v1/lexicons/vague", json={"hedge": {"add": ["x"]}}, headers=api.viewer).status_code == 403
    assert api.store.latest_version() == 0


# -- recipient rules -----------------------------------------------------------------------------


def test_recipient_rules_replace_the_table(api: Api) -> None:
    rules = api.get("/v1/recipient-rules", headers=api.viewer).json()["rules"]
    assert {"tag": "部门协作", "require": "cross-department", "department": ""} in rules
    assert "recipients-scope" in checks_of(lint_example(api, "recipients-scope/bad.eml"))
    kept = [r for r in rules if r["tag"] != "部门协作"]
    r = api.client.put("/v1/recipient-rules", json={"rules": kept}, headers=api.admin)
    assert r.status_code == 200, r.text
    assert r.json()["rules"] == kept and r.json()["change"]["changed"] is True
    assert api.get("/v1/recipient-rules").json()["rules"] == kept
    assert "recipients-scope" not in checks_of(lint_example(api, "recipients-scope/bad.eml"))
    # put it back: the finding returns
    r = api.client.put("/v1/recipient-rules", json={"rules": rules}, headers=api.admin)
    assert r.status_code == 200
    assert "recipients-scope" in checks_of(lint_example(api, "recipients-scope/bad.eml"))


def test_invalid_recipient_rules_are_422(api: Api) -> None:
    for rules in (
        [{"tag": "数据", "require": "everyone"}],
        [{"tag": "对外发布", "require": "department"}],  # department rule without a department
        [{"tag": "数据", "require": "source-department", "extra": 1}],
        [{"require": "sender-head"}],
        "none",
    ):
        r = api.client.put("/v1/recipient-rules", json={"rules": rules}, headers=api.admin)
        assert r.status_code == 422, (rules, r.text)
    assert api.store.latest_version() == 0
    assert api.get("/v1/recipient-rules").json()["rules"][0]["tag"] == "部门协作"


# -- verdict → action layers ---------------------------------------------------------------------


def test_policy_layers_drive_the_decision_table(api: Api) -> None:
    table = api.state.table
    assert table.decide("fail").action == "reject" and table.decide("fail").source == "default"
    r = api.get("/v1/policy", headers=api.viewer).json()
    assert r["defaults"]["fail"] == "reject" and r["global"] == {} and r["departments"] == {} and r["senders"] == {}

    r = api.client.put("/v1/policy/global", json={"fail": "hold", "format": True}, headers=api.admin)
    assert r.status_code == 200, r.text
    assert r.json()["global"] == {"fail": "hold", "format": True}
    d = api.state.table.decide("fail")
    assert (d.action, d.source, d.format) == ("hold", "policy", True)

    r = api.client.put("/v1/policy/departments/市场部", json={"warn": "hold", "fail": "reject"}, headers=api.admin)
    assert r.status_code == 200, r.text
    assert r.json()["departments"] == {"市场部": {"warn": "hold", "fail": "reject"}}
    d = api.state.table.decide("warn", department="市场部")
    assert (d.action, d.source) == ("hold", "department:市场部")
    assert api.state.table.decide("warn", department="技术部").action == "advise"
    assert api.state.table.decide("fail", department="市场部").action == "reject"

    r = api.client.put("/v1/policy/senders/WuYu@Demo.Example.CN", json={"fail": "monitor"}, headers=api.admin)
    assert r.status_code == 200, r.text
    assert r.json()["senders"] == {"wuyu@demo.example.cn": {"fail": "monitor"}}
    d = api.state.table.decide("fail", sender="wuyu@demo.example.cn", department="市场部")
    assert (d.action, d.source) == ("monitor", "sender:wuyu@demo.example.cn")

    # replacing the global layer keeps the departments and senders
    r = api.client.put("/v1/policy/global", json={"warn": "annotate"}, headers=api.admin)
    assert r.json()["global"] == {"warn": "annotate"}
    assert r.json()["departments"] and r.json()["senders"]
    assert api.state.table.decide("fail").action == "reject"  # back to the default
    assert api.state.table.decide("warn").action == "annotate"

    r = api.client.delete("/v1/policy/departments/市场部", headers=api.admin)
    assert r.status_code == 200 and r.json()["departments"] == {}
    assert api.state.table.decide("warn", department="市场部").action == "annotate"
    r = api.client.delete("/v1/policy/senders/wuyu@demo.example.cn", headers=api.admin)
    assert r.status_code == 200 and r.json()["senders"] == {}
    assert api.state.table.decide("fail", sender="wuyu@demo.example.cn").action == "reject"
    assert api.get("/v1/policy").json()["policy_version"] == api.state.version == 6


BAD_LAYERS: list[tuple[str, dict[str, Any]]] = [
    ("/v1/policy/global", {"fail": "explode"}),
    ("/v1/policy/global", {"fail": "hold", "departments": {}}),
    ("/v1/policy/global", {"format": "yes please"}),
    ("/v1/policy/global", {"maybe": "hold"}),
    ("/v1/policy/departments/市场部", {"warn": "shred"}),
    ("/v1/policy/senders/a@demo.example.cn", {"pass": "bounce"}),
]


def test_bad_policy_layers_are_422(api: Api) -> None:
    for url, body in BAD_LAYERS:
        r = api.client.put(url, json=body, headers=api.admin)
        assert r.status_code == 422, (url, body, r.text)
    assert api.store.latest_version() == 0
    assert api.state.table.decide("fail").action == "reject"


def test_policy_writes_need_an_admin(api: Api) -> None:
    for method, url in (
        ("PUT", "/v1/policy/global"),
        ("PUT", "/v1/policy/departments/市场部"),
        ("DELETE", "/v1/policy/departments/市场部"),
        ("PUT", "/v1/tags"),
        ("PUT", "/v1/recipient-rules"),
    ):
        r = api.client.request(method, url, json={"fail": "hold"}, headers=api.viewer)
        assert r.status_code == 403, (method, url)
