"""The open report page (capability URL) and the audit log API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from mailgate.api import app as app_module
from mailgate.api.routes import reports
from mailgate.store import AuditEntry
from tests.api.conftest import Api

FINDING = {
    "check": "recipients-scope", "severity": "error", "message": "【紧急】邮件缺少本部门负责人",
    "suggestion": "抄送 高燕 <gaoyan@demo.example.cn>", "field": "cc", "start": 0, "end": 0, "fix": None,
}  # fmt: skip


@pytest.fixture
def api(make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch) -> Api:
    mine = [r for r in (reports.pages, reports.read) if r not in app_module.API_ROUTERS]
    monkeypatch.setattr(app_module, "API_ROUTERS", [*app_module.API_ROUTERS, *mine])
    return make_api()


def audit(api: Api, **kw: object) -> AuditEntry:
    values: dict[str, object] = {
        "sender": "majun@demo.example.cn", "recipients": ["chenming@demo.example.cn"], "verdict": "fail",
        "findings": ["recipients-scope"], "action": "reject", "source": "department:客服部", "client": "10.9.8.7",
        "auth_user": "majun-login", "outcome": "550 5.7.1 upstream-secret", "smtp_code": 550,
        "report": {"verdict": "fail", "findings": [FINDING]}, "at": dt.datetime(2026, 11, 18, 2, 0, tzinfo=dt.UTC),
        **kw,
    }  # fmt: skip
    return api.store.add_audit(AuditEntry(**values))


def test_the_report_page_is_open_and_shows_findings_but_nothing_internal(api: Api) -> None:
    entry = audit(api)
    r = api.client.get(f"/reports/{entry.id}")  # no token: the id is the capability
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["x-content-type-options"] == "nosniff"
    page = r.text
    shown = [
        "未通过", "已退回，未发送", "rejected", "recipients-scope", "【紧急】邮件缺少本部门负责人",
        "抄送 高燕 &lt;gaoyan@demo.example.cn&gt;", "[override: 理由]", "2026-11-18 10:00:00", entry.id,
    ]  # fmt: skip
    for text in shown:
        assert text in page, text
    for hidden in ("10.9.8.7", "majun-login", "upstream-secret", "客服部", "chenming", "<script"):
        assert hidden not in page, hidden


def test_finding_text_is_escaped(api: Api) -> None:
    message = "显示名 '<script>alert(1)</script>' 与目录不符"
    evil = {**FINDING, "message": message, "suggestion": '"><img src=x onerror=alert(1)>'}
    entry = audit(api, report={"verdict": "warn", "findings": [evil]}, verdict="warn", action="advise",
                  override_reason="<b>急</b>")  # fmt: skip
    page = api.client.get(f"/reports/{entry.id}").text
    assert "<script>" not in page and "<img" not in page and "<b>急" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x" in page
    assert "[override:" not in page  # the hint is for rejections only


def test_hold_and_override_texts(api: Api) -> None:
    held = audit(api, action="hold")
    assert "待管理员审核" in api.client.get(f"/reports/{held.id}").text
    overridden = audit(api, action="deliver", override_reason="客户急需")
    page = api.client.get(f"/reports/{overridden.id}").text
    assert "已送达" in page and "客户急需" in page and "[override: 理由]" not in page
    crashed = audit(api, verdict="crash", action="tempfail", report=None, findings=[])
    assert "检查未完成" in api.client.get(f"/reports/{crashed.id}").text


def test_unknown_or_malformed_ids_are_the_same_404_page(api: Api) -> None:
    entry = audit(api)
    for bad in ("0" * 32, entry.id.upper(), entry.id + "0", entry.id[:-1], "x", "%2e%2e", "%00", "a" * 200):
        r = api.client.get(f"/reports/{bad}")
        assert r.status_code == 404, bad
        assert "报告不存在" in r.text and r.headers["content-security-policy"] == reports.CSP


def test_audit_list_filters_and_paging(api: Api) -> None:
    a = audit(api, at=dt.datetime(2026, 11, 18, 1, tzinfo=dt.UTC))
    b = audit(api, at=dt.datetime(2026, 11, 17, 1, tzinfo=dt.UTC), sender="LiuYi@demo.example.cn", verdict="pass",
              action="deliver", findings=[])  # fmt: skip
    c = audit(api, at=dt.datetime(2026, 11, 16, 1, tzinfo=dt.UTC), verdict="warn", action="advise")
    r = api.get("/v1/audit", headers=api.viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 3 and [e["id"] for e in body["entries"]] == [a.id, b.id, c.id]
    first = body["entries"][0]
    assert "report" not in first and first["at"] == "2026-11-18T01:00:00+00:00" and first["client"] == "10.9.8.7"

    def ids(**params: object) -> list[str]:
        r = api.get("/v1/audit", params=params)
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()["entries"]]

    assert ids(sender="liuyi@DEMO.example.cn") == [b.id]
    assert ids(verdict="warn") == [c.id]
    assert ids(action="reject") == [a.id]
    assert ids(since="2026-11-17T09:00:00+08:00") == [a.id, b.id]  # 01:00 UTC, inclusive
    assert ids(since="2026-11-17T01:00:01", until="2026-11-18T01:00:00Z") == []
    assert ids(limit=1, offset=1) == [b.id]
    for params in ({"verdict": "nope"}, {"action": "explode"}, {"since": "yesterday"}, {"limit": 0}):
        assert api.get("/v1/audit", params=params).status_code == 422
    assert api.client.get("/v1/audit").status_code == 401


def test_audit_entry(api: Api) -> None:
    entry = audit(api, override_reason="客户急需", override_by="majun@demo.example.cn")
    r = api.get(f"/v1/audit/{entry.id}", headers=api.viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["report"]["findings"] == [FINDING] and body["override_reason"] == "客户急需"
    assert body["source"] == "department:客服部" and body["recipients"] == ["chenming@demo.example.cn"]
    assert api.get("/v1/audit/" + "0" * 32).status_code == 404
    assert api.client.get(f"/v1/audit/{entry.id}").status_code == 401
