"""Directory over HTTP: CRUD, departments, CSV import — each change a version, live for the checks."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from mailgate.api import app as app_module
from mailgate.api.routes import directory
from mailgate.lint import lint_bytes
from tests.api.conftest import Api
from tests.conftest import EXAMPLES

CSV = "text/csv; charset=utf-8"


@pytest.fixture
def api(make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch) -> Api:
    mine = [r for r in (directory.read, directory.write) if r not in app_module.API_ROUTERS]
    monkeypatch.setattr(app_module, "API_ROUTERS", [*app_module.API_ROUTERS, *mine])
    return make_api()


def scope_findings(api: Api, example: str) -> list[str]:
    report = lint_bytes((EXAMPLES / example).read_bytes(), api.state.policy)
    return [f.message.get("en") for f in report.findings if f.check.startswith("recipients-")]


def test_people_list_search_and_paging(api: Api) -> None:
    r = api.get("/v1/directory/people", headers=api.viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 14 and body["source"] == "config" and len(body["people"]) == 14
    r = api.get("/v1/directory/people", params={"department": "技术部"})
    assert {p["email"] for p in r.json()["people"]} == {
        "chenming@demo.example.cn", "liuyi@demo.example.cn", "sunjie@demo.example.cn", "lijun@demo.example.cn",
    }  # fmt: skip
    r = api.get("/v1/directory/people", params={"q": "jun li"})  # an alias, any case
    assert [p["email"] for p in r.json()["people"]] == ["lijun@demo.example.cn", "lijun2@demo.example.cn"]
    r = api.get("/v1/directory/people", params={"q": "李军", "limit": 1, "offset": 1})
    assert r.json()["total"] == 2 and [p["email"] for p in r.json()["people"]] == ["lijun2@demo.example.cn"]
    r = api.get("/v1/directory/people/WangFang@Demo.Example.CN")
    assert r.json()["name"] == "王芳" and r.json()["aliases"] == ["Fang Wang", "芳姐"]
    assert api.get("/v1/directory/people/nobody@demo.example.cn").status_code == 404
    assert api.client.get("/v1/directory/people").status_code == 401


def test_departments(api: Api) -> None:
    r = api.get("/v1/directory/departments", headers=api.viewer)
    depts = {d["name"]: d for d in r.json()["departments"]}
    assert set(depts) == {"运营部", "技术部", "市场部", "数据部", "客服部"}
    assert depts["技术部"] == {
        "name": "技术部", "heads": [{"email": "chenming@demo.example.cn", "name": "陈明"}], "members": 4,
    }  # fmt: skip


def test_writes_need_an_admin(api: Api) -> None:
    person = {"email": "new@demo.example.cn", "name": "新人"}
    assert api.client.post("/v1/directory/people", json=person).status_code == 401
    assert api.client.post("/v1/directory/people", json=person, headers=api.viewer).status_code == 403
    r = api.client.post("/v1/directory/import", content=b"email,name,department,role\n", headers={
        **api.viewer, "content-type": CSV})  # fmt: skip
    assert r.status_code == 403
    assert api.store.latest_version() == 0


def test_adding_a_head_changes_the_recipients_scope_result_live(api: Api) -> None:
    # bad-4.eml: 马军 (客服部, member) sends 【紧急】 to two people of 技术部 without a head of 客服部 in
    # To/Cc. The sender-head rule does not apply when the sender is a head of their department.
    before = scope_findings(api, "recipients-scope/bad-4.eml")
    assert any("head of the sender's department" in m for m in before)
    r = api.client.put(
        "/v1/directory/people/majun@demo.example.cn",
        json={"name": "马军", "department": "客服部", "role": "head", "aliases": ["Jun Ma"]},
        headers=api.admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["change"] == {"version": 1, "changed": True}
    assert not any("head of the sender's department" in m for m in scope_findings(api, "recipients-scope/bad-4.eml"))
    # the same through the lint endpoint (the policy the API itself lints with)
    raw = (EXAMPLES / "recipients-scope/bad-4.eml").read_bytes()
    r = api.client.post("/v1/lint", content=raw, headers={**api.admin, "content-type": "message/rfc822"})
    assert "recipients-scope" not in {f["check"] for f in r.json()["findings"]}
    # versioned and audited: who, and the whole list in the admin layer
    row = api.store.get_policy_version(1)
    assert row is not None and row.author.startswith("token:test-admin/")
    people = {p["email"]: p for p in row.doc["directory"]["people"]}
    assert len(people) == 14 and people["majun@demo.example.cn"]["role"] == "head"
    heads = {d["name"]: d["heads"] for d in api.get("/v1/directory/departments").json()["departments"]}
    assert {h["email"] for h in heads["客服部"]} == {"gaoyan@demo.example.cn", "majun@demo.example.cn"}
    # a rollback to version 0 brings the config file's directory back
    assert api.client.post("/v1/policy/rollback/0", headers=api.admin).status_code == 200
    assert any("head of the sender's department" in m for m in scope_findings(api, "recipients-scope/bad-4.eml"))


def test_add_and_delete_change_recipients_directory_live(api: Api) -> None:
    # bad.eml writes to zhaoqang@ (a typo of zhaoqiang@): not in the directory.
    assert any("zhaoqang@demo.example.cn is not in the directory" in m for m in scope_findings(
        api, "recipients-directory/bad.eml"))  # fmt: skip
    new = {"email": "zhaoqang@demo.example.cn", "name": "赵强", "department": "运营部"}
    r = api.client.post("/v1/directory/people", json=new, headers=api.admin)
    assert r.status_code == 201, r.text
    assert r.json()["person"] == {**new, "role": "member", "aliases": []}
    assert not any("zhaoqang" in m for m in scope_findings(api, "recipients-directory/bad.eml"))
    assert api.client.post("/v1/directory/people", json=new, headers=api.admin).status_code == 409
    r = api.client.delete("/v1/directory/people/ZHAOQANG@demo.example.cn", headers=api.admin)
    assert r.status_code == 200 and r.json()["change"]["version"] == 2
    assert any("zhaoqang" in m for m in scope_findings(api, "recipients-directory/bad.eml"))
    assert api.client.delete("/v1/directory/people/zhaoqang@demo.example.cn", headers=api.admin).status_code == 404
    assert api.store.latest_version() == 2


BAD_PEOPLE = [
    ({"email": "not-an-address", "name": "某人"}, "invalid email"),
    ({"email": "a b@demo.example.cn", "name": "某人"}, "invalid email"),
    ({"email": "x@demo.example.cn", "name": "某人\r\nBcc: all@corp"}, "name"),
    ({"email": "x@demo.example.cn", "name": "Evil <evil@ext.com>"}, "name"),
    ({"email": "x@demo.example.cn", "name": "某人", "aliases": ["a|b"]}, "alias"),
    ({"email": "x@demo.example.cn", "name": "某人", "department": "技术部\x00"}, "department"),
]


def test_a_bad_person_is_422_naming_the_field(api: Api) -> None:
    for person, fragment in BAD_PEOPLE:
        r = api.client.post("/v1/directory/people", json=person, headers=api.admin)
        assert r.status_code == 422, r.text
        assert fragment in r.json()["detail"]["message"], (person, r.text)
    assert api.store.latest_version() == 0


def test_schema_errors_are_422(api: Api) -> None:
    for body in ({"email": "x@demo.example.cn"}, {"email": "x@demo.example.cn", "name": "x", "role": "boss"},
                 {"email": "x@demo.example.cn", "name": "x", "is_admin": True}):  # fmt: skip
        assert api.client.post("/v1/directory/people", json=body, headers=api.admin).status_code == 422


def test_put_changes_the_address_and_refuses_a_taken_one(api: Api) -> None:
    body = {"email": "lina.new@demo.example.cn", "name": "李娜", "department": "运营部", "aliases": ["Na Li"]}
    r = api.client.put("/v1/directory/people/lina@demo.example.cn", json=body, headers=api.admin)
    assert r.status_code == 200, r.text
    assert api.get("/v1/directory/people/lina@demo.example.cn").status_code == 404
    assert api.get("/v1/directory/people/lina.new@demo.example.cn").json()["name"] == "李娜"
    body["email"] = "wangfang@demo.example.cn"
    r = api.client.put("/v1/directory/people/lina.new@demo.example.cn", json=body, headers=api.admin)
    assert r.status_code == 409
    r = api.client.put("/v1/directory/people/ghost@demo.example.cn", json={"name": "x"}, headers=api.admin)
    assert r.status_code == 404


def test_rename_department_moves_people_and_warns_about_references(api: Api) -> None:
    r = api.client.put("/v1/directory/departments/市场部", json={"name": "品牌市场部"}, headers=api.admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "品牌市场部" and body["moved"] == 2 and body["members"] == 2
    assert body["heads"] == [{"email": "zhoujing@demo.example.cn", "name": "周静"}]
    assert any("recipient rule" in w for w in body["warnings"])  # 【对外发布】 still requires 市场部
    names = {d["name"] for d in api.get("/v1/directory/departments").json()["departments"]}
    assert "市场部" not in names and "品牌市场部" in names
    r = api.client.put("/v1/directory/departments/无此部门", json={"name": "x"}, headers=api.admin)
    assert r.status_code == 404
    r = api.client.put("/v1/directory/departments/技术部", json={"name": "a;b"}, headers=api.admin)
    assert r.status_code == 422


def _import(api: Api, text: str | bytes, mode: str = "merge", ctype: str = CSV) -> httpx.Response:
    data = text.encode() if isinstance(text, str) else text
    return api.client.post(
        "/v1/directory/import", params={"mode": mode}, content=data, headers={**api.admin, "content-type": ctype}
    )


def test_import_merge_counts_and_version(api: Api) -> None:
    csv_text = (
        "\ufeffemail,name,department,role,aliases\n"
        "wangfang@demo.example.cn,王芳,运营部,head,Fang Wang|芳姐\n"  # unchanged
        "lina@demo.example.cn,李娜,运营部,head,Na Li\n"  # updated (role)
        "\n"
        "new1@demo.example.cn,新人,法务部,member,\n"  # added
        "new2@demo.example.cn,钱七,法务部,head, Qi Qian | 老钱 \n"  # added
    )
    r = _import(api, csv_text)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("added", "updated", "unchanged", "removed", "people")} == {
        "added": 2, "updated": 1, "unchanged": 1, "removed": 0, "people": 16,
    }  # fmt: skip
    assert body["change"] == {"version": 1, "changed": True}
    p = api.get("/v1/directory/people/new2@demo.example.cn").json()
    assert p["aliases"] == ["Qi Qian", "老钱"] and p["role"] == "head"
    assert api.state.policy.directory.by_email("lina@demo.example.cn").role == "head"  # type: ignore[union-attr]


def test_import_replace_and_gb18030(api: Api) -> None:
    text = "email,name,department,role,aliases\nzhangsan@demo.example.cn,张三,总经办,head,\n"
    r = _import(api, text.encode("gb18030"), mode="replace", ctype="text/csv")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["added"], body["removed"], body["people"]) == (1, 14, 1)
    assert [p.name for p in api.state.policy.directory.people] == ["张三"]
    # replacing with nobody would switch the directory checks off: refused
    r = _import(api, "email,name,department,role,aliases\n", mode="replace")
    assert r.status_code == 422


HEAD = "email,name,department,role,aliases\n"
BAD_CSV = [
    ("", "empty"),
    ("mail,name,department,role\nx@demo.example.cn,x,y,member\n", "line 1"),
    (HEAD + "ok@demo.example.cn,甲,部,member,\nbad,乙,部,member,\n", "(line 3): invalid email 'bad'"),
    (
        HEAD + 'ok@demo.example.cn,甲,部,member,"A|\nB"\nbad,乙,部,member,\n',
        "(line 4): invalid email",
    ),  # a quoted newline
    (HEAD + "a@demo.example.cn,甲,部,boss,\n", "(line 2): role must be head or member"),
    (HEAD + "a@demo.example.cn,甲,部,member,,extra\n", "line 2: 6 fields"),
    (HEAD + 'a@demo.example.cn,"甲\n乙",部,member,\n', "(line 2): name"),
    (
        HEAD + "a@demo.example.cn,甲,部,member,\nA@demo.example.cn,乙,部,member,\n",
        "(line 3): A@demo.example.cn is already on line 2",
    ),
    (HEAD + 'a@demo.example.cn,"unterminated,部,member\n', "(line 2): name"),
]


def test_a_malformed_csv_is_422_with_the_line(api: Api) -> None:
    for text, fragment in BAD_CSV:
        r = _import(api, text)
        assert r.status_code == 422, r.text
        assert fragment in r.json()["detail"]["message"], (text, r.text)
    assert api.store.latest_version() == 0


def test_import_refuses_other_media_types(api: Api) -> None:
    r = _import(api, "email,name,department,role\n", ctype="application/json")
    assert r.status_code == 415
