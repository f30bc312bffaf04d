"""The held-message page behind a hold's release link: status, the sender's withdrawal, the admin's
release or discard with a token typed into the form, refusals shown on the page, no addresses."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from mailgate.relay.testing import CaptureSink
from mailgate.store import AuditEntry, QuarantineEntry
from tests.api.conftest import Api
from tests.api.test_quarantine import MESSAGE, REPORT, hold, upstream  # noqa: F401  (upstream: a fixture)


def page(api: Api, entry_id: str, **params: str) -> tuple[int, str]:
    r = api.client.get(f"/quarantine/{entry_id}", params=params)
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"
    return r.status_code, r.text


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def decide(api: Api, entry_id: str, action: str, secret: str) -> tuple[int, str, str]:
    r = api.client.post(
        f"/quarantine/{entry_id}/decide", data={"token": secret, "action": action}, follow_redirects=False
    )
    return r.status_code, r.headers.get("location", ""), r.text


def test_a_held_message_shows_its_state_findings_and_both_forms_but_no_addresses(api: Api) -> None:
    entry = hold(api)
    code, html = page(api, entry.id)
    assert code == 200
    assert "【部门协作】排期" in html and "暂存中，等待管理员审核" in html
    assert "缺少部门负责人" in html and "抄送周静" in html  # the finding and its suggestion
    assert f'href="/reports/{entry.audit_id}"' in html
    assert f'action="/quarantine/{entry.id}/withdraw"' in html and f'action="/quarantine/{entry.id}/decide"' in html
    assert 'type="password"' in html and f"mailgate quarantine release {entry.id}" in html
    assert "@" not in html  # neither the sender's nor the recipients' addresses


def test_english_text_kept_by_the_audit_is_shown_beside_the_chinese(api: Api) -> None:
    finding = {**REPORT["findings"][0], "en": {"message": "No department head", "suggestion": "Cc 周静"}}  # type: ignore[dict-item]
    audit = api.store.add_audit(AuditEntry(sender="wuyu@demo.example.cn", verdict="fail", action="hold",
                                           report={"verdict": "fail", "findings": [finding]}))  # fmt: skip
    entry = api.store.add_quarantine(
        QuarantineEntry(mail_from="wuyu@demo.example.cn", rcpt_to=["liuyi@demo.example.cn"], data=MESSAGE,
                        audit_id=audit.id)
    )  # fmt: skip
    _, html = page(api, entry.id)
    assert "缺少部门负责人" in html and "No department head" in html and "Cc 周静" in html
    report = api.client.get(f"/reports/{audit.id}").text
    assert "No department head" in report and "Cc 周静" in report


@pytest.mark.parametrize("bad", ["0" * 32, "F" * 32, "not-hex", "a" * 33, "%00", "..%2F..%2Fetc%2Fpasswd"])
def test_anything_but_a_known_id_is_a_404(api: Api, bad: str) -> None:
    hold(api)
    if "%2F" in bad:  # decoded to another path: no route's, the app's own 404
        assert api.client.get(f"/quarantine/{bad}").status_code == 404
    else:
        code, html = page(api, bad)
        assert code == 404 and "暂存邮件不存在" in html
    for action in ("withdraw", "decide"):
        r = api.client.post(f"/quarantine/{bad}/{action}", data={"token": token(api.admin), "action": "discard"})
        assert r.status_code in (404, 405), (action, r.status_code)
    assert [e.status for e in api.store.quarantine(status=None)] == ["held"]


def test_the_sender_withdraws_it_once_and_it_can_no_longer_be_released(api: Api) -> None:
    entry = hold(api)
    r = api.client.post(f"/quarantine/{entry.id}/withdraw", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/quarantine/{entry.id}?done=withdrawn"
    row = api.store.get_quarantine(entry.id)
    assert row is not None and row.status == "discarded" and row.decided_by == "sender:wuyu@demo.example.cn"
    code, html = page(api, entry.id, done="withdrawn")
    assert code == 200 and "已撤回：这封邮件不会被投递" in html and "已由发件人撤回" in html
    assert "/withdraw" not in html and 'type="password"' not in html  # nothing left to do
    r = api.client.post(f"/quarantine/{entry.id}/withdraw", follow_redirects=False)
    assert r.status_code == 409 and "已处理" in r.text
    assert api.client.post(f"/v1/quarantine/{entry.id}/release", headers=api.admin).status_code == 409
    assert api.store.outbox() == []


def test_an_admin_token_in_the_form_releases_it_to_the_outbox(api: Api) -> None:
    entry = hold(api)
    code, location, _ = decide(api, entry.id, "release", token(api.admin))
    assert code == 303 and location == f"/quarantine/{entry.id}?done=released"
    out = api.store.outbox(kind="mail")
    assert len(out) == 1 and out[0].data == MESSAGE and out[0].rcpt_to == ["liuyi@demo.example.cn"]
    assert [n.rcpt_to for n in api.store.outbox(kind="report")] == [["wuyu@demo.example.cn"]]  # the notice
    row = api.store.get_quarantine(entry.id)
    assert row is not None and row.status == "released" and row.decided_by.startswith("token:test-admin/")  # type: ignore[union-attr]
    _, html = page(api, entry.id, done="released")
    assert "已放行：邮件已投递" in html and "已放行并投递" in html
    code, _, html = decide(api, entry.id, "release", token(api.admin))  # twice: refused, delivered once
    assert code == 409 and len(api.store.outbox(kind="mail")) == 1


def test_an_admin_discards_it(api: Api) -> None:
    entry = hold(api)
    code, location, _ = decide(api, entry.id, "discard", token(api.admin))
    assert code == 303 and location.endswith("?done=discarded")
    _, html = page(api, entry.id)
    assert "已被管理员丢弃" in html
    assert api.store.outbox(kind="mail") == [] and len(api.store.outbox(kind="report")) == 1


@pytest.mark.parametrize(
    ("secret", "action", "status", "reason"),
    [
        ("", "release", 401, "令牌无效"),
        ("not-a-token", "release", 401, "令牌无效"),
        (" padded ", "release", 401, "令牌无效"),
        ("viewer", "release", 403, "需要管理员令牌"),
        ("viewer", "discard", 403, "需要管理员令牌"),
        ("admin", "delete-everything", 422, "请选择放行或丢弃"),
    ],
)
def test_refusals_are_shown_on_the_page_and_change_nothing(
    api: Api, secret: str, action: str, status: int, reason: str
) -> None:
    entry = hold(api)
    real = {"admin": token(api.admin), "viewer": token(api.viewer)}.get(secret, secret)
    code, _, html = decide(api, entry.id, action, real)
    assert code == status and reason in html and 'role="alert"' in html
    assert real not in html or not real.strip()  # the typed token is never echoed back
    row = api.store.get_quarantine(entry.id)
    assert row is not None and row.status == "held" and api.store.outbox() == []


def test_an_upstream_refusal_keeps_it_held_and_says_why(api: Api, upstream: CaptureSink) -> None:  # noqa: F811
    upstream.behaviour.data_reply = "554 5.7.1 policy says no"
    entry = hold(api)
    code, _, html = decide(api, entry.id, "release", token(api.admin))
    assert code == 502 and "policy says no" in html and "暂存中" in html
    assert api.store.get_quarantine(entry.id).status == "held"  # type: ignore[union-attr]


def test_the_subject_is_escaped(api: Api) -> None:
    evil = "Subject: <script>alert(1)</script><img src=x onerror=alert(2)>"
    entry = hold(api, data=MESSAGE.replace(re.search(rb"Subject: [^\r]*", MESSAGE).group(0), evil.encode()))  # type: ignore[union-attr]
    _, html = page(api, entry.id)
    assert "<script>alert" not in html and "<img" not in html and "&lt;script&gt;" in html


def test_the_posts_are_rate_limited_per_client(make_api: Callable[..., Api]) -> None:
    api = make_api(open_rate=0.01, open_burst=3)
    entry = hold(api)
    codes = [decide(api, entry.id, "release", "wrong")[0] for _ in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    assert api.client.post(f"/quarantine/{entry.id}/withdraw").status_code == 429


def test_token_guessing_on_the_page_is_rate_limited(make_api: Callable[..., Api]) -> None:
    api = make_api(auth_fail_rate=0.01, auth_fail_burst=2)
    entry = hold(api)
    codes = [decide(api, entry.id, "release", f"mg_guess{i}")[0] for i in range(3)]
    assert codes == [401, 401, 429]
    code, _, html = decide(api, entry.id, "release", token(api.admin))  # blocked before the lookup
    assert code == 429 and "请求过于频繁" in html
    assert api.store.get_quarantine(entry.id).status == "held"  # type: ignore[union-attr]
