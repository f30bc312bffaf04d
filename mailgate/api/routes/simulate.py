"""``POST /v1/policy/simulate``: replay a proposed policy over retained and uploaded messages.

A dry run changes nothing — no version is written, the live policy is untouched — so a **viewer**
token may run it (viewers already read the audit log the retained messages come from). It is
still bounded: at most ``limit`` messages (≤ 5000) and 60 s of linting, one lint slot while it
runs, and one dry run at a time per process (a second one gets 429).

The proposal is an admin-layer patch (``{"checks": …, "lexicons": …, "policy": …, "directory": …}``)
merged over the admin layer in effect as an RFC 7396 merge patch (``null`` removes a key), or the
whole admin layer with ``"replace": true``. Messages come from retention (``[storage] retain_days``,
newest first, expired rows excluded) when ``retained`` is true, and from uploads: base64 strings in
JSON, or ``.eml`` file parts in ``multipart/form-data`` (with the other fields as form fields and
``proposed`` as a JSON string). Uploads are replayed first.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from mailgate.api.changes import diff
from mailgate.api.deps import AuthFirst, Services, ServicesDep, viewer
from mailgate.api.errors import problem
from mailgate.api.limits import json_depth_exceeds
from mailgate.errors import ConfigError
from mailgate.simulate import (
    DEFAULT_BUDGET,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Sample,
    Side,
    lints_alike,
    proposed_doc,
    simulate,
)
from mailgate.store import Store

router = APIRouter(prefix="/v1", tags=["policy"], dependencies=[Depends(viewer)], route_class=AuthFirst)
log = logging.getLogger("mailgate.api.simulate")

MAX_UPLOADS = 200
MAX_EXAMPLES = 100
MULTIPART = "multipart/form-data"
_running = threading.Lock()  # one dry run at a time in this process (across event loops)


class UploadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255, pattern=r"^[^\r\n\x00]+$")
    data: str = Field(min_length=1, description="the .eml bytes, base64")


class SimulateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    proposed: dict[str, Any] = Field(
        default_factory=dict, description="admin-layer patch (RFC 7396 merge patch over the layer in effect)"
    )
    replace: bool = Field(default=False, description="use `proposed` as the whole admin layer")
    retained: bool = Field(default=True, description="include retained messages ([storage] retain_days)")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="messages at most")
    examples: int = Field(default=10, ge=0, le=MAX_EXAMPLES, description="changed messages to show")
    messages: list[str | UploadIn] = Field(
        default_factory=list, max_length=MAX_UPLOADS, description=".eml files, base64 (or {name, data})"
    )


_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "proposed": {"type": "string", "description": "the admin-layer patch, as JSON"},
        "replace": {"type": "boolean"},
        "retained": {"type": "boolean"},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        "examples": {"type": "integer", "minimum": 0, "maximum": MAX_EXAMPLES},
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "maxItems": MAX_UPLOADS},
    },
}
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SimulateRequest.model_json_schema()},
            MULTIPART: {"schema": _FORM_SCHEMA},
        },
    }
}


def _invalid(message: str) -> HTTPException:
    return problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid", message)


def _validation(exc: ValidationError) -> HTTPException:
    errors = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=errors)


def _label(name: str | None, n: int) -> str:
    clean = "".join(c for c in (name or "") if c.isprintable())[:255]
    return clean or f"upload-{n}"


def _decode(item: str | UploadIn, n: int) -> Sample:
    text, name = (item, None) if isinstance(item, str) else (item.data, item.name)
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"messages[{n}] 不是有效的 base64 / messages[{n}] is not valid base64") from None
    if not data:
        raise _invalid(f"messages[{n}] 是空的 / messages[{n}] is empty")
    return Sample.upload(_label(name, n + 1), data)


async def _from_json(request: Request) -> tuple[SimulateRequest, list[Sample]]:
    try:
        body = SimulateRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise _validation(exc) from None
    return body, [_decode(item, n) for n, item in enumerate(body.messages)]


async def _from_form(request: Request, svc: Services) -> tuple[SimulateRequest, list[Sample]]:
    form = await request.form(max_files=MAX_UPLOADS, max_fields=len(_FORM_SCHEMA["properties"]))
    fields: dict[str, Any] = {}
    uploads: list[Sample] = []
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                if not data:
                    raise _invalid(f"文件 {_label(value.filename, 0)!r} 是空的 / file is empty")
                uploads.append(Sample.upload(_label(value.filename, len(uploads) + 1), data))
            elif key in fields:
                raise _invalid(f"字段 {key!r} 重复 / field {key!r} given twice")
            else:
                fields[key] = value
    finally:
        await form.close()
    if "messages" in fields:
        raise _invalid("上传文件请用文件部分 / send messages as file parts")
    if "proposed" in fields:
        raw = fields["proposed"].encode()
        if json_depth_exceeds(raw, svc.settings.max_json_depth):
            n = svc.settings.max_json_depth
            raise problem(status.HTTP_400_BAD_REQUEST, "too-deep", f"JSON 嵌套超过 {n} 层 / JSON nests deeper than {n}")
        try:
            fields["proposed"] = json.loads(raw)
        except ValueError:
            raise _invalid("proposed 不是有效的 JSON / proposed is not valid JSON") from None
    try:
        body = SimulateRequest.model_validate(fields)
    except ValidationError as exc:
        raise _validation(exc) from None
    return body, uploads


def _retained(store: Store, limit: int) -> Iterator[Sample]:
    """Unexpired retained messages, newest first, read one at a time (never all bytes at once)."""
    if limit <= 0:
        return
    for rid in store.retained_ids(limit):
        row = store.get_retained(rid)
        if row is None:  # purged meanwhile
            continue
        yield Sample(
            id=row.id,
            data=bytes(row.data),
            source="retained",
            mail_from=row.mail_from or "",
            rcpt_to=tuple(str(r) for r in row.rcpt_to or ()),
            audit_id=row.audit_id,
        )


def _proposal(svc: Services, body: SimulateRequest) -> tuple[int, Side, Side, list[dict[str, Any]]]:
    state = svc.state
    version, current_doc, current = state.version, state.doc, Side(state.policy, state.table)
    try:
        doc = proposed_doc(current_doc, body.proposed, replace=body.replace)
        policy, table = state.build(doc)
    except ConfigError as exc:
        raise _invalid(str(exc)) from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # free-form JSON in the wrong shape
        log.info("dry run proposal refused: %r", exc)
        raise _invalid(f"提案无效 / invalid proposal: {exc}") from None
    if lints_alike(doc, current_doc):
        policy = current.policy  # only verdict → action differs: lint each message once
    return version, current, Side(policy, table), diff(current_doc, doc)


class _Busy(Exception):
    pass


_BUSY = HTTPException(
    status.HTTP_429_TOO_MANY_REQUESTS,
    detail={"code": "busy", "message": "另一个试运行正在进行，请稍后重试 / another dry run is running, retry later"},
    headers={"Retry-After": "10"},
)


def _run(svc: Services, body: SimulateRequest, uploads: list[Sample], current: Side, proposed: Side) -> dict[str, Any]:
    # taken and released in the worker thread: a cancelled request cannot leave it held, nor free it early
    if not _running.acquire(blocking=False):
        raise _Busy
    try:
        retained = _retained(svc.store, body.limit - len(uploads) + 1) if body.retained else iter(())
        samples = itertools.chain(uploads, retained)
        result = simulate(current, proposed, samples, limit=body.limit, examples=body.examples, budget=DEFAULT_BUDGET)
        return result.to_json()
    finally:
        _running.release()


@router.post(
    "/policy/simulate",
    summary="Dry run: how many verdicts and actions a proposed policy would change (changes nothing)",
    openapi_extra=_BODY_DOC,
)
async def simulate_policy(request: Request, svc: ServicesDep) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        body, uploads = await _from_json(request)
    elif ctype == MULTIPART:
        body, uploads = await _from_form(request, svc)
    else:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail={
                "code": "unsupported",
                "message": f"请发送 JSON 或表单 / send application/json or {MULTIPART}, not {ctype or 'nothing'}",
            },
        )
    version, current, proposed, changes = await asyncio.to_thread(_proposal, svc, body)
    if _running.locked():
        raise _BUSY
    try:
        async with svc.lint_slots:
            answer = await asyncio.to_thread(_run, svc, body, uploads, current, proposed)
    except _Busy:
        raise _BUSY from None
    return {
        "policy_version": version,
        "diff": changes,
        "retention_days": svc.settings.retain_days,
        **answer,
    }
