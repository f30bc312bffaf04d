"""Statistics: exact counts over audit rows inserted with known values, days at a UTC offset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from mailgate.api import app as app_module
from mailgate.api.routes import stats
from mailgate.store import AuditEntry
from tests.api.conftest import Api

NOW = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)  # 18:00 at +08:00


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


# (at, sender, verdict, action, findings, override reason); local days are at +08:00
ROWS = [
    (utc(18, 1), "wuyu@demo.example.cn", "fail", "reject", ["recipients-scope", "typography"], None),  # 11-18
    (utc(17, 17, 30), "WuYu@Demo.Example.cn", "fail", "deliver", ["recipients-scope"], "客户急需"),  # 11-18 01:30
    (utc(17, 15), "liuyi@demo.example.cn", "warn", "advise", ["data-source", "typography"], None),  # 11-17 23:00
    (utc(17, 15), "liuyi@demo.example.cn", "pass", "deliver", [], None),  # 11-17
    (utc(15, 3), "outsider@ext.example.com", "error", "hold", [], None),  # 11-15
    (utc(11, 16), "zhoujing@demo.example.cn", "fail", "hold", ["meeting-notice"], None),  # 11-12 00:00 (first day)
    (utc(11, 15, 59), "lina@demo.example.cn", "fail", "reject", ["subject-topic"], None),  # 11-11 23:59 (outside)
    (utc(16, 2), "", "pass", "deliver", [], None),  # 11-16, a bounce
    (utc(18, 2), "hetao@demo.example.cn", "crash", "tempfail", [], None),  # 11-18
]


@pytest.fixture
def api(make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch) -> Api:
    if stats.read not in app_module.API_ROUTERS:
        monkeypatch.setattr(app_module, "API_ROUTERS", [*app_module.API_ROUTERS, stats.read])
    monkeypatch.setattr(stats, "_now", lambda: NOW)
    api = make_api()
    for at, sender, verdict, action, findings, reason in ROWS:
        api.store.add_audit(AuditEntry(at=at, sender=sender, verdict=verdict, action=action, findings=findings,
                                       override_reason=reason, override_by=sender if reason else None))  # fmt: skip
    return api


def test_counts_over_seven_days_at_utc_plus_8(api: Api) -> None:
    r = api.get("/v1/stats", params={"days": 7}, headers=api.viewer)
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["since"] == "2026-11-11T16:00:00+00:00" and s["utc_offset_minutes"] == 480
    assert s["messages"] == 8
    assert s["verdicts"] == {"pass": 2, "warn": 1, "fail": 3, "error": 1, "crash": 1}
    assert s["actions"] == {
        "deliver": 3, "reject": 1, "hold": 2, "advise": 1, "annotate": 0, "monitor": 0, "tempfail": 1,
    }  # fmt: skip
    assert s["overrides"] == {"overridden": 1, "rejected": 1, "rate": 0.5}
    assert s["per_check"] == {"recipients-scope": 2, "typography": 2, "data-source": 1, "meeting-notice": 1}
    assert list(s["per_check"]) == ["recipients-scope", "typography", "data-source", "meeting-notice"]
    assert s["top_rules"] == [
        {"check": "recipients-scope", "messages": 2, "share": 0.25},
        {"check": "typography", "messages": 2, "share": 0.25},
        {"check": "data-source", "messages": 1, "share": 0.125},
        {"check": "meeting-notice", "messages": 1, "share": 0.125},
    ]
    assert s["per_sender"] == [
        {"sender": "liuyi@demo.example.cn", "department": "技术部", "messages": 2, "verdicts": {"warn": 1, "pass": 1}},
        {"sender": "wuyu@demo.example.cn", "department": "市场部", "messages": 2, "verdicts": {"fail": 2}},
        {"sender": "", "department": None, "messages": 1, "verdicts": {"pass": 1}},
        {"sender": "hetao@demo.example.cn", "department": "数据部", "messages": 1, "verdicts": {"crash": 1}},
        {"sender": "outsider@ext.example.com", "department": None, "messages": 1, "verdicts": {"error": 1}},
        {"sender": "zhoujing@demo.example.cn", "department": "市场部", "messages": 1, "verdicts": {"fail": 1}},
    ]
    assert s["senders"] == 6
    assert s["per_department"] == [
        {"department": "市场部", "messages": 3, "verdicts": {"fail": 3}},
        {"department": "技术部", "messages": 2, "verdicts": {"warn": 1, "pass": 1}},
        {"department": None, "messages": 2, "verdicts": {"pass": 1, "error": 1}},
        {"department": "数据部", "messages": 1, "verdicts": {"crash": 1}},
    ]
    assert [(d["day"], d["messages"]) for d in s["per_day"]] == [
        ("2026-11-12", 1), ("2026-11-13", 0), ("2026-11-14", 0), ("2026-11-15", 1),
        ("2026-11-16", 1), ("2026-11-17", 2), ("2026-11-18", 3),
    ]  # fmt: skip
    assert s["per_day"][-1]["verdicts"] == {"fail": 2, "crash": 1}


def test_days_follow_the_offset(api: Api) -> None:
    s = api.get("/v1/stats", params={"days": 7, "utc_offset_minutes": 0}).json()
    assert s["since"] == "2026-11-12T00:00:00+00:00" and s["messages"] == 7
    assert [(d["day"], d["messages"]) for d in s["per_day"] if d["messages"]] == [
        ("2026-11-15", 1), ("2026-11-16", 1), ("2026-11-17", 3), ("2026-11-18", 2),
    ]  # fmt: skip


def test_longer_window_top_and_defaults(api: Api) -> None:
    s = api.get("/v1/stats", params={"top": 1}).json()
    assert s["days"] == 30 and len(s["per_day"]) == 30 and s["per_day"][-1]["day"] == "2026-11-18"
    assert s["messages"] == 9 and s["per_check"]["subject-topic"] == 1
    assert s["overrides"] == {"overridden": 1, "rejected": 2, "rate": 0.3333}
    assert s["per_sender"] == [
        {"sender": "liuyi@demo.example.cn", "department": "技术部", "messages": 2, "verdicts": {"warn": 1, "pass": 1}}
    ]
    assert s["senders"] == 7


def test_one_day_windows_and_an_empty_one(api: Api) -> None:
    s = api.get("/v1/stats", params={"days": 1, "utc_offset_minutes": -720}).json()  # 2026-11-17 at -12:00
    assert s["since"] == "2026-11-17T12:00:00+00:00"
    assert s["messages"] == 5  # every row at or after 11-17 12:00 UTC
    s = api.get("/v1/stats", params={"days": 1, "utc_offset_minutes": 840}).json()  # 2026-11-19 at +14:00
    assert s["messages"] == 0 and s["overrides"]["rate"] is None and s["top_rules"] == []
    assert s["per_day"] == [{"day": "2026-11-19", "messages": 0, "verdicts": {}}]


def test_parameters_are_bounded_and_a_token_is_needed(api: Api) -> None:
    for params in ({"days": 0}, {"days": 367}, {"utc_offset_minutes": 900}, {"top": 0}, {"days": "x"}):
        assert api.get("/v1/stats", params=params).status_code == 422
    assert api.get("/v1/stats", params={"days": 366}).status_code == 200
    assert api.client.get("/v1/stats").status_code == 401
