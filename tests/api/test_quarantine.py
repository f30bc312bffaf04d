"""Quarantine over HTTP: list, show, release (outbox or upstream; refusals keep it held), discard."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from collections.abc import Callable, Iterator

import pytest

from mailgate.api import app as app_module
from mailgate.api.routes import quarantine
from mailgate.relay.testing import CaptureSink, free_port
from mailgate.store import AuditEntry, QuarantineEntry
from tests.api.conftest import Api
from tests.relay.conftest import wait_until

MESSAGE = (
    "From: 吴宇 <wuyu@demo.example.cn>\r\nTo: 刘毅 <liuyi@demo.example.cn>\r\n"
    "Subject: =?utf-8?b?44CQ6YOo6Zeo5Y2P5L2c44CR5o6S5pyf?=\r\n\r\n正文\r\n"
).encode()
FINDING = {
    "check": "recipients-scope", "severity": "error", "message": "缺少部门负责人", "suggestion": "抄送周静",
    "field": "cc", "start": 0, "end": 0, "fix": None,
}  # fmt: skip
REPORT = {"verdict": "fail", "findings": [FINDING]}


@pytest.fixture
def api(make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch) -> Api:
    mine = [r for r in (quarantine.read, quarantine.write) if r not in app_module.API_ROUTERS]
    monkeypatch.setattr(app_module, "API_ROUTERS", [*app_module.API_ROUTERS, *mine])
    return make_api()


def hold(api: Api, data: bytes = MESSAGE, rcpts: tuple[str, ...] = ("liuyi@demo.example.cn",)) -> QuarantineEntry:
    audit = api.store.add_audit(AuditEntry(sender="wuyu@demo.example.cn", recipients=["liuyi@demo.example.cn"],
                                           verdict="fail", findings=["recipients-scope"], action="hold",
                                           source="department:市场部", report=REPORT))  # fmt: skip
    return api.store.add_quarantine(
        QuarantineEntry(mail_from="wuyu@demo.example.cn", rcpt_to=list(rcpts), data=data,
                        mail_options=[], audit_id=audit.id, verdict="fail", findings=["recipients-scope"])
    )  # fmt: skip


@pytest.fixture
def upstream(api: Api) -> Iterator[CaptureSink]:
    """Point ``[relay] upstream`` of the API's base policy at a capturing SMTP server."""
    with CaptureSink() as sink:
        base = api.state.base
        api.state.base = dataclasses.replace(base, raw={**base.raw, "relay": {"upstream": f"127.0.0.1:{sink.port}"}})
        yield sink


def test_list_and_show(api: Api) -> None:
    first, second = hold(api), hold(api)
    r = api.get("/v1/quarantine", headers=api.viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2 and {m["id"] for m in body["messages"]} == {first.id, second.id}
    item = body["messages"][0]
    assert item["subject"] == "【部门协作】排期" and item["size"] == len(MESSAGE) and item["status"] == "held"
    assert api.get("/v1/quarantine", params={"limit": 1, "offset": 1}).json()["messages"][0]["id"] in {
        first.id, second.id}  # fmt: skip
    assert api.get("/v1/quarantine", params={"status": "released"}).json()["total"] == 0
    assert api.get("/v1/quarantine", params={"status": "bogus"}).status_code == 422

    r = api.get(f"/v1/quarantine/{first.id}", headers=api.viewer)
    shown = r.json()
    assert shown["report"]["findings"][0]["suggestion"] == "抄送周静" and shown["action_source"] == "department:市场部"
    assert shown["audit_id"] == first.audit_id and shown["rcpt_to"] == ["liuyi@demo.example.cn"]
    r = api.get(f"/v1/quarantine/{first.id}", params={"raw": "1"}, headers=api.viewer)
    assert r.status_code == 200 and r.headers["content-type"] == "message/rfc822" and r.content == MESSAGE
    assert api.get("/v1/quarantine/" + "0" * 32).status_code == 404
    assert api.get("/v1/quarantine/not-hex").status_code == 422
    assert api.client.get("/v1/quarantine").status_code == 401


def test_viewer_cannot_release_or_discard(api: Api) -> None:
    entry = hold(api)
    for action in ("release", "discard"):
        assert api.client.post(f"/v1/quarantine/{entry.id}/{action}", headers=api.viewer).status_code == 403
        assert api.client.post(f"/v1/quarantine/{entry.id}/{action}").status_code == 401
    assert api.store.get_quarantine(entry.id).status == "held"  # type: ignore[union-attr]


def test_release_to_the_outbox_once(api: Api) -> None:
    entry = hold(api)
    r = api.client.post(f"/v1/quarantine/{entry.id}/release", headers=api.admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "released" and body["decided_by"].startswith("token:test-admin/")
    assert body["delivered_via"] == "the local outbox" and body["sender_notified"] is True
    out = api.store.outbox(kind="mail")
    assert len(out) == 1 and out[0].data == MESSAGE and out[0].rcpt_to == ["liuyi@demo.example.cn"]
    [notice] = api.store.outbox(kind="report")  # the sender hears of it
    assert notice.rcpt_to == ["wuyu@demo.example.cn"]
    text = email.message_from_bytes(notice.data, policy=email.policy.default)
    assert text["Auto-Submitted"] == "auto-generated" and text["X-Mailgate-Report"] == "released"
    content = text.get_content()
    assert "《【部门协作】排期》已由管理员审核放行" in content and f"/quarantine/{entry.id}" in content
    row = api.store.get_quarantine(entry.id)
    assert row is not None and row.status == "released" and row.decided_by == body["decided_by"]
    r = api.client.post(f"/v1/quarantine/{entry.id}/release", headers=api.admin)
    assert r.status_code == 409 and len(api.store.outbox(kind="mail")) == 1 and len(api.store.outbox()) == 2
    assert api.client.post(f"/v1/quarantine/{entry.id}/discard", headers=api.admin).status_code == 409
    assert api.client.post(f"/v1/quarantine/{'f' * 32}/release", headers=api.admin).status_code == 404
    nobody = hold(api, rcpts=())
    r = api.client.post(f"/v1/quarantine/{nobody.id}/release", headers=api.admin)
    assert r.status_code == 409 and r.json()["detail"]["code"] == "no-recipients"


def test_release_through_the_upstream(api: Api, upstream: CaptureSink) -> None:
    entry = hold(api)
    r = api.client.post(f"/v1/quarantine/{entry.id}/release", headers=api.admin)
    assert r.status_code == 200, r.text
    # the message, then the sender's notice, both through the upstream
    assert [m.rcpt_tos for m in upstream.messages] == [["liuyi@demo.example.cn"], ["wuyu@demo.example.cn"]]
    assert upstream.messages[0].data.replace(b"\r\n", b"\n") == MESSAGE.replace(b"\r\n", b"\n")
    assert b"X-Mailgate-Report: released" in upstream.messages[1].data
    assert api.store.outbox() == []
    # one-shot deliveries: each session ends with QUIT, none is left idling in a throwaway pool
    assert wait_until(lambda: upstream.quit_count == upstream.ehlo_count == 2)


def test_a_permanent_refusal_is_502_and_the_message_stays_held(api: Api, upstream: CaptureSink) -> None:
    upstream.behaviour.data_reply = "554 5.7.1 policy says no"
    entry = hold(api)
    r = api.client.post(f"/v1/quarantine/{entry.id}/release", headers=api.admin)
    assert r.status_code == 502, r.text
    detail = r.json()["detail"]
    assert detail["smtp_code"] == 554 and "policy says no" in detail["message"]
    assert api.store.get_quarantine(entry.id).status == "held"  # type: ignore[union-attr]
    upstream.behaviour.data_reply = None  # the next attempt goes through
    assert api.client.post(f"/v1/quarantine/{entry.id}/release", headers=api.admin).status_code == 200
    assert len(upstream.messages) == 2  # the message and the sender's notice (none for the refused try)


def test_an_unreachable_upstream_is_503_and_the_message_stays_held(api: Api) -> None:
    base = api.state.base
    api.state.base = dataclasses.replace(base, raw={**base.raw, "relay": {"upstream": f"127.0.0.1:{free_port()}"}})
    entry = hold(api)
    r = api.client.post(f"/v1/quarantine/{entry.id}/release", headers=api.admin)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "60" and r.json()["detail"]["smtp_code"] == 451
    assert api.store.get_quarantine(entry.id).status == "held"  # type: ignore[union-attr]
    assert api.store.outbox() == []


def test_discard(api: Api) -> None:
    entry = hold(api)
    r = api.client.post(f"/v1/quarantine/{entry.id}/discard", headers=api.admin)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "discarded" and r.json()["decided_by"].startswith("token:test-admin/")
    assert r.json()["sender_notified"] is True
    assert api.client.post(f"/v1/quarantine/{entry.id}/release", headers=api.admin).status_code == 409
    assert api.store.outbox(kind="mail") == []
    [notice] = api.store.outbox(kind="report")
    content = email.message_from_bytes(notice.data, policy=email.policy.default).get_content()
    assert "已由管理员审核后丢弃，不会投递" in content
    body = api.get("/v1/quarantine", params={"status": "all"}).json()
    assert [m["status"] for m in body["messages"]] == ["discarded"]


def test_no_notice_to_an_outside_or_robot_sender(api: Api) -> None:
    for sender in ("someone@outside.example.com", "mailer-daemon@demo.example.cn", ""):
        audit = api.store.add_audit(AuditEntry(sender=sender, verdict="fail", action="hold", report=REPORT))
        entry = api.store.add_quarantine(QuarantineEntry(mail_from=sender, rcpt_to=["liuyi@demo.example.cn"],
                                                         data=MESSAGE, audit_id=audit.id))  # fmt: skip
        r = api.client.post(f"/v1/quarantine/{entry.id}/release", headers=api.admin)
        assert r.status_code == 200 and r.json()["sender_notified"] is False, sender
    assert api.store.outbox(kind="report") == [] and len(api.store.outbox(kind="mail")) == 3
