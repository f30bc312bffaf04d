"""POST /v1/policy/simulate: uploads (JSON and multipart) and retained messages, replayed, nothing changed."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from mailgate.api.routes import simulate as route
from mailgate.store import RetainedMessage
from mailgate.store.models import utcnow
from tests.api.conftest import Api
from tests.conftest import EXAMPLES

URL = "/v1/policy/simulate"
BAD = (EXAMPLES / "action-items/bad.eml").read_bytes()
GOOD = (EXAMPLES / "action-items/good.eml").read_bytes()
WARN_ACTION_ITEMS = {"checks": {"action-items": {"severity": "warning"}}}


@pytest.fixture
def sim(api: Api) -> Api:
    """The app with the simulate router (mounted here until app.API_ROUTERS lists it)."""
    app: Any = api.client.app
    if not any(getattr(r, "path", None) == URL for r in app.routes):
        app.include_router(route.router)
    return api


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def retain(api: Api, data: bytes, *, days: float = 7, mail_from: str = "lina@demo.example.cn", **kw: Any) -> str:
    row = RetainedMessage(
        mail_from=mail_from,
        rcpt_to=["zhaoqiang@demo.example.cn"],
        data=data,
        expires_at=utcnow() + dt.timedelta(days=days),
        **kw,
    )
    return api.store.retain(row).id


def post(api: Api, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return api.client.post(URL, json=body, headers=headers or api.admin)


def assert_nothing_changed(api: Api) -> None:
    assert api.store.latest_version() == 0 and api.state.version == 0 and api.state.doc == {}
    check = api.get("/v1/checks/action-items").json()
    assert check["severity"] == "error" and check["sources"]["severity"] == "default"


def test_json_uploads_are_replayed_and_nothing_changes(sim: Api) -> None:
    body = {
        "proposed": WARN_ACTION_ITEMS,
        "retained": False,
        "messages": [b64(BAD), {"name": "ok.eml", "data": b64(GOOD)}],
    }
    r = post(sim, body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["messages"] == 2 and out["truncated"] is False
    assert out["sources"] == {"retained": 0, "uploaded": 2}
    assert (out["verdict_changes"], out["action_changes"]) == (1, 1)
    assert out["verdicts"] == {"fail→warn": 1, "pass→pass": 1}
    assert out["actions"] == {"reject→advise": 1, "deliver→deliver": 1}
    assert out["diff"] == [{"path": "checks.action-items.severity", "old": None, "new": "warning"}]
    assert out["policy_version"] == 0
    [example] = out["examples"]
    assert example["id"] == "upload-1" and example["source"] == "uploaded"
    assert example["before"]["verdict"] == "fail" and example["after"]["action"] == "advise"
    assert_nothing_changed(sim)


def test_multipart_eml_files_and_a_viewer_may_run_it(sim: Api) -> None:
    files = [("files", ("bad.eml", BAD, "message/rfc822")), ("files", ("good.eml", GOOD, "message/rfc822"))]
    data = {"proposed": json.dumps({"checks": {"action-items": {"enabled": False}}}), "retained": "false"}
    r = sim.client.post(URL, data=data, files=files, headers=sim.viewer)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["sources"] == {"retained": 0, "uploaded": 2}
    assert out["verdicts"] == {"fail→pass": 1, "pass→pass": 1}
    assert out["checks"]["action-items"]["messages_removed"] == 1
    assert [e["id"] for e in out["examples"]] == ["bad.eml"]
    assert out["examples"][0]["checks_removed"] == ["action-items"]
    assert_nothing_changed(sim)


def test_a_token_is_required(sim: Api) -> None:
    assert sim.client.post(URL, json={}).status_code == 401
    assert sim.client.post(URL, content=b"{", headers={"Content-Type": "application/json"}).status_code == 401
    assert sim.client.post(URL, json={}, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_retained_messages_are_replayed_and_expired_ones_excluded(sim: Api) -> None:
    live = retain(sim, BAD, audit_id="a" * 32)
    retain(sim, GOOD)
    retain(sim, BAD, days=-1)  # expired, not yet purged
    r = post(sim, {"proposed": {"policy": {"fail": "hold"}}, "messages": [b64(BAD)]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["sources"] == {"retained": 2, "uploaded": 1} and out["messages"] == 3
    assert out["verdict_changes"] == 0 and out["actions"] == {"reject→hold": 2, "deliver→deliver": 1}
    retained = [e for e in out["examples"] if e["source"] == "retained"]
    assert [(e["id"], e["audit_id"]) for e in retained] == [(live, "a" * 32)]
    assert retained[0]["after"]["source"] == "policy"
    off = post(sim, {"proposed": {"policy": {"fail": "hold"}}, "retained": False}).json()
    assert off["messages"] == 0 and off["sources"] == {"retained": 0, "uploaded": 0}
    assert_nothing_changed(sim)


def test_retained_sender_picks_the_department_layer(sim: Api) -> None:
    retain(sim, BAD, mail_from="lina@demo.example.cn")  # 运营部
    retain(sim, BAD, mail_from="chenming@demo.example.cn")  # 技术部
    out = post(sim, {"proposed": {"policy": {"departments": {"技术部": {"fail": "monitor"}}}}}).json()
    assert out["actions"] == {"reject→monitor": 1, "reject→reject": 1}
    assert out["examples"][0]["after"]["source"] == "department:技术部"


def test_limit_truncates(sim: Api) -> None:
    for _ in range(3):
        retain(sim, BAD)
    out = post(sim, {"proposed": WARN_ACTION_ITEMS, "limit": 2}).json()
    assert out["messages"] == 2 and out["truncated"] is True and out["stopped_by"] == "limit"
    out = post(sim, {"proposed": WARN_ACTION_ITEMS, "limit": 3, "messages": [b64(GOOD), b64(GOOD)]}).json()
    assert out["sources"] == {"retained": 1, "uploaded": 2} and out["truncated"] is True
    out = post(sim, {"proposed": WARN_ACTION_ITEMS, "limit": 3}).json()
    assert out["messages"] == 3 and out["truncated"] is False and out["stopped_by"] is None
    out = post(sim, {"proposed": WARN_ACTION_ITEMS, "examples": 1}).json()
    assert out["verdict_changes"] == 3 and len(out["examples"]) == 1
    assert post(sim, {"limit": 5001}).status_code == 422
    assert post(sim, {"limit": 0}).status_code == 422


def test_merge_over_the_admin_layer_or_replace_it(sim: Api) -> None:
    r = sim.client.patch("/v1/checks/action-items", json={"severity": "warning"}, headers=sim.admin)
    assert r.status_code == 200, r.text
    messages = [b64(BAD)]
    same = post(sim, {"proposed": {"policy": {"pass": "deliver"}}, "messages": messages}).json()
    assert same["verdicts"] == {"warn→warn": 1} and same["policy_version"] == 1
    for body in ({"proposed": {"checks": {"action-items": {"severity": None}}}}, {"proposed": {}, "replace": True}):
        out = post(sim, {**body, "messages": messages}).json()
        assert out["verdicts"] == {"warn→fail": 1} and out["actions"] == {"advise→reject": 1}
        assert out["diff"] == [{"path": "checks.action-items.severity", "old": "warning", "new": None}]
    assert sim.store.latest_version() == 1 and sim.state.doc == {"checks": {"action-items": {"severity": "warning"}}}


INVALID_PROPOSALS: list[dict[str, Any]] = [
    {"checks": {"no-such-check": {"enabled": False}}},
    {"checks": {"action-items": {"severity": "loud"}}},
    {"checks": {"action-items": {"no_such_param": 1}}},
    {"checks": {"action-items": "off"}},
    {"checks": []},
    {"policy": {"fail": "explode"}},
    {"policy": {"departments": []}},
    {"policy": []},
    {"lexicons": {"x": {"y": 1}}},
    {"directory": {"people": [{"email": "not-an-address"}]}},
    {"directory": {"people": [1]}},
    {"templates": {}},
]


def test_invalid_proposals_are_422(sim: Api) -> None:
    for proposed in INVALID_PROPOSALS:  # one store for all: a fresh PostgreSQL database each is slow
        r = post(sim, {"proposed": proposed, "messages": [b64(GOOD)]})
        assert r.status_code == 422, (proposed, r.text)
        detail = r.json()["detail"]
        assert detail["code"] == "invalid" and detail["message"], proposed
    assert_nothing_changed(sim)


def test_bad_requests(sim: Api) -> None:
    assert post(sim, {"messages": ["not base64!"]}).status_code == 422
    assert post(sim, {"messages": [""]}).status_code == 422
    assert post(sim, {"proposed": {}, "role": "admin"}).status_code == 422  # no mass assignment
    assert post(sim, {"messages": [b64(GOOD)] * (route.MAX_UPLOADS + 1)}).status_code == 422
    r = sim.client.post(URL, content=BAD, headers={**sim.admin, "Content-Type": "message/rfc822"})
    assert r.status_code == 415
    form = {"proposed": "{not json"}
    assert sim.client.post(URL, data=form, files=[("f", ("a.eml", GOOD))], headers=sim.admin).status_code == 422
    form = {"proposed": "[" * 100 + "]" * 100}
    assert sim.client.post(URL, data=form, files=[("f", ("a.eml", GOOD))], headers=sim.admin).status_code == 400
    form = {"limit": "many"}
    assert sim.client.post(URL, data=form, files=[("f", ("a.eml", GOOD))], headers=sim.admin).status_code == 422
    assert sim.client.post(URL, files=[("f", ("empty.eml", b""))], headers=sim.admin).status_code == 422
    many = [("f", (f"{i}.eml", b"Subject: x\r\n\r\nx\r\n")) for i in range(route.MAX_UPLOADS + 1)]
    assert sim.client.post(URL, files=many, headers=sim.admin).status_code == 400
    assert_nothing_changed(sim)


def test_one_dry_run_at_a_time(sim: Api) -> None:
    assert route._running.acquire(blocking=False)
    try:
        r = post(sim, {"messages": [b64(GOOD)]})
        assert r.status_code == 429 and r.headers["retry-after"]
        assert r.json()["detail"]["code"] == "busy"
    finally:
        route._running.release()
    assert post(sim, {"messages": [b64(GOOD)]}).status_code == 200
