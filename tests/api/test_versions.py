"""The versioned policy: every admin change is a new version (who, when, diff); history, rollback,
concurrent writers on instances sharing one database, and versions that no longer validate.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import httpx

from mailgate.store import PolicyVersion
from tests.api.conftest import Api
from tests.conftest import EXAMPLES

RFC822 = {"Content-Type": "message/rfc822"}
MakeApi = Callable[..., Api]


def ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def patch(api: Api, check_id: str, body: dict[str, Any]) -> Any:
    return ok(api.client.patch(f"/v1/checks/{check_id}", json=body, headers=api.admin))


def history(api: Api, **params: Any) -> Any:
    return ok(api.client.get("/v1/policy/history", params=params, headers=api.viewer))


def versions_of(api: Api, **params: Any) -> list[int]:
    return [v["version"] for v in history(api, **params)["versions"]]


def check(api: Api, check_id: str) -> Any:
    return ok(api.client.get(f"/v1/checks/{check_id}", headers=api.viewer))


def lint_example(api: Api, name: str) -> Any:
    raw = (EXAMPLES / name).read_bytes()
    return ok(api.client.post("/v1/lint", content=raw, headers={**api.admin, **RFC822}))


def store_bad_version(api: Api) -> int:
    """A version written by someone else that no longer validates (say, a param renamed by an upgrade)."""
    version = api.store.latest_version() + 1
    bad = {"checks": {"subject-topic": {"min_chars": "many", "renamed_param": 3}}}
    with api.store._session() as s, s.begin():
        s.add(PolicyVersion(version=version, doc=bad, author="upgrade", diff=[], comment="bad"))
    return version


# -- who, when, what -----------------------------------------------------------------------------


def test_every_change_is_a_version_with_author_time_and_diff(api: Api) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    c1 = patch(api, "action-items", {"enabled": False})["change"]
    assert c1 == {
        "version": 1,
        "changed": True,
        "diff": [{"path": "checks.action-items.enabled", "old": None, "new": False}],
    }
    c2 = patch(api, "subject-topic", {"severity": "info", "params": {"min_chars": 9}})["change"]
    assert c2["version"] == 2
    assert c2["diff"] == [
        {"path": "checks.subject-topic.min_chars", "old": None, "new": 9},
        {"path": "checks.subject-topic.severity", "old": None, "new": "info"},
    ]
    c3 = ok(api.client.patch("/v1/lexicons/vague", json={"hedge": {"add": ["兴许"]}}, headers=api.admin))["change"]
    assert {"path": "lexicons.vague.hedge.add", "old": None, "new": ["兴许"]} in c3["diff"]
    c4 = ok(api.client.put("/v1/policy/global", json={"fail": "hold"}, headers=api.admin))["change"]
    assert c4["diff"] == [{"path": "policy.fail", "old": None, "new": "hold"}]
    c5 = patch(api, "subject-topic", {"params": {"min_chars": 10}})["change"]
    assert c5["diff"] == [{"path": "checks.subject-topic.min_chars", "old": 9, "new": 10}]

    body = history(api)
    assert body["current"] == 5 == api.state.version
    rows = body["versions"]
    assert [r["version"] for r in rows] == [5, 4, 3, 2, 1]
    assert [r["diff"] for r in rows] == [c5["diff"], c4["diff"], c3["diff"], c2["diff"], c1["diff"]]
    token_id = next(t.id for t in api.store.tokens() if t.role == "admin")
    for r in rows:
        assert r["author"] == f"token:test-admin/{token_id[:8]}"
        assert r["comment"]
    assert rows[4]["comment"] == "checks.action-items" and rows[1]["comment"] == "policy.global"
    times = [dt.datetime.fromisoformat(r["at"]) for r in rows]
    assert all(t.tzinfo is not None for t in times)
    assert times == sorted(times, reverse=True)
    assert start <= times[-1] and times[0] <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)


def test_the_author_is_the_token_that_made_the_change(api: Api) -> None:
    from mailgate.api.tokens import create_token

    row, secret = create_token(api.store, "admin", "alice")
    ok(api.client.put("/v1/policy/global", json={"warn": "monitor"}, headers={"Authorization": f"Bearer {secret}"}))
    patch(api, "signature", {"enabled": False})
    authors = [v["author"] for v in history(api)["versions"]]
    assert authors[1] == f"token:alice/{row.id[:8]}"
    assert authors[0].startswith("token:test-admin/")


def test_history_paging(api: Api) -> None:
    for n in range(7):
        patch(api, "subject-topic", {"params": {"min_chars": 10 + n}})
    assert versions_of(api) == [7, 6, 5, 4, 3, 2, 1]
    assert versions_of(api, limit=3) == [7, 6, 5]
    assert versions_of(api, limit=3, before=5) == [4, 3, 2]
    assert versions_of(api, limit=3, before=2) == [1]
    assert versions_of(api, before=1) == []
    assert versions_of(api, before=100) == [7, 6, 5, 4, 3, 2, 1]
    # walking the pages visits every version once
    seen: list[int] = []
    before: int | None = None
    while True:
        page = versions_of(api, limit=2, **({"before": before} if before else {}))
        if not page:
            break
        seen += page
        before = page[-1]
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    for params in ({"limit": 0}, {"limit": 501}, {"limit": "x"}, {"before": 0}, {"before": -3}):
        r = api.client.get("/v1/policy/history", params=params, headers=api.viewer)
        assert r.status_code == 422, params
    assert api.client.get("/v1/policy/history").status_code == 401


def test_a_version_has_the_whole_admin_layer(api: Api) -> None:
    patch(api, "action-items", {"severity": "warning"})
    ok(api.client.put("/v1/tags", json={"tags": ["通知", "培训"]}, headers=api.admin))
    v1 = ok(api.client.get("/v1/policy/versions/1", headers=api.viewer))
    assert v1["version"] == 1 and v1["author"].startswith("token:test-admin/")
    assert v1["doc"] == {"checks": {"action-items": {"severity": "warning"}}}
    assert v1["diff"] == [{"path": "checks.action-items.severity", "old": None, "new": "warning"}]
    v2 = ok(api.client.get("/v1/policy/versions/2", headers=api.viewer))
    assert v2["doc"] == {"checks": {"action-items": {"severity": "warning"}, "subject-tag": {"tags": ["通知", "培训"]}}}
    assert v2["doc"] == api.state.doc
    assert api.client.get("/v1/policy/versions/3", headers=api.viewer).status_code == 404
    assert api.client.get("/v1/policy/versions/0", headers=api.viewer).status_code == 422
    assert api.client.get("/v1/policy/versions/x", headers=api.viewer).status_code == 422
    assert api.client.get("/v1/policy/versions/1").status_code == 401


# -- no-op changes -------------------------------------------------------------------------------


def test_a_no_op_change_creates_no_version(api: Api) -> None:
    patch(api, "action-items", {"severity": "warning"})
    again = patch(api, "action-items", {"severity": "warning"})
    assert again["change"] == {"version": 1, "changed": False, "diff": []}
    assert patch(api, "action-items", {})["change"]["changed"] is False
    ok(api.client.put("/v1/policy/global", json={"fail": "hold"}, headers=api.admin))
    same = ok(api.client.put("/v1/policy/global", json={"fail": "hold"}, headers=api.admin))
    assert same["change"]["changed"] is False
    ok(api.client.patch("/v1/lexicons/vague", json={"hedge": {"add": ["兴许"]}}, headers=api.admin))
    same = ok(api.client.patch("/v1/lexicons/vague", json={"hedge": {"add": ["兴许"]}}, headers=api.admin))
    assert same["change"]["changed"] is False
    gone = ok(api.client.delete("/v1/policy/departments/无此部门", headers=api.admin))
    assert gone["change"]["changed"] is False
    reset = ok(api.client.delete("/v1/checks/signature/admin", headers=api.admin))
    assert reset["change"]["changed"] is False
    assert versions_of(api) == [3, 2, 1]
    assert api.store.latest_version() == api.state.version == 3


# -- rollback ------------------------------------------------------------------------------------


def test_rollback_restores_old_values_as_a_new_version(api: Api) -> None:
    patch(api, "action-items", {"severity": "warning"})  # v1
    patch(api, "subject-topic", {"enabled": False})  # v2
    patch(api, "subject-topic", {"params": {"min_chars": 30}})  # v3
    patch(api, "action-items", {"severity": "info"})  # v4
    assert lint_example(api, "action-items/bad.eml")["verdict"] == "pass"
    v1_doc = ok(api.client.get("/v1/policy/versions/1", headers=api.viewer))["doc"]

    r = ok(api.client.post("/v1/policy/rollback/1", headers=api.admin))
    assert r["version"] == 5 and r["changed"] is True
    assert {"path": "checks.action-items.severity", "old": "info", "new": "warning"} in r["diff"]
    assert {"path": "checks.subject-topic.enabled", "old": False, "new": None} in r["diff"]
    assert versions_of(api) == [5, 4, 3, 2, 1]
    v5 = ok(api.client.get("/v1/policy/versions/5", headers=api.viewer))
    assert v5["doc"] == v1_doc == api.state.doc
    assert v5["comment"] == "rollback to version 1" and v5["author"].startswith("token:test-admin/")
    topic = check(api, "subject-topic")
    assert topic["enabled"] is True and topic["params"]["min_chars"] == 6
    assert topic["sources"] == {"enabled": "default", "severity": "default"}
    items = check(api, "action-items")
    assert items["severity"] == "warning" and items["sources"]["severity"] == "admin"
    assert lint_example(api, "action-items/bad.eml")["verdict"] == "warn"

    # rolling back to what is already in effect is no change
    same = ok(api.client.post("/v1/policy/rollback/1", headers=api.admin))
    assert same["changed"] is False and versions_of(api)[0] == 5
    # a rollback can itself be rolled back to a later version
    r = ok(api.client.post("/v1/policy/rollback/4", headers=api.admin))
    assert r["version"] == 6
    assert check(api, "subject-topic")["enabled"] is False
    assert lint_example(api, "action-items/bad.eml")["verdict"] == "pass"


def test_rollback_to_zero_empties_the_admin_layer(api: Api) -> None:
    patch(api, "action-items", {"enabled": False})
    ok(api.client.put("/v1/policy/global", json={"fail": "hold"}, headers=api.admin))
    ok(api.client.patch("/v1/lexicons/vague", json={"hedge": {"remove": ["可能"]}}, headers=api.admin))
    assert api.state.table.decide("fail").action == "hold"
    r = ok(api.client.post("/v1/policy/rollback/0", headers=api.admin))
    assert r["version"] == 4 and r["changed"] is True
    assert api.state.doc == {} and api.state.version == 4
    assert ok(api.client.get("/v1/policy/versions/4", headers=api.viewer))["doc"] == {}
    assert api.state.table.decide("fail").action == "reject"
    assert "可能" in api.state.policy.lexicons["vague"]["hedge"]
    for c in ok(api.client.get("/v1/checks", headers=api.viewer))["checks"]:
        assert c["enabled"] is True and c["sources"] == {"enabled": "default", "severity": "default"}, c["id"]
    assert "action-items" in {f["check"] for f in lint_example(api, "action-items/bad.eml")["findings"]}
    assert ok(api.client.post("/v1/policy/rollback/0", headers=api.admin))["changed"] is False
    assert versions_of(api) == [4, 3, 2, 1]


def test_rollback_errors(api: Api) -> None:
    patch(api, "action-items", {"enabled": False})
    assert api.client.post("/v1/policy/rollback/99", headers=api.admin).status_code == 404
    assert api.client.post("/v1/policy/rollback/-1", headers=api.admin).status_code == 422
    assert api.client.post("/v1/policy/rollback/x", headers=api.admin).status_code == 422
    assert api.client.post("/v1/policy/rollback/0", headers=api.viewer).status_code == 403
    assert api.client.post("/v1/policy/rollback/0").status_code == 401
    assert versions_of(api) == [1] and api.state.doc == {"checks": {"action-items": {"enabled": False}}}


# -- instances sharing one database ----------------------------------------------------------------


def test_two_instances_share_the_database(make_api: MakeApi) -> None:
    a, b = make_api(), make_api()
    assert a.store is not b.store and a.state is not b.state
    assert str(a.store.engine.url) == str(b.store.engine.url)
    patch(a, "action-items", {"enabled": False})
    assert b.store.latest_version() == 1


def patch_together(writers: list[tuple[Api, str]], body: dict[str, Any]) -> dict[str, int]:
    """PATCH each ``(instance, check)`` from its own thread, all released at once; check → status."""
    barrier = threading.Barrier(len(writers))
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def write(api: Api, check_id: str) -> None:
        try:
            barrier.wait(timeout=10)
            results[check_id] = api.client.patch(f"/v1/checks/{check_id}", json=body, headers=api.admin).status_code
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=w) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return results


def test_concurrent_changes_on_two_instances_all_land(make_api: MakeApi) -> None:
    a, b = make_api(), make_api()
    writers: list[tuple[Api, str]] = [(a, "action-items"), (b, "subject-topic"), (a, "signature"), (b, "wording-vague")]
    for rnd, severity in enumerate(("info", "warning"), start=1):
        results = patch_together(writers, {"severity": severity})
        assert results == {cid: 200 for _, cid in writers}, results
        latest = a.store.latest_version()
        assert latest == len(writers) * rnd  # one version per change, none lost
        for api in (a, b):
            api.state.refresh()
            assert api.state.version == latest
            for _, cid in writers:
                assert api.state.doc["checks"][cid] == {"severity": severity}, (cid, api.state.doc)
                assert api.state.policy.checks[cid].severity.value == severity
    # every stored diff is one single change
    rows = history(a)["versions"]
    assert len(rows) == 2 * len(writers) and all(len(r["diff"]) == 1 for r in rows)


def test_a_stale_instance_picks_up_a_change_after_refresh(make_api: MakeApi) -> None:
    a, b = make_api(), make_api()
    assert lint_example(b, "action-items/bad.eml")["verdict"] == "fail"
    patch(a, "action-items", {"severity": "warning"})
    # b polls (poll=False here), so it still runs version 0
    assert b.state.version == 0 and check(b, "action-items")["severity"] == "error"
    assert b.state.refresh() is True
    assert b.state.version == 1
    assert check(b, "action-items")["severity"] == "warning"
    assert lint_example(b, "action-items/bad.eml")["verdict"] == "warn"
    assert b.state.refresh() is False  # nothing new
    # a change made on a stale instance is laid over the newest version, not over its stale copy
    patch(a, "subject-topic", {"enabled": False})
    assert b.state.version == 1
    patch(b, "signature", {"enabled": False})
    assert b.state.version == 3
    assert set(b.state.doc["checks"]) == {"action-items", "subject-topic", "signature"}
    a.state.refresh()
    assert a.state.doc == b.state.doc
    assert check(a, "signature")["enabled"] is False


# -- versions that no longer validate ----------------------------------------------------------------


def test_an_invalid_stored_version_is_skipped(api: Api) -> None:
    patch(api, "action-items", {"severity": "warning"})
    bad = store_bad_version(api)
    assert bad == 2
    assert api.state.refresh() is False
    assert api.state.version == 1
    assert api.state.doc == {"checks": {"action-items": {"severity": "warning"}}}
    assert api.state.policy.checks["subject-topic"].params.model_dump()["min_chars"] == 6
    assert check(api, "action-items")["severity"] == "warning"
    assert lint_example(api, "action-items/bad.eml")["verdict"] == "warn"
    assert api.state.refresh() is False  # skipped once, not retried on every poll


def test_changes_still_land_after_an_invalid_stored_version(api: Api) -> None:
    patch(api, "action-items", {"severity": "warning"})
    store_bad_version(api)
    api.state.refresh()
    r = api.client.patch("/v1/checks/signature", json={"enabled": False}, headers=api.admin)
    assert r.status_code == 200, r.text  # not a 409 forever
    assert r.json()["change"]["version"] == 3
    assert api.state.version == 3
    assert api.state.doc == {"checks": {"action-items": {"severity": "warning"}, "signature": {"enabled": False}}}
    r = api.client.post("/v1/policy/rollback/1", headers=api.admin)
    assert r.status_code == 200, r.text


def test_a_new_instance_uses_the_newest_valid_version(make_api: MakeApi) -> None:
    a = make_api()
    patch(a, "action-items", {"severity": "warning"})
    store_bad_version(a)
    b = make_api()  # starts after the bad version was stored
    assert b.state.version == a.state.version == 1
    assert b.state.doc == a.state.doc
    assert check(b, "action-items")["severity"] == "warning"
