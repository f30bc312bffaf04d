"""POST /v1/lint and /v1/format: the same report and the same fixed bytes as the CLI (SPEC §4)."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailgate.cli import main
from tests.api.conftest import Api
from tests.conftest import EXAMPLES

CONFIG = str(EXAMPLES / "mailgate.toml")
RFC822 = {"Content-Type": "message/rfc822"}

# pass, warn, fail (several checks at once), info-only pass, a fixable one
LINT_CASES = [
    "action-items/good.eml",
    "action-item-deadline/bad.eml",
    "action-items/bad.eml",
    "meeting-minutes/bad-3.eml",
    "recipients-directory/bad.eml",
    "signature/bad.eml",
    "wording-vague/bad.eml",
    "subject-tag/bad.eml",
]


def cli_report(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> dict[str, Any]:
    """What ``mailgate lint --format json`` prints for ``path``, without its ``path`` key."""
    capsys.readouterr()
    main(["lint", "--format", "json", "--config", CONFIG, *extra, str(path)])
    reports = json.loads(capsys.readouterr().out)
    assert len(reports) == 1
    report: dict[str, Any] = reports[0]
    assert report.pop("path") == str(path)
    return report


def lint_raw(api: Api, raw: bytes, **kw: Any) -> Any:
    headers = {**api.admin, **RFC822, **kw.pop("headers", {})}
    r = api.client.post("/v1/lint", content=raw, headers=headers, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def lint_json(api: Api, body: dict[str, Any]) -> Any:
    r = api.client.post("/v1/lint", json=body, headers=api.admin)
    assert r.status_code == 200, r.text
    return r.json()


def checks_of(report: dict[str, Any]) -> set[str]:
    return {f["check"] for f in report["findings"]}


def deep_message(levels: int) -> bytes:
    head = b"From: lina@demo.example.cn\r\nTo: wangfang@demo.example.cn\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
    opens = b"".join(f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n".encode() for i in range(levels))
    closes = b"".join(f"\r\n--b{i}--\r\n".encode() for i in reversed(range(levels)))
    return head + opens + b"Content-Type: text/plain\r\n\r\nhi\r\n" + closes


# -- POST /v1/lint, raw --------------------------------------------------------------------------


def test_raw_lint_is_exactly_the_cli_report(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    verdicts = set()
    for name in LINT_CASES:
        path = EXAMPLES / name
        report = lint_raw(api, path.read_bytes())
        assert report == cli_report(capsys, path), name
        verdicts.add(report["verdict"])
    assert verdicts == {"pass", "warn", "fail"}


def test_unlintable_message_is_the_cli_error_report(
    api: Api, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "deep.eml"
    path.write_bytes(deep_message(50))
    report = lint_raw(api, path.read_bytes())
    assert report["verdict"] == "error" and report["error"]["code"] == "too-deep" and report["findings"] == []
    assert report == cli_report(capsys, path)


def test_english_by_query_or_accept_language(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES / "action-items/bad.eml"
    raw = path.read_bytes()
    zh = lint_raw(api, raw)
    en_cli = cli_report(capsys, path, "--locale", "en")
    assert zh == cli_report(capsys, path)
    assert zh != en_cli
    assert lint_raw(api, raw, params={"locale": "en"}) == en_cli
    assert lint_raw(api, raw, headers={"Accept-Language": "en-US,en;q=0.9"}) == en_cli
    assert lint_raw(api, raw, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}) == zh
    # the query wins over the header
    assert lint_raw(api, raw, params={"locale": "zh-CN"}, headers={"Accept-Language": "en"}) == zh
    msg = next(f["message"] for f in zh["findings"] if f["check"] == "action-items")
    assert any("\u4e00" <= c <= "\u9fff" for c in msg)
    msg_en = next(f["message"] for f in en_cli["findings"] if f["check"] == "action-items")
    assert msg_en.isascii()


def test_bad_locale_is_422(api: Api) -> None:
    raw = (EXAMPLES / "action-items/good.eml").read_bytes()
    r = api.client.post("/v1/lint", content=raw, params={"locale": "fr"}, headers={**api.admin, **RFC822})
    assert r.status_code == 422


def test_content_type_params_and_octet_stream_are_accepted(api: Api) -> None:
    raw = (EXAMPLES / "action-items/bad.eml").read_bytes()
    expected = lint_raw(api, raw)
    for ctype in ("message/rfc822; charset=utf-8", "application/octet-stream", "MESSAGE/RFC822"):
        r = api.client.post("/v1/lint", content=raw, headers={**api.admin, "Content-Type": ctype})
        assert r.status_code == 200 and r.json() == expected, ctype


def test_other_content_types_are_415(api: Api) -> None:
    for ctype in ("text/html", "multipart/form-data; boundary=x", "application/xml", None):
        headers = dict(api.admin)
        if ctype is not None:
            headers["Content-Type"] = ctype
        for route in ("/v1/lint", "/v1/format"):
            r = api.client.post(route, content=b"Subject: x\r\n\r\nhi\r\n", headers=headers)
            assert r.status_code == 415, (ctype, route, r.text)
            assert r.json()["detail"]["code"] == "unsupported"


def test_empty_raw_body_is_400(api: Api) -> None:
    for route in ("/v1/lint", "/v1/format"):
        r = api.client.post(route, content=b"", headers={**api.admin, **RFC822})
        assert r.status_code == 400, (route, r.text)
        assert r.json()["detail"]["code"] == "empty"


# -- POST /v1/lint, the JSON shape ---------------------------------------------------------------

SENDER = "何涛 <hetao@demo.example.cn>"
TO = ["徐丽 <xuli@demo.example.cn>"]
CC = ["王芳 <wangfang@demo.example.cn>"]
SUBJECT = "【数据】11月上半月渠道转化数据汇报"
DATE = "Wed, 18 Nov 2026 10:00:00 +0800"


def example_fields(name: str) -> dict[str, Any]:
    """The JSON shape of an example message (single text/plain part)."""
    head, _, body = (EXAMPLES / name).read_text(encoding="utf-8").partition("\n\n")
    msg = email.message_from_string(head + "\n\n", policy=email.policy.default)
    assert isinstance(msg, EmailMessage) and msg.get_content_maintype() == "text"
    out: dict[str, Any] = {"from": str(msg["From"]), "subject": str(msg["Subject"]), "date": str(msg["Date"])}
    for key in ("to", "cc"):
        if msg[key] is not None:
            out[key] = [str(a) for a in msg[key].addresses]
    out["text"] = body
    return out


def test_json_shape_reports_like_the_raw_message(api: Api) -> None:
    def key(f: dict[str, Any]) -> tuple[str, str, str]:
        return (f["check"], f["severity"], f["message"])

    for name in ("attachment-missing/bad.eml", "action-items/bad.eml", "subject-tag/bad-2.eml",
                 "recipients-external/bad.eml", "action-items/good.eml"):  # fmt: skip
        raw_report = lint_raw(api, (EXAMPLES / name).read_bytes())
        json_report = lint_json(api, example_fields(name))
        assert json_report["verdict"] == raw_report["verdict"], name
        assert sorted(map(key, json_report["findings"])) == sorted(map(key, raw_report["findings"])), name


def test_json_attachment_mention_without_attachment_fires(api: Api) -> None:
    fields = example_fields("attachment-missing/bad.eml")
    assert "详见附件" in fields["text"]
    report = lint_json(api, fields)
    assert "attachment-missing" in checks_of(report)
    [finding] = [f for f in report["findings"] if f["check"] == "attachment-missing"]
    assert finding["field"] == "body" and fields["text"][finding["start"] : finding["end"]] == "详见附件"


def test_json_listed_attachment_satisfies_the_mention(api: Api) -> None:
    fields = example_fields("attachment-missing/bad.eml")
    fields["attachments"] = [{"filename": "11月渠道明细.xlsx", "size": 48213}]
    report = lint_json(api, fields)
    assert "attachment-missing" not in checks_of(report), report["findings"]
    assert report["verdict"] == "pass"


def test_json_attachment_of_zero_bytes_is_reported_empty(api: Api) -> None:
    fields = example_fields("attachment-missing/bad.eml")
    fields["attachments"] = [{"filename": "明细.xlsx", "size": 0}]
    [finding] = [f for f in lint_json(api, fields)["findings"] if f["check"] == "attachment-missing"]
    assert finding["field"] == "attachments" and "明细.xlsx" in finding["message"]


def test_json_html_and_bcc_are_accepted(api: Api) -> None:
    fields = example_fields("action-items/good.eml")
    fields["html"] = "<p>" + fields["text"].replace("\n", "<br>") + "</p>"
    fields["bcc"] = ["lina@demo.example.cn"]
    assert lint_json(api, fields)["verdict"] == "pass"


def test_json_english_by_query(api: Api) -> None:
    fields = example_fields("action-items/bad.eml")
    r = api.client.post("/v1/lint", json=fields, params={"locale": "en"}, headers=api.admin)
    assert r.status_code == 200
    messages = [f["message"] for f in r.json()["findings"] if f["check"] == "action-items"]
    assert messages and all(m.isascii() for m in messages)


BAD_BODIES: list[dict[str, Any]] = [
    {"subject": "x", "frm": "a@b.cn"},  # unknown field
    {"subject": "x", "attachments": [{"filename": "a.pdf", "size": 1, "type": "pdf"}]},  # unknown nested field
    {"to": "wangfang@demo.example.cn"},  # a string, not a list
    {"subject": 5},
    {"text": ["a"]},
    {"attachments": [{"filename": "a.pdf", "size": -1}]},
    {"attachments": [{"filename": "a.pdf", "size": "big"}]},
    {"attachments": [{"size": 3}]},  # no filename
    {"attachments": "a.pdf"},
    {"subject": "a\r\nBcc: evil@example.com"},  # header injection
    {"to": ["a@demo.example.cn\nBcc: evil@example.com"]},
]


def test_json_unknown_fields_and_bad_types_are_422(api: Api) -> None:
    for body in BAD_BODIES:
        r = api.client.post("/v1/lint", json=body, headers=api.admin)
        assert r.status_code == 422, (body, r.text)
        detail = r.json()["detail"]
        assert detail and all("loc" in e and "msg" in e for e in detail), body


def test_json_that_is_not_an_object_or_not_json_is_422(api: Api) -> None:
    for content in (b"[]", b'"x"', b"{not json", b""):
        r = api.client.post("/v1/lint", content=content, headers={**api.admin, "Content-Type": "application/json"})
        assert r.status_code == 422, (content, r.text)


# -- POST /v1/format -----------------------------------------------------------------------------


FORMAT_CASES = [
    ("subject-tag/bad.eml", "subject-tag,typography"),
    ("body-numbered/bad.eml", "body-numbered,typography"),
    ("urgent-priority/bad.eml", "typography,urgent-priority"),
    ("action-items/good.eml", "none"),
]


def test_format_is_the_cli_output(api: Api, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    for name, fixed in FORMAT_CASES:
        path = EXAMPLES / name
        capsysbinary.readouterr()
        assert main(["format", "--config", CONFIG, str(path)]) == 0
        expected = capsysbinary.readouterr().out
        r = api.client.post("/v1/format", content=path.read_bytes(), headers={**api.admin, **RFC822})
        assert r.status_code == 200, (name, r.text)
        assert r.headers["content-type"].split(";")[0] == "message/rfc822"
        assert r.headers["x-mailgate-fixed"] == fixed, name
        assert r.content == expected, name
        assert (r.content == path.read_bytes()) == (fixed == "none"), name


def test_format_then_lint_has_no_safe_fix_left(api: Api) -> None:
    raw = (EXAMPLES / "subject-tag/bad.eml").read_bytes()
    before = lint_raw(api, raw)
    assert "subject-tag" in checks_of(before)
    fixed = api.client.post("/v1/format", content=raw, headers={**api.admin, **RFC822}).content
    after = lint_raw(api, fixed)
    assert "subject-tag" not in checks_of(after)
    assert not [f for f in after["findings"] if f["fix"] and f["fix"]["applicability"] == "safe"]


def test_format_accepts_the_json_shape(api: Api) -> None:
    fields = example_fields("subject-tag/bad.eml")
    r = api.client.post("/v1/format", json=fields, headers=api.admin)
    assert r.status_code == 200, r.text
    assert "subject-tag" in r.headers["x-mailgate-fixed"].split(",")
    out = email.message_from_bytes(r.content, policy=email.policy.default)
    assert str(out["Subject"]).startswith("【通知】")


def test_format_rejects_a_bad_json_shape(api: Api) -> None:
    assert api.client.post("/v1/format", json={"nope": 1}, headers=api.admin).status_code == 422


# -- auth ----------------------------------------------------------------------------------------


def test_lint_needs_a_token_by_default(api: Api) -> None:
    raw = (EXAMPLES / "action-items/good.eml").read_bytes()
    for route in ("/v1/lint", "/v1/format"):
        assert api.client.post(route, content=raw, headers=RFC822).status_code == 401
        bad = {**RFC822, "Authorization": "Bearer nope"}
        assert api.client.post(route, content=raw, headers=bad).status_code == 401
        assert api.client.post(route, content=raw, headers={**RFC822, **api.viewer}).status_code == 200


def test_public_lint_works_without_a_token(make_api: Callable[..., Api], capsys: pytest.CaptureFixture[str]) -> None:
    api = make_api(public_lint=True)
    path = EXAMPLES / "action-items/bad.eml"
    r = api.client.post("/v1/lint", content=path.read_bytes(), headers=RFC822)
    assert r.status_code == 200 and r.json() == cli_report(capsys, path)
    assert api.client.post("/v1/format", content=path.read_bytes(), headers=RFC822).status_code == 200
    # a token that is sent must still be a valid one
    bad = {**RFC822, "Authorization": "Bearer nope"}
    assert api.client.post("/v1/lint", content=path.read_bytes(), headers=bad).status_code == 401
    # everything else still needs a token
    assert api.client.get("/v1/checks").status_code == 401
    assert api.client.patch("/v1/checks/subject-topic", json={"enabled": False}).status_code == 401
