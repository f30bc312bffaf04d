"""Every route refuses a missing, empty, malformed, revoked, expired or viewer token where it should.

The routes are walked from the app itself (``app.routes``, including /docs and /openapi.json, which
are not in the schema), never from a list kept here, so a route added later is covered the moment it
is registered. The only open routes are /healthz, /readyz, /metrics, POST /v1/lint and /v1/format
when ``[api] public_lint = true``, and the HTML report pages under /reports/ (open by design).
Whether a route is admin-only is read from its dependencies (``Depends(admin)`` on the router).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import update
from starlette.routing import Route

from mailgate.api.deps import admin as admin_dependency
from mailgate.api.tokens import create_token
from mailgate.store import ApiToken
from tests.api.conftest import Api
from tests.conftest import EXAMPLES

ALWAYS_OPEN = frozenset({("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")})
PUBLIC_LINT = frozenset({("POST", "/v1/lint"), ("POST", "/v1/format")})
PAGES = ("/reports/", "/quarantine/", "/gallery")  # HTML pages, open by design: report, held message, gallery
READS = frozenset({"GET"})
VIEWER_WRITES = ("/v1/lint", "/v1/format")  # a viewer may lint; simulate and template render routes too

# Plausible path parameters, so an authorised request reaches the handler (a 404/422 there is fine).
PATH_VALUES = {
    "check_id": "subject-tag",
    "version": "1",
    "name": "actions",
    "address": "alice@demo.example.cn",
    "department": "市场部",
    "email": "alice@demo.example.cn",
    "template_id": "dept-collab",
}
FALLBACK_INT, FALLBACK_STR = "1", "0123456789abcdef0123456789abcdef"

HeaderList = list[tuple[str, str]]


@dataclasses.dataclass(frozen=True)
class Op:
    method: str
    path: str  # the template, e.g. /v1/checks/{check_id}
    url: str  # with plausible parameters
    admin_only: bool
    has_body: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def is_write(self) -> bool:
        return self.method not in READS

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def operations(app: FastAPI) -> list[Op]:
    """Every (method, path) the app routes, with how to reach it; unknown route kinds fail loudly."""
    ops: list[Op] = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        path = str(ctx.path)
        if not isinstance(route, Route):  # a Mount, a websocket, a Host: no method list to walk
            assert path.startswith(PAGES), f"{type(route).__name__} at {path!r}: teach test_auth.py to probe it"
            continue
        if isinstance(route, APIRoute):
            dependant: Dependant = ctx.dependant
            admin_only = admin_dependency in set(_calls(dependant))
            params = {p.name: p.field_info.annotation for p in dependant.path_params}
            has_body = ctx.body_field is not None
        else:  # a plain Starlette route: assume the strictest reading
            admin_only, params, has_body = True, dict.fromkeys(route.param_convertors, str), True
        url = path
        for name, annotation in params.items():
            value = PATH_VALUES.get(name, FALLBACK_INT if annotation is int else FALLBACK_STR)
            url = url.replace("{" + name + "}", value).replace("{" + name + ":path}", value)
        for method in sorted(ctx.methods or ()):
            if method == "HEAD" and "GET" in (ctx.methods or ()):
                continue  # Starlette's implicit HEAD for GET: probed by test_head_and_options_leak_nothing
            ops.append(Op(method, path, url, admin_only and method != "HEAD", has_body))
    assert ops, "no routes found"
    return ops


def open_by_design(op: Op, public_lint: bool) -> bool:
    return op.key in ALWAYS_OPEN or (public_lint and op.key in PUBLIC_LINT) or op.path.startswith(PAGES)


# -- tokens and credentials ------------------------------------------------------------------------


@dataclasses.dataclass
class Tokens:
    admin: str
    viewer: str
    revoked: str
    expired: str


def make_tokens(api: Api) -> Tokens:
    admin = api.admin["Authorization"].removeprefix("Bearer ")
    viewer = api.viewer["Authorization"].removeprefix("Bearer ")
    row, revoked = create_token(api.store, "admin", "revoked-admin")
    assert api.client.get("/v1/checks", headers={"Authorization": f"Bearer {revoked}"}).status_code == 200
    assert api.store.revoke_token(row.id)
    row, expired = create_token(api.store, "admin", "expired-admin", expires_days=30)
    assert api.client.get("/v1/checks", headers={"Authorization": f"Bearer {expired}"}).status_code == 200
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    with api.store.engine.begin() as conn:
        conn.execute(update(ApiToken).where(ApiToken.id == row.id).values(expires_at=past))
    return Tokens(admin, viewer, revoked, expired)


@dataclasses.dataclass(frozen=True)
class Credential:
    label: str
    headers: HeaderList
    params: dict[str, str]


def bad_credentials(t: Tokens) -> list[Credential]:
    """Ways of (not) presenting a token that must all end in 401 — each carries the admin secret
    somewhere, so a lenient parser would let it through."""
    basic = base64.b64encode(f"admin:{t.admin}".encode()).decode()
    auth = "Authorization"
    cases: list[tuple[str, HeaderList, dict[str, str]]] = [
        ("no header", [], {}),
        ("empty header", [(auth, "")], {}),
        ("Bearer with nothing", [(auth, "Bearer ")], {}),
        ("Bearer alone", [(auth, "Bearer")], {}),
        ("Basic scheme", [(auth, f"Basic {basic}")], {}),
        ("Basic with the raw token", [(auth, f"Basic {t.admin}")], {}),
        ("Token scheme", [(auth, f"Token {t.admin}")], {}),
        ("no scheme", [(auth, t.admin)], {}),
        ("malformed", [(auth, "Bearer not-a-token")], {}),
        ("well-shaped unknown", [(auth, "Bearer mg_" + "A" * 43)], {}),
        ("truncated", [(auth, f"Bearer {t.admin[:-1]}")], {}),
        ("extended", [(auth, f"Bearer {t.admin}A")], {}),
        ("trailing newline", [(auth, f"Bearer {t.admin}\n")], {}),
        ("trailing space", [(auth, f"Bearer {t.admin} ")], {}),
        ("two spaces", [(auth, f"Bearer  {t.admin}")], {}),
        ("tab separator", [(auth, f"Bearer\t{t.admin}")], {}),
        ("two tokens in one header", [(auth, f"Bearer mg_{'A' * 43}, Bearer {t.admin}")], {}),
        ("bad header first", [(auth, "Bearer mg_" + "A" * 43), (auth, f"Bearer {t.admin}")], {}),
        ("?token=", [], {"token": t.admin}),
        ("?access_token=", [], {"access_token": t.admin}),
        ("cookie", [("Cookie", f"token={t.admin}; access_token={t.admin}; session={t.admin}")], {}),
        ("X-API-Key", [("X-API-Key", t.admin), ("X-Auth-Token", t.admin)], {}),
        ("revoked", [(auth, f"Bearer {t.revoked}")], {}),
        ("expired", [(auth, f"Bearer {t.expired}")], {}),
    ]
    return [Credential(label, headers, params) for label, headers, params in cases]


def send(api: Api, op: Op, headers: HeaderList, *, params: dict[str, str] | None = None,
         body: bytes | None = None, ctype: str = "application/json", url: str | None = None) -> Any:  # fmt: skip
    hdrs = list(headers)
    if body is not None:
        hdrs.append(("Content-Type", ctype))
    return api.client.request(op.method, url or op.url, headers=hdrs, params=params, content=body)


def assert_401(r: Any, what: str) -> None:
    assert r.status_code == 401, f"{what}: {r.status_code} {r.text[:200]}"
    assert r.headers.get("www-authenticate") == "Bearer", f"{what}: WWW-Authenticate {r.headers}"
    assert r.json()["detail"]["code"] == "unauthorized", what


def bearer(token: str) -> HeaderList:
    return [("Authorization", f"Bearer {token}")]


# -- the walk --------------------------------------------------------------------------------------


@pytest.fixture
def public_lint() -> bool:
    """The strictest setting (every route but the probes protected); tests that differ override it."""
    return False


BOTH_SETTINGS = pytest.mark.parametrize("public_lint", [False, True], ids=["public_lint=false", "public_lint=true"])


@pytest.fixture
def walked(make_api: Callable[..., Api], public_lint: bool) -> tuple[Api, list[Op], Tokens]:
    api = make_api(public_lint=public_lint, auth_fail_rate=0)  # the walk sends hundreds of bad tokens
    return api, operations(api.client.app), make_tokens(api)  # type: ignore[arg-type]


def test_the_walk_sees_every_kind_of_route(walked: tuple[Api, list[Op], Tokens]) -> None:
    """The walk is not vacuous: it finds the schema routes, the hidden ones, reads and admin writes."""
    _, ops, _ = walked
    keys = {op.key for op in ops}
    assert {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/v1/checks"), ("POST", "/v1/lint")} <= keys
    assert ("PATCH", "/v1/checks/{check_id}") in keys and keys >= ALWAYS_OPEN
    assert any(op.admin_only for op in ops) and any(not op.admin_only for op in ops)


@BOTH_SETTINGS
def test_open_routes_are_exactly_the_intended_set(walked: tuple[Api, list[Op], Tokens], public_lint: bool) -> None:
    api, ops, _ = walked
    answered = {op: send(api, op, []).status_code for op in ops}
    found_open = {op.key for op, status in answered.items() if status != 401 and not op.path.startswith(PAGES)}
    expected = {op.key for op in ops if open_by_design(op, public_lint) and not op.path.startswith(PAGES)}
    assert found_open == expected, {op.key: s for op, s in answered.items() if op.key in found_open ^ expected}
    assert expected == ALWAYS_OPEN | (PUBLIC_LINT if public_lint else frozenset())


@BOTH_SETTINGS
def test_every_protected_route_refuses_bad_credentials(walked: tuple[Api, list[Op], Tokens], public_lint: bool) -> None:
    api, ops, tokens = walked
    protected = [op for op in ops if not open_by_design(op, public_lint)]
    assert protected
    bodies = {}
    for op in protected:
        for cred in bad_credentials(tokens):
            r = send(api, op, cred.headers, params=cred.params, body=b"{}" if op.has_body else None)
            assert_401(r, f"{op} with {cred.label}")
            bodies[r.text] = f"{op} with {cred.label}"
    assert len(bodies) == 1, f"401 bodies differ (an oracle): {bodies}"


def test_an_admin_token_gets_past_auth_everywhere(walked: tuple[Api, list[Op], Tokens]) -> None:
    """The 401s above come from the credentials, not from unreachable URLs."""
    api, ops, tokens = walked
    for op in ops:
        r = send(api, op, bearer(tokens.admin), body=b"{}" if op.has_body else None)
        assert r.status_code not in (401, 403, 405) and r.status_code < 500, f"{op}: {r.status_code} {r.text[:200]}"


def test_viewers_read_and_only_admins_write(walked: tuple[Api, list[Op], Tokens], public_lint: bool) -> None:
    api, ops, tokens = walked
    for op in ops:
        if op.is_write and not op.path.startswith(VIEWER_WRITES) and not op.path.endswith(("simulate", "/render")):
            assert op.admin_only or open_by_design(op, public_lint), f"{op} writes without Depends(admin)"
        r = send(api, op, bearer(tokens.viewer), body=b"{}" if op.has_body else None)
        if op.admin_only:
            assert r.status_code == 403, f"viewer on {op}: {r.status_code} {r.text[:200]}"
            assert r.json()["detail"]["code"] == "forbidden"
        else:
            ok = 200 <= r.status_code < 300 or r.status_code in (404, 422) or (op.is_write and r.status_code == 415)
            assert ok, f"viewer on {op}: {r.status_code} {r.text[:200]}"


BODIES: list[tuple[bytes | None, str]] = [
    (None, "application/json"),
    (b"{}", "application/json"),
    (b"{", "application/json"),  # invalid JSON: FastAPI would answer 422 if it parsed before auth
    (b'{"role": "admin", "enabled": "yes"}', "application/json"),
    (b'{"a": "\xff\xfe"}', "application/json"),  # not UTF-8: FastAPI's decoder would answer 400
    (b"[1, 2, 3]", "application/json"),
    (b"\x00\xff not json at all", "text/plain"),
    (b"From: a@b\r\n\r\nhi\r\n", "message/rfc822"),
    (b'--x\r\nContent-Disposition: form-data; name="f"\r\n\r\n', "multipart/form-data; boundary=x"),
    (b"email,name\r\n\xff\xfe,\x00\r\n", "text/csv"),
]


def test_auth_is_decided_before_the_body_is_read(walked: tuple[Api, list[Op], Tokens], public_lint: bool) -> None:
    """A 401/403 never depends on the body (size and nesting caps apart: they come first, by design)."""
    api, ops, tokens = walked
    wrong: list[str] = []
    for op in ops:
        if not op.is_write or open_by_design(op, public_lint):
            continue
        for body, ctype in BODIES:
            callers = [("no token", [], 401), ("unknown token", bearer("mg_" + "A" * 43), 401)]
            if op.admin_only:
                callers.append(("viewer", bearer(tokens.viewer), 403))
            for who, headers, expected in callers:
                r = send(api, op, headers, body=body, ctype=ctype)
                if r.status_code != expected:
                    wrong.append(f"{who}: {op} with {body!r:.40} ({ctype}) → {r.status_code}, not {expected}")
    assert not wrong, "\n".join(wrong)


def _variants(url: str) -> Iterator[str]:
    """Spellings of ``url`` that a case-insensitive or sloppy router might map onto the real route."""
    head, _, rest = url.lstrip("/").partition("/")
    yield url.upper()
    yield "/" + head.upper() + ("/" + rest if rest else "")
    yield "/" + "/".join(part.capitalize() for part in url.strip("/").split("/"))
    yield url + "/"
    yield "/" + url
    yield url.replace("/", "/./", 1)
    yield url.replace("/", "%2F")
    yield url.replace("/", "%252F")
    yield url + "%00"
    yield url + ";"


def test_case_variants_and_trailing_slashes_do_not_bypass(
    walked: tuple[Api, list[Op], Tokens], public_lint: bool
) -> None:
    api, ops, tokens = walked
    for op in ops:
        if open_by_design(op, public_lint):
            continue
        for url in _variants(op.url):
            r = send(api, op, [], url=url, body=b"{}" if op.has_body else None)
            assert r.status_code in (401, 404, 405), f"{op.method} {url!r} without a token: {r.status_code}"
            if op.admin_only:
                r = send(api, op, bearer(tokens.viewer), url=url, body=b"{}" if op.has_body else None)
                assert r.status_code in (403, 404, 405), f"{op.method} {url!r} as a viewer: {r.status_code}"


def test_head_and_options_leak_nothing(walked: tuple[Api, list[Op], Tokens], public_lint: bool) -> None:
    api, ops, _ = walked
    for op in ops:
        if open_by_design(op, public_lint):
            continue
        for method in ("HEAD", "OPTIONS"):
            for headers in ([], bearer("mg_" + "A" * 43)):
                r = api.client.request(method, op.url, headers=headers)
                assert r.status_code in (401, 405), f"{method} {op.url} ({op}): {r.status_code}"
                assert "policy_version" not in r.text and "subject-tag" not in r.text, f"{method} {op.url}: {r.text}"


def test_mass_assignment_is_rejected(walked: tuple[Api, list[Op], Tokens]) -> None:
    """``"role": "admin"`` (and friends) in a body is a 422 (extra=forbid), never silently ignored."""
    api, ops, tokens = walked
    version = api.state.version
    for op in ops:
        if not (op.is_write and op.has_body and op.admin_only):
            continue
        for body in (b'{"role": "admin"}', b'{"is_admin": true, "role": "admin", "author": "root"}'):
            r = send(api, op, bearer(tokens.admin), body=body)
            assert r.status_code == 422, f"{op} accepted {body!r}: {r.status_code} {r.text[:200]}"
    r = api.client.patch("/v1/checks/subject-tag", json={"enabled": True, "role": "admin"}, headers=api.admin)
    assert r.status_code == 422 and "role" in r.text, r.text
    r = api.client.put("/v1/policy/global", json={"fail": "hold", "role": "admin"}, headers=api.admin)
    assert r.status_code == 422, r.text
    assert api.state.version == version  # nothing was committed
    r = api.client.patch("/v1/checks/subject-tag", json={"enabled": True}, headers=api.viewer)
    assert r.status_code == 403  # the viewer stayed a viewer


# -- public lint ------------------------------------------------------------------------------------


def test_public_lint_opens_only_lint_and_format(make_api: Callable[..., Api]) -> None:
    good = (EXAMPLES / "action-items" / "good.eml").read_bytes()
    rfc822 = {"Content-Type": "message/rfc822"}
    closed = make_api(public_lint=False)
    for path in ("/v1/lint", "/v1/format"):
        assert_401(closed.client.post(path, content=good, headers=rfc822), f"{path} with public_lint off")
        assert closed.client.post(path, content=good, headers={**rfc822, **closed.viewer}).status_code == 200
    opened = make_api(public_lint=True)
    for path in ("/v1/lint", "/v1/format"):
        assert opened.client.post(path, content=good, headers=rfc822).status_code == 200
        assert opened.client.post(path, content=good, headers={**rfc822, **opened.viewer}).status_code == 200
        # a token that is presented is checked, even where none is needed
        bad = {**rfc822, "Authorization": "Bearer mg_" + "A" * 43}
        assert_401(opened.client.post(path, content=good, headers=bad), f"{path} with a bad token")
    assert_401(opened.client.get("/v1/checks"), "public_lint opens nothing else")
    assert_401(opened.client.get("/openapi.json"), "public_lint opens nothing else")


def test_failed_tokens_are_rate_limited_per_client_before_any_lookup(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    import mailgate.api.deps as deps

    api = make_api(auth_fail_rate=0.01, auth_fail_burst=3)
    looked_up: list[str] = []
    real = deps.verify_token
    monkeypatch.setattr(deps, "verify_token", lambda store, token: looked_up.append(token) or real(store, token))
    bad = {"Authorization": "Bearer mg_guess"}
    assert [api.client.get("/v1/checks", headers=bad).status_code for _ in range(2)] == [401, 401]
    assert api.client.get("/v1/checks", headers=api.admin).status_code == 200  # a good token spends nothing
    assert api.client.get("/v1/checks", headers=bad).status_code == 401  # the third and last allowed
    r = api.client.get("/v1/checks", headers=bad)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and r.json()["detail"]["code"] == "rate-limited"
    # now refused before the store is asked: even the admin's own token, from this address
    looked_up.clear()
    assert api.client.get("/v1/checks", headers=api.admin).status_code == 429
    assert api.client.post("/v1/policy/rollback/1", headers=bad).status_code == 429
    assert looked_up == []
    assert api.client.get("/v1/checks").status_code == 401  # no token at all: the plain 401
    # another client address is not affected
    with TestClient(api.client.app, client=("203.0.113.9", 50000)) as other:
        assert other.get("/v1/checks", headers=api.admin).status_code == 200
        assert other.get("/v1/checks", headers=bad).status_code == 401
