"""The harness works: a token reads, no token is refused, an admin change is a new version."""

from __future__ import annotations

from tests.api.conftest import Api


def test_checks_need_a_token_and_a_change_is_versioned(api: Api) -> None:
    assert api.client.get("/v1/checks").status_code == 401
    assert api.client.get("/v1/checks", headers=api.viewer).status_code == 200
    r = api.client.patch("/v1/checks/subject-topic", json={"severity": "warning"}, headers=api.viewer)
    assert r.status_code == 403
    r = api.client.patch("/v1/checks/subject-topic", json={"severity": "warning"}, headers=api.admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["severity"] == "warning" and body["sources"]["severity"] == "admin"
    assert body["change"]["version"] == 1
    assert body["change"]["diff"] == [{"path": "checks.subject-topic.severity", "old": None, "new": "warning"}]
