"""HOSTILE.md 34–40 as they concern the admin HTTP API and the template gallery.

34  inputs that break ``email.policy.default``, sent to /v1/lint and /v1/format → a report, never a 500
35  JSON fields that end up in generated mail (CR/LF, NUL, encoded words, 1 MB) → 422 at validation
36  SSTI in uploaded templates → refused at upload (the immutable sandbox, a compile and two renders)
37  template DoS → the render worker's output cap, deadline, memory limit; the app keeps serving
38  XSS and traversal in the gallery → autoescape, CSP, a sandboxed preview iframe, ids as keys
39  auth bypass, the parts test_auth.py does not walk: spoofed client-IP headers, path tricks, the docs
40  oversized bodies → 413 before parsing (declared or streamed), deep JSON → 400, a 50 MB message → 413
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from email import message_from_bytes
from email import policy as email_policy
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from mailgate.api import ApiSettings, build_app
from mailgate.api.tokens import create_token, hash_token
from mailgate.policy import Policy
from mailgate.state import PolicyState
from mailgate.store import Store
from tests.api.conftest import Api
from tests.conftest import EXAMPLES
from tests.db import fresh_store_url

RFC822 = {"Content-Type": "message/rfc822"}
VERDICTS = {"pass", "warn", "fail", "error"}


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


GOOD = _crlf((EXAMPLES / "action-items" / "good.eml").read_bytes())
HEAD, _, BODY = GOOD.partition(b"\r\n\r\n")


def with_header(line: bytes, replacing: bytes | None = None) -> bytes:
    """GOOD with ``line`` replacing the header named ``replacing`` (or added)."""
    lines = HEAD.split(b"\r\n")
    if replacing is None:
        lines.append(line)
    else:
        lines = [line if ln.lower().startswith(replacing.lower() + b":") else ln for ln in lines]
        assert line in lines, replacing
    return b"\r\n".join(lines) + b"\r\n\r\n" + BODY


@pytest.fixture(scope="module")
def lint_api(demo_policy: Policy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app for the many read-only lint/format cases (they change nothing in the store)."""
    with fresh_store_url(tmp_path_factory.mktemp("hostile")) as url:
        store = Store(url)
        state = PolicyState(demo_policy, store)
        state.refresh()
        with TestClient(build_app(state, store, ApiSettings(), poll=False)) as client:
            _, admin = create_token(store, "admin", "hostile-admin")
            _, viewer = create_token(store, "viewer", "hostile-viewer")
            yield Api(client, store, state, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {viewer}"})
        store.close()


def header_names(raw: bytes) -> list[str]:
    head = raw.replace(b"\r\n", b"\n").partition(b"\n\n")[0]
    return [line.split(b":", 1)[0].decode("latin-1").lower() for line in head.split(b"\n") if line[:1] not in b" \t"]


# -- 34 ---------------------------------------------------------------------------------------------

DSN = _crlf(
    b"From: MAILER-DAEMON@demo.example.cn\nTo: lina@demo.example.cn\nSubject: Undelivered Mail\nMIME-Version: 1.0\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
    b"--b\nContent-Type: text/plain\n\nfailed\n"
    b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
    b"Final-Recipient: rfc822; g: h: a@b;;\nAction: failed\nStatus: 5.0.0\n\n"
    b"--b\nContent-Type: message/rfc822\n\n"
    b"From: =?utf-8?Q?x=0D=0ABcc:_evil@x.cn?= <lina@demo.example.cn>\nTo: g: h: a@b;;\nCc: <\nMessage-ID: <\n"
    b"Subject: a\x00b\n\nhi\n--b--\n"
)

# Each of these makes email.policy.default raise (IndexError, ValueError, AttributeError) on header
# access, or carries a NUL or a decoded CR/LF.
BREAKERS = {
    "NUL in Subject": with_header("Subject: 【通知】电力检修\x00安排".encode(), b"Subject"),
    "NUL in To": with_header(b"To: zhaoqiang@demo.example.cn\x00", b"To"),
    "NUL in a header name": with_header(b"X-\x00: y"),
    "group in To": with_header(b"To: undisclosed-recipients:;", b"To"),
    "group inside a group": with_header(b"To: g: h: zhaoqiang@demo.example.cn;;", b"To"),
    "group in Reply-To": with_header(b"Reply-To: g: h: a@b;;"),
    "decoded CR/LF in From": with_header(b"From: =?utf-8?Q?li=0D=0ABcc:_evil@x.cn?= <lina@demo.example.cn>", b"From"),
    "decoded CR/LF in To": with_header(b"To: =?utf-8?B?YUB4DQpCY2M6IGV2aWxAeC5jbg==?= <zhaoqiang@x.cn>", b"To"),
    "decoded CR/LF in Subject": with_header(b"Subject: =?utf-8?Q?=E9=80=9A=E7=9F=A5=0D=0ABcc:_evil@x.cn?=", b"Subject"),
    "Message-ID <": with_header(b"Message-ID: <"),
    "To: a lone quote": with_header(b'To: "', b"To"),
    "To: a lone angle": with_header(b"To: <", b"To"),
    "Cc: quoted local part, no domain": with_header(b'Cc: "a"@', b"Cc"),
    "Cc: open domain literal": with_header(b"Cc: a@[1.2.3", b"Cc"),
    "DSN with a broken attached message": DSN,
}


@pytest.mark.parametrize("raw", list(BREAKERS.values()), ids=list(BREAKERS))
def test_hostile_34_inputs_that_break_the_default_policy_get_a_report(lint_api: Api, raw: bytes) -> None:
    api = lint_api
    r = api.client.post("/v1/lint", content=raw, headers={**RFC822, **api.viewer})
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] in VERDICTS
    r = api.client.post("/v1/format", content=raw, headers={**RFC822, **api.viewer})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        # a decoded CR/LF is never written back as a header break
        assert "bcc" not in header_names(r.content), r.content[:400]
    else:
        assert r.json()["detail"]["code"] == "unformattable"


def test_hostile_34_a_fix_never_reserialises_a_decoded_crlf(make_api: Callable[..., Api]) -> None:
    """subject-tag rewrites the Subject; an encoded CR/LF in it must stay encoded."""
    head, _, body = _crlf((EXAMPLES / "subject-tag" / "bad.eml").read_bytes()).partition(b"\r\n\r\n")
    evil = b" =?utf-8?Q?x=0D=0ABcc:_evil@x.cn?="
    raw = (
        b"\r\n".join(ln + evil if ln.startswith(b"Subject:") else ln for ln in head.split(b"\r\n")) + b"\r\n\r\n" + body
    )
    api = make_api()
    r = api.client.post("/v1/format", content=raw, headers={**RFC822, **api.viewer})
    assert r.status_code == 200 and "subject-tag" in r.headers["x-mailgate-fixed"], r.text
    assert "bcc" not in header_names(r.content)
    assert header_names(r.content).count("subject") == 1


# -- 35 ---------------------------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "from": "李娜 <lina@demo.example.cn>",
    "to": ["赵强 <zhaoqiang@demo.example.cn>"],
    "cc": ["王芳 <wangfang@demo.example.cn>"],
    "subject": "【通知】本周六办公区电力检修安排通知",
    "text": "赵强：\n\n本周六办公区电力检修。\n\n谢谢！\n李娜\n",
    "date": "Wed, 18 Nov 2026 10:00:00 +0800",
}

INJECTIONS: dict[str, tuple[str, Any]] = {
    "subject CRLF Bcc": ("subject", "Hi\r\nBcc: all@corp"),
    "subject lone LF": ("subject", "Hi\nBcc: all@corp"),
    "subject lone CR": ("subject", "Hi\rBcc: all@corp"),
    "subject NUL": ("subject", "Hi\x00there"),
    "subject 1 MB": ("subject", "通" * 1_000_000),
    "subject encoded CRLF": ("subject", "=?utf-8?Q?Hi=0D=0ABcc:_all@corp?="),
    "subject encoded CRLF base64": ("subject", "=?utf-8?B?SGkNCkJjYzogYWxsQGNvcnA=?="),
    "subject U+2028": ("subject", "Hi\u2028Bcc: all@corp"),
    "subject VT FF NEL": ("subject", "a\x0bb\x0cc\x85d"),
    "display name LF": ("from", "李娜\n <lina@demo.example.cn>"),
    "display name CRLF in quotes": ("from", '"李娜\r\nBcc: all@corp" <lina@demo.example.cn>'),
    "display name encoded CRLF": ("from", "=?utf-8?Q?li=0D=0ABcc:_all@corp?= <lina@demo.example.cn>"),
    "recipient RCPT TO": ("to", ["a@x\r\nRCPT TO:<b@y>"]),
    "recipient trailing CRLF": ("to", ["<zhaoqiang@demo.example.cn>\r\n"]),
    "recipient encoded CRLF": ("to", ["=?utf-8?B?YUB4DQpCY2M6IHlAeg==?= <zhaoqiang@demo.example.cn>"]),
    "cc LF": ("cc", ["wangfang@demo.example.cn\nBcc: all@corp"]),
    "bcc NUL": ("bcc", ["all@corp\x00"]),
    "date CRLF": ("date", "Wed, 18 Nov 2026 10:00:00 +0800\r\nBcc: all@corp"),
    "attachment filename CRLF": ("attachments", [{"filename": "a.pdf\r\nBcc: all@corp", "size": 1}]),
    "attachment filename encoded CRLF": ("attachments", [{"filename": "=?utf-8?Q?a=0D=0ABcc:_x@y?=.pdf"}]),
    "attachment filename encoded CRLF b64": ("attachments", [{"filename": "=?utf-8?B?YQ0KQmNjOiB4QHk=?=.pdf"}]),
    "1000 recipients and one more": ("to", [f"u{i}@demo.example.cn" for i in range(1001)]),
}


@pytest.mark.parametrize("path", ["/v1/lint", "/v1/format"])
@pytest.mark.parametrize("field_value", list(INJECTIONS.values()), ids=list(INJECTIONS))
def test_hostile_35_fields_that_end_up_in_mail_are_422(lint_api: Api, path: str, field_value: tuple[str, Any]) -> None:
    field, value = field_value
    api = lint_api
    r = api.client.post(path, json={**BASE, field: value}, headers=api.viewer)
    assert r.status_code == 422, f"{field}={value!r:.80}: {r.status_code} {r.content[:300]!r}"


def test_hostile_35_clean_fields_build_exactly_the_headers_given(make_api: Callable[..., Api]) -> None:
    """The control: the same shape without the injection is accepted, and the generated mail has the
    given headers only — text that merely looks like a header stays inside the Subject."""
    api = make_api()
    body = {**BASE, "subject": "【通知】关于 Bcc: all@corp 与 RCPT TO:<b@y> 的说明", "bcc": ["liuyang@demo.example.cn"]}
    r = api.client.post("/v1/format", json=body, headers=api.viewer)
    assert r.status_code == 200, r.text
    names = header_names(r.content)
    assert sorted(set(names)) == sorted({"from", "to", "cc", "bcc", "subject", "date", "content-type",
                                         "content-transfer-encoding", "mime-version"})  # fmt: skip
    assert len(names) == len(set(names))  # each once
    msg = message_from_bytes(r.content, policy=email_policy.default)
    assert str(msg["Subject"]) == body["subject"] and str(msg["Bcc"]) == "liuyang@demo.example.cn"
    r = api.client.post("/v1/lint", json={**BASE, "subject": "通" * 1999}, headers=api.viewer)
    assert r.status_code == 200 and r.json()["verdict"] in VERDICTS  # long, but within the field cap


# -- 36–38: the template gallery ------------------------------------------------------------------


def _spec(api: Api, **change: Any) -> dict[str, Any]:
    spec = api.client.get("/v1/templates/dept-collab", headers=api.viewer).json()["spec"]
    return {**spec, **change}


def _put(api: Api, template_id: str, spec: dict[str, Any]) -> Any:
    return api.client.put(f"/v1/templates/{template_id}", json={**spec, "id": template_id}, headers=api.admin)


SSTI = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ (\"{0.__class__}\"|attr(\"format\"))(1) }}",  # CVE-2025-27516
    "{% set f = \"{0.__class__.__init__.__globals__}\".format %}{{ f(1) }}",  # CVE-2024-56326: a stored reference
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ sender.update({'name': 'x'}) }}",  # the immutable sandbox: no mutation of the context
]


@pytest.mark.parametrize("payload", SSTI)
def test_hostile_36_ssti_in_an_uploaded_template(api: Api, payload: str) -> None:
    r = _put(api, "ssti", _spec(api, body=_spec(api)["body"] + "\n" + payload + "\n"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["code"] in ("template-security", "template-undefined", "template-error"), r.text
    assert "uid=" not in r.text and "<class" not in r.text
    assert api.client.get("/v1/templates/ssti", headers=api.viewer).status_code == 404  # rejected at upload


DOS = [
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'x' * 10**9 }}",
    "{{ ['x'] * 10**8 }}",
    "{{ 10 ** 10 ** 10 }}",
    "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}",  # output cap
    "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",  # no output: the deadline
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
]


@pytest.mark.parametrize("payload", DOS)
def test_hostile_37_template_dos(api: Api, payload: str) -> None:
    started = time.monotonic()
    r = _put(api, "dos", _spec(api, body=payload))
    took = time.monotonic() - started
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["code"] in ("template-limit", "template-security", "template-error"), r.text
    assert took < 15, f"{payload}: {took:.1f} s"
    # the app (and its render worker, replaced if it was killed) still serves
    ok = api.client.post("/v1/templates/dept-collab/render", headers=api.viewer, json={
        "from": "lina@demo.example.cn", "to": ["liuyi@demo.example.cn"],
        "fields": {"project": "积分", "need_kind": "接口", "background": "上线", "points": ["一", "二"],
                   "actions": [{"task": "评估", "owner": "刘毅", "deadline": "2026-12-01"}]}})  # fmt: skip
    assert ok.status_code == 200, ok.text


XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_hostile_38_xss_in_template_metadata_is_escaped_under_csp(api: Api) -> None:
    note = {"name": "note", "label": "<b onmouseover=alert(4)>x</b>", "help": "javascript:alert(5)",
            "example": '"><script>alert(6)</script>'}  # fmt: skip
    spec = _spec(api, title="<script>alert(1)</script>", description=XSS, keywords=["javascript:alert(3)"],
                 fields=[*_spec(api)["fields"], note])  # fmt: skip
    assert _put(api, "xss", spec).status_code == 200
    for url in ("/gallery", "/gallery/xss", "/gallery/xss?example=1"):
        r = api.client.get(url)
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors" in csp
        assert "<script>alert" not in r.text and "<img src=x" not in r.text and "<b onmouseover" not in r.text
        assert 'href="javascript:' not in r.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text or url != "/gallery"
    page = api.client.get("/gallery/xss?example=1").text
    assert '<iframe class="mail" title="邮件预览" sandbox srcdoc=' in page  # no allow-scripts, opaque origin
    assert "allow-scripts" not in page and "allow-same-origin" not in page


def test_hostile_38_xmlattr_keys_are_refused_in_templates(api: Api) -> None:
    for key in ("a b", "a/b", "a>b", "a=b"):
        body = _spec(api)["body"] + "{{ {'" + key + "': 1}|xmlattr }}\n"
        r = _put(api, "xmlattr", _spec(api, body=body))
        assert r.status_code == 422, (key, r.text)


TRAVERSAL = ["../../etc/passwd", "..%2f..%2fetc%2fpasswd", "%2fabs", "a%00.j2", "{0.__class__}", "A", "a" * 65,
             "..", "a.toml", "dept-collab.toml"]  # fmt: skip


@pytest.mark.parametrize("name", TRAVERSAL)
def test_hostile_38_template_names_are_keys_not_paths(api: Api, name: str) -> None:
    for method, url in (("GET", f"/v1/templates/{name}"), ("PUT", f"/v1/templates/{name}"),
                        ("POST", f"/v1/templates/{name}/render"), ("DELETE", f"/v1/templates/{name}")):  # fmt: skip
        r = api.client.request(method, url, headers=api.admin, json=_spec(api))
        assert r.status_code in (404, 405, 422) or (r.status_code == 400 and "%00" in url), (method, url, r.status_code)
        assert "root:" not in r.text
    r = api.client.get(f"/gallery/{name}")
    assert r.status_code == 404 and "root:" not in r.text
    r = api.client.post("/v1/templates", headers=api.admin, json=_spec(api, id=name.replace("%2f", "/")))
    assert r.status_code == 422


@pytest.mark.parametrize("name", ["../app.py", "..%2fapp.py", "gallery.js%00", "form.html", "/etc/passwd"])
def test_hostile_38_static_files_are_a_fixed_list(api: Api, name: str) -> None:
    r = api.client.get(f"/gallery/static/{name}")
    assert r.status_code == 404 and "import" not in r.text


# -- 39 ---------------------------------------------------------------------------------------------

SPOOFED = {
    "X-Forwarded-For": "127.0.0.1",
    "X-Real-IP": "127.0.0.1",
    "Forwarded": "for=127.0.0.1;proto=https;host=localhost",
    "X-Client-IP": "127.0.0.1",
    "True-Client-IP": "127.0.0.1",
    "X-Forwarded-Host": "localhost",
    "X-Forwarded-Proto": "https",
    "X-Original-URL": "/healthz",
    "X-Rewrite-URL": "/healthz",
    "X-HTTP-Method-Override": "GET",
    "X-Forwarded-User": "admin",
    "X-Remote-User": "admin",
}


def test_hostile_39_spoofed_client_ip_and_proxy_headers_grant_nothing(make_api: Callable[..., Api]) -> None:
    api = make_api()
    from fastapi.testclient import TestClient

    loopback = TestClient(api.client.app, client=("127.0.0.1", 50000))  # even a loopback peer needs a token
    for client in (api.client, loopback):
        for name, value in SPOOFED.items():
            r = client.get("/v1/policy", headers={name: value, "Host": "localhost"})
            assert r.status_code == 401, f"{name}: {r.status_code}"
            r = client.patch("/v1/checks/subject-tag", json={"enabled": False}, headers={name: value})
            assert r.status_code == 401, f"{name}: {r.status_code}"
            r = client.patch("/v1/checks/subject-tag", json={"enabled": False}, headers={name: value, **api.viewer})
            assert r.status_code == 403, f"{name}: {r.status_code}"
        r = client.get("/v1/policy", headers={**SPOOFED, "Host": "localhost"})
        assert r.status_code == 401
    # a path override header does not reroute: /healthz stays /healthz, and nothing else is served
    r = api.client.get("/healthz", headers={"X-Original-URL": "/v1/policy", "X-Rewrite-URL": "/v1/policy"})
    assert r.json() == {"status": "ok"}
    assert api.state.version == 0  # nothing was changed along the way


@pytest.mark.parametrize(
    "url",
    [
        "/healthz/..%2Fv1%2Fpolicy",
        "/healthz%2F..%2Fv1%2Fpolicy",
        "/metrics/%2e%2e/v1/policy",
        "/%2e%2e/v1/policy",
        "/v1/policy%252F",
        "/v1%252Fpolicy",
        "/v1/checks%252Fsubject-tag",
        "/v1/checks/subject-tag%2F..%2F..%2Fpolicy",
        "/v1/lint/..%2Fpolicy",
        "//v1/policy",
        "/v1//policy",
        "/V1/POLICY",
        "/v1/policy/",
        "/v1/policy%00",
        "/v1/policy;.css",
        "/v1/policy/.",
        "/static/..%2Fv1%2Fpolicy",
    ],
)
def test_hostile_39_double_encoded_and_traversal_paths_do_not_bypass(lint_api: Api, url: str) -> None:
    api = lint_api
    r = api.client.get(url)
    assert r.status_code in (401, 404, 405), f"{url}: {r.status_code} {r.text[:200]}"
    assert "policy_version" not in r.text and "departments" not in r.text


def test_hostile_39_docs_and_schema_are_not_exposed(make_api: Callable[..., Api]) -> None:
    api = make_api(public_lint=True)
    for url in ("/docs", "/openapi.json"):
        r = api.client.get(url)
        assert r.status_code == 401 and "paths" not in r.text and "swagger" not in r.text.lower(), url
        assert api.client.get(url, headers=api.viewer).status_code == 200
    assert "/v1/checks" in api.client.get("/openapi.json", headers=api.viewer).json()["paths"]
    for url in ("/redoc", "/docs/oauth2-redirect", "/swagger", "/openapi.yaml", "/v1/openapi.json", "/api/docs"):
        assert api.client.get(url).status_code == 404, url


def test_hostile_39_what_is_stored_is_not_a_credential(make_api: Callable[..., Api]) -> None:
    """Tokens are hashed at rest: whoever reads the table gets nothing that authenticates."""
    api = make_api()
    secret = api.admin["Authorization"].removeprefix("Bearer ")
    row = next(t for t in api.store.tokens() if t.token_hash == hash_token(secret))
    assert secret not in (row.token_hash, row.id, row.name)
    for stolen in (row.token_hash, row.id, f"mg_{row.token_hash}", f"mg_{row.token_hash[:43]}"):
        r = api.client.get("/v1/policy", headers={"Authorization": f"Bearer {stolen}"})
        assert r.status_code == 401, stolen


def test_hostile_39_templates_have_no_tenant_to_cross(api: Api) -> None:
    """One organisation per instance: templates are the organisation's, read by any token and
    written by admins only. What an IDOR would need — a way for a lesser token to reach a
    template's write routes — is refused, and unknown ids answer 401 before anything else."""
    spec = api.client.get("/v1/templates/dept-collab", headers=api.viewer).json()["spec"]
    assert api.client.put("/v1/templates/owned", json={**spec, "id": "owned"}, headers=api.admin).status_code == 200
    for method in ("PUT", "DELETE"):
        r = api.client.request(method, "/v1/templates/owned", json={**spec, "id": "owned"}, headers=api.viewer)
        assert r.status_code == 403
    for template_id in ("owned", "never-existed"):
        assert api.client.get(f"/v1/templates/{template_id}").status_code == 401  # no oracle without a token


# -- 40 ---------------------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"tags": ' + b"[" * (depth - 1) + b'"x"' + b"]" * (depth - 1) + b"}"


def test_hostile_40_oversized_body_is_413_before_parsing(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_bytes=4096)
    at_cap = GOOD + b" " * (4096 - len(GOOD)) if len(GOOD) <= 4096 else None
    over = GOOD + b"x" * 5000
    if at_cap is not None:
        assert api.client.post("/v1/lint", content=at_cap, headers={**RFC822, **api.viewer}).status_code == 200
    for headers in ({**RFC822, **api.viewer}, RFC822):  # the cap comes before auth, by design
        r = api.client.post("/v1/lint", content=over, headers=headers)
        assert r.status_code == 413 and r.json()["detail"]["code"] == "too-large", r.text
    # invalid JSON over the cap is 413, not 422: nothing was parsed
    junk = b"{" * 3000 + b"x" * 2000
    for path, method in (("/v1/lint", "POST"), ("/v1/tags", "PUT"), ("/v1/checks/subject-tag", "PATCH")):
        r = api.client.request(method, path, content=junk, headers={"Content-Type": "application/json", **api.admin})
        assert r.status_code == 413, f"{method} {path}: {r.status_code}"


def test_hostile_40_a_streamed_body_without_length_is_cut_at_the_cap(make_api: Callable[..., Api]) -> None:
    """No Content-Length (chunked): the cap is counted while reading, and reading stops there."""
    api = make_api(max_body_bytes=1_000_000)
    pulled = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(50):  # 50 MB offered
            pulled += 1
            yield b"x" * 1_000_000

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=api.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post("/v1/lint", content=chunks(), headers={**RFC822, **api.viewer})

    r = asyncio.run(post())
    assert r.request.headers.get("content-length") is None
    assert r.status_code == 413 and r.json()["detail"]["code"] == "too-large"
    assert pulled <= 3, f"read {pulled} MB of a 1 MB cap"


def test_hostile_40_deeply_nested_json_is_400(make_api: Callable[..., Api]) -> None:
    api = make_api(max_json_depth=8)
    json_ct = {"Content-Type": "application/json", **api.admin}
    r = api.client.put("/v1/tags", content=nested(9), headers=json_ct)
    assert r.status_code == 400 and r.json()["detail"]["code"] == "too-deep", r.text
    r = api.client.put("/v1/tags", content=nested(8), headers=json_ct)
    assert r.status_code == 422, r.text  # within the cap: parsed, then refused by the schema
    # brackets inside strings are not nesting
    r = api.client.put("/v1/tags", content=b'{"tags": ["[[[[[[[[[[{{{{{{{{{{\\"[["]}', headers=json_ct)
    assert r.status_code != 400, r.text
    for ct in ("application/json; charset=utf-8", "APPLICATION/JSON", "application/merge-patch+json"):
        r = api.client.put("/v1/tags", content=nested(9), headers={**json_ct, "Content-Type": ct})
        assert r.status_code == 400, ct
    r = api.client.post("/v1/lint", content=b'{"to": ' + b"[" * 20 + b"]" * 20 + b"}", headers=json_ct)
    assert r.status_code == 400


def test_hostile_40_pathological_nesting_under_the_size_cap_is_fast(make_api: Callable[..., Api]) -> None:
    api = make_api()  # the shipped defaults
    for body in (b"[" * 5_000_000, b'{"a":' * 1_000_000 + b"1" + b"}" * 1_000_000):
        started = time.perf_counter()
        r = api.client.post("/v1/lint", content=body, headers={"Content-Type": "application/json", **api.viewer})
        assert r.status_code == 400 and time.perf_counter() - started < 5, r.status_code


def test_hostile_40_a_50_mb_raw_message_is_413(make_api: Callable[..., Api]) -> None:
    api = make_api()  # the shipped default cap (10 MB)
    big = GOOD + b"A" * (50 * 1024 * 1024)
    started = time.perf_counter()
    r = api.client.post("/v1/lint", content=big, headers={**RFC822, **api.viewer})
    assert r.status_code == 413 and r.json()["detail"]["code"] == "too-large"
    r = api.client.post("/v1/format", content=big, headers={**RFC822, **api.viewer})
    assert r.status_code == 413
    r = api.client.post("/v1/lint", json={**BASE, "text": "A" * (50 * 1024 * 1024)}, headers=api.viewer)
    assert r.status_code == 413
    assert time.perf_counter() - started < 10
    # under the body cap but over a field cap: 422, not a 50 MB lint
    r = api.client.post("/v1/lint", json={**BASE, "text": "A" * 3_000_000}, headers=api.viewer)
    assert r.status_code == 422


@pytest.mark.parametrize(
    "url",
    ["/v1/audit?sender=%00", "/v1/audit?action=deliver&sender=a%00b", "/v1/stats?sender=%00",
     "/v1/quarantine?status=held&x=%00", "/v1/directory/people/a%00b@demo.example.cn", "/v1/templates?q=a%00"],
)  # fmt: skip
def test_a_nul_in_an_api_url_is_400(api: Api, url: str) -> None:
    """Found by schemathesis on PostgreSQL: a NUL in a filter reached the database (text cannot hold it) → 500."""
    r = api.client.get(url, headers=api.admin)
    assert r.status_code == 400 and r.json()["detail"]["code"] == "bad-url", (url, r.status_code, r.text)
    assert api.client.get(url).status_code == 401  # without a token: the uniform 401 first
    # the pages answer their own 404 page (ids are matched against a pattern before any lookup)
    assert api.client.get("/reports/%00").status_code == 404
    assert api.client.get("/quarantine/%00").status_code == 404
    assert api.client.get("/gallery?q=%00").status_code == 200


@pytest.mark.parametrize(
    ("where", "bad"),
    [("title", "x\x00y"), ("title", "a\nb"), ("description", "\x00"), ("description", "\x1b[31m"), ("tag", "通\x07知"),
     ("body", "{{ x }}\x00"), ("subject", "\x00"), ("label", "a\x00"), ("keywords", "\x00")],
)  # fmt: skip
def test_control_characters_in_template_text_are_422(api: Api, where: str, bad: str) -> None:
    spec = _spec(api)
    if where == "label":
        spec["fields"][0]["label"] = bad
    elif where == "keywords":
        spec["keywords"] = [bad]
    else:
        spec[where] = bad
    r = _put(api, "ctl", spec)
    assert r.status_code == 422, (where, r.status_code, r.text[:200])
    assert api.client.get("/v1/templates/ctl", headers=api.viewer).status_code == 404  # nothing stored
