"""`mailgate token create/list/revoke`: the secret is shown once, only its SHA-256 is stored, revoke works."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from mailgate.api import ApiSettings, build_app
from mailgate.cli import EXIT_OK, EXIT_USAGE, main
from mailgate.policy import Policy
from mailgate.state import PolicyState
from mailgate.store import Store

SECRET = re.compile(r"^mg_[A-Za-z0-9_-]{43}$")
TOKEN_ID = re.compile(r"token ([0-9a-f]{32}) created")

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def config(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MAILGATE_STORAGE__URL", raising=False)
    path = tmp_path / "mailgate.toml"
    path.write_text(f"[storage]\nurl = {json.dumps(store_url)}\n", encoding="utf-8")
    return path


@pytest.fixture
def run(config: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["token", *argv, "--config", str(config)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def create(run: Run, role: str, name: str, *extra: str) -> tuple[str, str]:
    code, out, err = run("create", "--role", role, "--name", name, *extra)
    assert code == EXIT_OK, err
    secret = out.strip()
    assert out == secret + "\n" and SECRET.match(secret), out  # the secret alone on stdout, for scripts
    assert "shown once" in err and secret not in err
    found = TOKEN_ID.search(err)
    assert found, err
    return found.group(1), secret


def token_rows(store_url: str) -> list[dict[str, object]]:
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            return [dict(row) for row in conn.execute(text("SELECT * FROM api_tokens")).mappings()]
    finally:
        engine.dispose()


@pytest.fixture
def client(store_url: str, demo_policy: Policy, config: Path) -> Iterator[TestClient]:
    store = Store(store_url)
    state = PolicyState(demo_policy, store)
    state.refresh()
    with TestClient(build_app(state, store, ApiSettings(), poll=False)) as client:
        yield client
    store.close()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_the_secret_is_printed_once_and_only_its_hash_is_stored(run: Run, store_url: str) -> None:
    admin_id, admin = create(run, "admin", "ops-admin")
    viewer_id, viewer = create(run, "viewer", "dashboard")
    assert admin != viewer and admin_id != viewer_id
    rows = {row["id"]: row for row in token_rows(store_url)}
    assert set(rows) == {admin_id, viewer_id}
    expected = ((admin_id, admin, "admin", "ops-admin"), (viewer_id, viewer, "viewer", "dashboard"))
    for token_id, secret, role, name in expected:
        row = rows[token_id]
        assert row["role"] == role and row["name"] == name
        assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
        body = secret.removeprefix("mg_")
        for column, value in row.items():
            assert body[:16] not in str(value) and body[-16:] not in str(value), f"column {column} holds the secret"
    code, out, err = run("list")
    assert code == EXIT_OK, err
    assert admin_id in out and viewer_id in out and "ops-admin" in out and "dashboard" in out
    assert admin not in out + err and viewer not in out + err  # never shown again
    assert str(rows[admin_id]["token_hash"]) not in out  # nor its hash


def test_tokens_work_on_the_api_and_a_revoked_one_gets_401(run: Run, client: TestClient) -> None:
    admin_id, admin = create(run, "admin", "ops-admin")
    _, viewer = create(run, "viewer", "dashboard")
    assert client.get("/v1/checks", headers=bearer(admin)).status_code == 200
    assert client.get("/v1/checks", headers=bearer(viewer)).status_code == 200
    patch = {"severity": "warning"}
    assert client.patch("/v1/checks/subject-topic", json=patch, headers=bearer(viewer)).status_code == 403
    r = client.patch("/v1/checks/subject-topic", json=patch, headers=bearer(admin))
    assert r.status_code == 200, r.text
    [change] = client.get("/v1/policy/history", headers=bearer(viewer)).json()["versions"]
    assert change["author"] == f"token:ops-admin/{admin_id[:8]}"  # the audit trail names the token

    code, _, err = run("revoke", admin_id)
    assert code == EXIT_OK and admin_id in err and "revoked" in err
    r = client.get("/v1/checks", headers=bearer(admin))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/checks", headers=bearer(viewer)).status_code == 200  # only that one
    code, out, _ = run("list")
    line = next(line for line in out.splitlines() if line.startswith(admin_id))
    assert "revoked" in line and "admin" in line

    assert run("revoke", admin_id)[0] == EXIT_USAGE  # already revoked
    assert run("revoke", "0" * 32)[0] == EXIT_USAGE  # unknown id
    assert run("revoke")[0] == EXIT_USAGE  # no id


def test_expiry_and_bad_arguments(run: Run, client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    token_id, secret = create(run, "viewer", "temp", "--expires-days", "7")
    assert client.get("/v1/checks", headers=bearer(secret)).status_code == 200
    _, out, _ = run("list")
    line = next(line for line in out.splitlines() if line.startswith(token_id))
    assert "expires never" not in line and "active" in line
    assert run("create", "--role", "viewer", "--expires-days", "0")[0] == EXIT_USAGE
    assert run("create", "--role", "viewer", "--expires-days", "-3")[0] == EXIT_USAGE
    with pytest.raises(SystemExit) as exc:
        main(["token", "create", "--role", "root"])
    assert exc.value.code == EXIT_USAGE
    assert "root" in capsys.readouterr().err
