"""/v1/templates: the catalogue, rendering to a linted mail, and admin uploads (issue 5)."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from email import message_from_bytes
from email import policy as email_policy
from typing import Any

import pytest

from tests.api.conftest import Api

CHINA = dt.timezone(dt.timedelta(hours=8))
SENDER, TO = "lina@demo.example.cn", ["liuyi@demo.example.cn"]
CC = ["wangfang@demo.example.cn", "chenming@demo.example.cn"]
FIELDS: dict[str, Any] = {
    "project": "会员积分系统",
    "need_kind": "接口开发",
    "background": "会员积分活动计划于12月上线，运营后台需要查询积分流水",
    "points": ["提供按会员编号查询积分流水的接口", "查询响应时间不超过1秒"],
    "actions": [{"task": "评估接口开发工作量并反馈排期", "owner": "刘毅", "deadline": "2026-11-27"}],
}
DATE = "2026-11-18T10:00:00+08:00"


def render(api: Api, template_id: str = "dept-collab", **over: Any) -> Any:
    body = {"from": SENDER, "to": TO, "cc": CC, "fields": FIELDS, "date": DATE} | over
    return api.client.post(f"/v1/templates/{template_id}/render", json=body, headers=api.viewer)


def spec_of(api: Api, template_id: str = "dept-collab") -> dict[str, Any]:
    r = api.client.get(f"/v1/templates/{template_id}", headers=api.viewer)
    assert r.status_code == 200, r.text
    return copy.deepcopy(r.json()["spec"])


def upload(api: Api, spec: dict[str, Any], template_id: str, **headers: str) -> Any:
    return api.client.put(f"/v1/templates/{template_id}", json=spec | {"id": template_id}, headers=api.admin | headers)


def test_catalogue_lists_the_builtins_and_searches(api: Api) -> None:
    r = api.client.get("/v1/templates", headers=api.viewer)
    assert r.status_code == 200
    ids = {t["id"] for t in r.json()}
    assert "dept-collab" in ids and len(ids) >= 14
    assert all(t["source"] == "builtin" for t in r.json())
    found = api.client.get("/v1/templates", params={"q": "部门协作"}, headers=api.viewer).json()
    assert [t["id"] for t in found] == ["dept-collab"]
    assert api.client.get("/v1/templates", params={"q": "没有这种模板"}, headers=api.viewer).json() == []


def test_a_template_reads_whole(api: Api) -> None:
    r = api.client.get("/v1/templates/dept-collab", headers=api.viewer).json()
    assert r["tag"] == "部门协作" and r["spec"]["subject"].startswith("【部门协作】")
    assert {f["name"] for f in r["spec"]["fields"]} >= {"project", "points", "actions"}
    assert api.client.get("/v1/templates/no-such", headers=api.viewer).status_code == 404


def test_render_gives_subject_body_eml_mailto_and_a_passing_report(api: Api) -> None:
    r = render(api)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["subject"] == "【部门协作】会员积分系统接口开发需求"
    assert "1. 提供按会员编号查询积分流水的接口" in out["body"] and "行动项" in out["body"]
    assert out["report"]["verdict"] == "pass", out["report"]
    msg = message_from_bytes(out["eml"].encode(), policy=email_policy.default)
    assert str(msg["Subject"]) == out["subject"] and msg["X-Mailgate-Template"] == "dept-collab"
    assert "李娜" in str(msg["From"]) and "lina@demo.example.cn" in str(msg["From"])  # the directory's real name
    assert msg["Date"].datetime == dt.datetime(2026, 11, 18, 10, tzinfo=CHINA)
    assert out["mailto"].startswith("mailto:liuyi@demo.example.cn?cc=wangfang@demo.example.cn,chenming@")
    assert out["suggested_cc"] == []


def test_render_proposes_the_cc_the_recipient_rules_require(api: Api) -> None:
    out = render(api, cc=[]).json()
    assert out["report"]["verdict"] == "fail"
    assert {f["check"] for f in out["report"]["findings"]} == {"recipients-scope"}
    assert out["suggested_cc"] == ["王芳 <wangfang@demo.example.cn>", "陈明 <chenming@demo.example.cn>"]


def test_render_flags_vague_wording_typed_into_a_field(api: Api) -> None:
    fields = FIELDS | {"points": ["尽快提供查询积分流水的接口", "查询响应时间不超过1秒"]}
    out = render(api, fields=fields).json()
    vague = [f for f in out["report"]["findings"] if f["check"] == "wording-vague"]
    assert vague and out["body"][vague[0]["start"] : vague[0]["end"]] == "尽快"
    assert vague[0]["suggestion"]


def test_field_values_are_data_never_template_source(api: Api) -> None:
    fields = FIELDS | {"background": "{{ 7*7 }} {% raw %}x{% endraw %} {{ sender.__class__ }}"}
    out = render(api, fields=fields).json()
    assert "{{ 7*7 }} {% raw %}x{% endraw %} {{ sender.__class__ }}" in out["body"]


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"fields": {k: v for k, v in FIELDS.items() if k != "project"}}, "project"),
        ({"fields": FIELDS | {"due": "下周"}}, "due"),
        ({"fields": FIELDS | {"bogus": "x"}}, "fields"),
        ({"fields": FIELDS | {"actions": [{"task": "x", "owner": "y", "deadline": "z", "role": "admin"}]}}, "actions"),
        ({"to": []}, "to"),
        ({"from": "not an address"}, "from"),
    ],
)
def test_bad_form_values_are_422_naming_the_field(api: Api, over: dict[str, Any], field: str) -> None:
    r = render(api, **over)
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"]["fields"]


def test_admin_uploads_a_template_that_renders_and_lints(api: Api) -> None:
    spec = spec_of(api) | {"id": "tech-collab", "title": "技术协作需求", "keywords": ["技术"]}
    r = upload(api, spec, "tech-collab")
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "admin" and r.json()["version"] == 1
    assert r.json()["example"]["report"]["verdict"] in ("pass", "warn")
    listed = {t["id"]: t for t in api.client.get("/v1/templates", headers=api.viewer).json()}
    assert listed["tech-collab"]["updated_by"].startswith("token:test-admin")
    assert render(api, "tech-collab").json()["report"]["verdict"] == "pass"


def test_create_refuses_an_existing_id_and_put_replaces_with_if_match(api: Api) -> None:
    spec = spec_of(api)
    assert api.client.post("/v1/templates", json=spec, headers=api.admin).status_code == 409  # a built-in's id
    new = spec | {"id": "collab-two"}
    assert api.client.post("/v1/templates", json=new, headers=api.admin).status_code == 201
    assert upload(api, new | {"title": "改名"}, "collab-two", **{"If-Match": '"1"'}).json()["version"] == 2
    stale = upload(api, new | {"title": "又改名"}, "collab-two", **{"If-Match": '"1"'})
    assert stale.status_code == 409 and "2" in stale.json()["detail"]["message"]
    assert api.client.get("/v1/templates/collab-two", headers=api.viewer).json()["title"] == "改名"


def test_overriding_a_builtin_and_deleting_the_override_brings_it_back(api: Api) -> None:
    spec = spec_of(api) | {"title": "部门协作需求（公司版）"}
    assert upload(api, spec, "dept-collab").status_code == 200
    assert api.client.get("/v1/templates/dept-collab", headers=api.viewer).json()["source"] == "admin"
    assert api.client.delete("/v1/templates/dept-collab", headers=api.admin).status_code == 204
    back = api.client.get("/v1/templates/dept-collab", headers=api.viewer).json()
    assert back["source"] == "builtin" and back["title"] == "部门协作需求"
    r = api.client.delete("/v1/templates/dept-collab", headers=api.admin)
    assert r.status_code == 404 and "built-in" in r.json()["detail"]["message"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"body": "{% for x in %}"}, "template-syntax"),
        ({"body": "{{ no_such_field }}"}, "template-undefined"),
        ({"subject": "关于{{ project }}的事"}, "template-fails-lint"),  # no 【tag】: the example fails subject-tag
        ({"role": "admin"}, "invalid"),  # mass assignment: unknown keys are refused
        ({"fields": [{"name": "sender", "label": "x"}]}, "invalid"),  # a reserved name
    ],
)
def test_an_upload_is_validated_before_it_is_stored(api: Api, change: dict[str, Any], code: str) -> None:
    r = upload(api, spec_of(api) | change, "bad-one")
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["code"] == code
    if code == "invalid":
        assert "role" in r.json()["detail"]["message"] or "reserved" in r.json()["detail"]["message"]
    assert api.client.get("/v1/templates/bad-one", headers=api.viewer).status_code == 404


def test_viewers_cannot_change_templates(api: Api) -> None:
    spec = spec_of(api) | {"id": "by-viewer"}
    assert api.client.put("/v1/templates/by-viewer", json=spec, headers=api.viewer).status_code == 403
    assert api.client.post("/v1/templates", json=spec, headers=api.viewer).status_code == 403
    assert api.client.delete("/v1/templates/dept-collab", headers=api.viewer).status_code == 403
    assert api.client.get("/v1/templates/by-viewer", headers=api.viewer).status_code == 404


def test_every_instance_sees_an_upload(make_api: Callable[..., Api]) -> None:
    a, b = make_api(), make_api()
    assert upload(a, spec_of(a) | {"title": "共享模板"}, "shared-one").status_code == 200
    assert b.client.get("/v1/templates/shared-one", headers=b.viewer).json()["title"] == "共享模板"


def test_gallery_off_hides_pages_and_api(make_api: Callable[..., Api]) -> None:
    api = make_api(gallery=False)
    assert api.client.get("/gallery").status_code == 404
    assert api.client.get("/v1/templates", headers=api.viewer).status_code == 404


INJECTIONS = [
    {"from": "Hi\r\nBcc: all@corp.example <lina@demo.example.cn>"},
    {"from": "李娜\n <lina@demo.example.cn>"},
    {"to": ["a@x.example\r\nRCPT TO:<b@y.example>"]},
    {"cc": ["王芳 <wangfang@demo.example.cn>\r\nBcc: all@corp.example"]},
    {"fields": FIELDS | {"project": "积分\r\nBcc: all@corp.example"}},  # a field the subject is built from
    {"fields": FIELDS | {"need_kind": "x" * 1_000_000}},  # a 1 MB subject part
    {"fields": FIELDS | {"points": ["第一\x00条", "第二条"]}},
    {"fields": FIELDS | {"actions": [{"task": "评估\nBcc: x@y.example", "owner": "刘毅", "deadline": "2026-12-01"}]}},
]


@pytest.mark.parametrize("over", INJECTIONS)
def test_hostile_35_fields_that_end_up_in_generated_mail_are_422(api: Api, over: dict[str, Any]) -> None:
    r = render(api, **over)
    assert r.status_code == 422, r.text[:300]
    assert "Bcc: all@corp" not in r.text or "detail" in r.json()


def test_hostile_35_a_multiline_textarea_stays_in_the_body(api: Api) -> None:
    fields = FIELDS | {"background": "第一行\r\nBcc: all@corp.example\r\n第三行"}
    out = render(api, fields=fields).json()
    msg = message_from_bytes(out["eml"].encode(), policy=email_policy.default)
    assert msg["Bcc"] is None and "Bcc: all@corp.example" in msg.get_content()
