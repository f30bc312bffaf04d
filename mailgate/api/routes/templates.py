"""Gallery templates over HTTP: list, read, render (viewer); create, replace, delete (admin).

    GET    /v1/templates?q=          the catalogue (built-ins overlaid with admin templates)
    GET    /v1/templates/{id}        one template, whole
    POST   /v1/templates/{id}/render fields + from/to/cc → subject, body, .eml, mailto, lint report
    POST   /v1/templates             create (409 when the id exists)
    PUT    /v1/templates/{id}        create or replace (If-Match: "<version>" for optimistic concurrency)
    DELETE /v1/templates/{id}        an admin template (a built-in it overrode comes back)

An upload is validated before it is stored (HOSTILE 36–37): the spec's shape (unknown keys are
refused: no mass assignment), a compile, a render against dummy values and one with its own
example — both in the limited render worker —, and the example must lint with no error.
Ids are keys matched by ``[a-z0-9_-]{1,64}``, never file names.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from mailgate.api.deps import AdminDep, AuthFirst, ServicesDep, admin, viewer
from mailgate.api.errors import iso, problem
from mailgate.errors import ConfigError
from mailgate.report import report_to_json
from mailgate.store import VersionConflict
from mailgate.templating.gallery import Entry, FormError, Gallery, Rendered, RenderError
from mailgate.templating.spec import TEMPLATE_ID, parse_spec

read = APIRouter(prefix="/v1/templates", tags=["templates"], dependencies=[Depends(viewer)], route_class=AuthFirst)
write = APIRouter(prefix="/v1/templates", tags=["templates"], dependencies=[Depends(admin)], route_class=AuthFirst)

TemplateId = Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,64}$")]
Addr = Annotated[str, Field(max_length=400)]


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: Addr = Field(alias="from")
    to: list[Addr] = Field(max_length=50)
    cc: list[Addr] = Field(default_factory=list, max_length=50)
    fields: dict[str, Any] = Field(default_factory=dict, max_length=40)
    date: dt.datetime | None = Field(default=None, description="the Date of the mail (default: now, UTC+8)")


def gallery(svc: ServicesDep) -> Gallery:
    if svc.gallery is None:
        raise problem(status.HTTP_404_NOT_FOUND, "not-found", "模板库未启用 / the template gallery is off")
    return svc.gallery


GalleryDep = Annotated[Gallery, Depends(gallery)]


def summary(e: Entry) -> dict[str, Any]:
    s = e.spec
    return {
        "id": s.id,
        "title": s.title,
        "description": s.description,
        "tag": s.tag,
        "keywords": list(s.keywords),
        "source": e.source,
        "version": e.version,
        "updated_by": e.updated_by or None,
        "updated_at": iso(e.updated_at),
    }


def whole(e: Entry) -> dict[str, Any]:
    return summary(e) | {"spec": e.spec.model_dump(mode="json", by_alias=True)}


def rendered_json(r: Rendered, locale: str = "zh-CN") -> dict[str, Any]:
    return {
        "template": r.spec.id,
        "subject": r.subject,
        "body": r.body,
        "from": r.envelope.sender.formatted(),
        "to": [p.formatted() for p in r.envelope.to],
        "cc": [p.formatted() for p in r.envelope.cc],
        "eml": r.eml.decode("utf-8", "replace"),
        "mailto": r.mailto,
        "suggested_cc": list(r.suggested_cc),
        "report": report_to_json(r.report, None, locale),
    }


def form_problem(exc: FormError) -> Exception:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail={"code": "invalid", "message": "表单有误 / invalid form values", "fields": exc.errors},
    )


def render_problem(exc: RenderError) -> Exception:
    return problem(status.HTTP_422_UNPROCESSABLE_CONTENT, f"template-{exc.code}", exc.message)


def _get(g: Gallery, template_id: str) -> Entry:
    entry = g.get(template_id)
    if entry is None:
        raise problem(status.HTTP_404_NOT_FOUND, "not-found", "没有这个模板 / no such template")
    return entry


@read.get("", summary="The template catalogue; q= filters by words in id, title, description, tag, keywords")
async def list_templates(g: GalleryDep, q: Annotated[str, Query(max_length=100)] = "") -> list[dict[str, Any]]:
    entries = await asyncio.to_thread(g.search, q) if q else await asyncio.to_thread(g.catalogue)
    return [summary(e) for e in entries]


@read.get("/{template_id}", summary="One template: metadata, fields, sources")
async def get_template(template_id: TemplateId, g: GalleryDep) -> dict[str, Any]:
    return whole(await asyncio.to_thread(_get, g, template_id))


@read.post("/{template_id}/render", summary="Fill a template: subject, body, a ready .eml, mailto and its lint report")
async def render(
    template_id: TemplateId,
    req: RenderRequest,
    g: GalleryDep,
    svc: ServicesDep,
    locale: Annotated[str, Query(pattern="^(zh-CN|en)$")] = "zh-CN",
) -> dict[str, Any]:
    entry = await asyncio.to_thread(_get, g, template_id)
    date = req.date if req.date is None or req.date.tzinfo else req.date.replace(tzinfo=dt.UTC)
    try:
        async with svc.lint_slots:
            out = await asyncio.to_thread(g.render, entry.spec, req.fields, req.from_, req.to, req.cc,
                                          svc.state.policy, date)  # fmt: skip
    except FormError as exc:
        raise form_problem(exc) from None
    except RenderError as exc:
        raise render_problem(exc) from None
    return rendered_json(out, locale)


async def _store(
    g: Gallery, svc: ServicesDep, template_id: str, data: dict[str, Any], who: str, expected: int | None
) -> dict[str, Any]:
    if "id" in data and data["id"] != template_id:
        raise problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid", "id in the body differs from the path")
    try:
        spec = parse_spec({**data, "id": template_id}, source="template")
    except ConfigError as exc:
        raise problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid", str(exc)) from None
    try:
        async with svc.lint_slots:
            example = await asyncio.to_thread(g.validate, spec, svc.state.policy)
    except FormError as exc:
        raise form_problem(exc) from None
    except RenderError as exc:
        raise render_problem(exc) from None
    except ConfigError as exc:
        raise problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "template-fails-lint", str(exc)) from None
    doc = spec.model_dump(mode="json", by_alias=True)
    try:
        await asyncio.to_thread(svc.store.put_mail_template, template_id, doc, who, expected)
    except VersionConflict as exc:
        changed = f"模板已被修改（当前版本 {exc.current}）/ the template changed (now version {exc.current})"
        raise problem(status.HTTP_409_CONFLICT, "conflict", changed) from None
    entry = await asyncio.to_thread(_get, g, template_id)
    return whole(entry) | {"example": rendered_json(example)}


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip().strip('"'))
    except ValueError:
        raise problem(status.HTTP_400_BAD_REQUEST, "bad-if-match", 'If-Match is "<version>"') from None


@write.post("", status_code=status.HTTP_201_CREATED, summary="Add a template (validated: compile, render, lint)")
async def create_template(
    data: Annotated[dict[str, Any], Body()], g: GalleryDep, svc: ServicesDep, who: AdminDep
) -> dict[str, Any]:
    template_id = data.get("id")
    if not isinstance(template_id, str):
        raise problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid", "id is required")
    template_id = _checked_id(template_id)
    if await asyncio.to_thread(g.get, template_id) is not None:
        raise problem(status.HTTP_409_CONFLICT, "exists", "模板已存在，请用 PUT 修改 / exists: use PUT to replace it")
    return await _store(g, svc, template_id, data, who.name, 0)


def _checked_id(value: str) -> str:
    if not TEMPLATE_ID.fullmatch(value):
        raise problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid", "id must match [a-z0-9_-]{1,64}")
    return value


@write.put("/{template_id}", summary='Create or replace a template (If-Match: "<version>" guards a concurrent edit)')
async def put_template(
    template_id: TemplateId,
    data: Annotated[dict[str, Any], Body()],
    g: GalleryDep,
    svc: ServicesDep,
    who: AdminDep,
    if_match: Annotated[str | None, Header(max_length=20)] = None,
) -> dict[str, Any]:
    return await _store(g, svc, template_id, data, who.name, _if_match(if_match))


@write.delete("/{template_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an admin template")
async def delete_template(
    template_id: TemplateId,
    g: GalleryDep,
    svc: ServicesDep,
    who: AdminDep,
    if_match: Annotated[str | None, Header(max_length=20)] = None,
) -> Response:
    try:
        gone = await asyncio.to_thread(svc.store.delete_mail_template, template_id, _if_match(if_match))
    except VersionConflict as exc:
        raise problem(status.HTTP_409_CONFLICT, "conflict", f"the template is now at version {exc.current}") from None
    if not gone:
        msg = (
            "内置模板不能删除，只能覆盖 / a built-in cannot be deleted, only overridden"
            if template_id in g.builtins
            else "没有这个模板 / no such template"
        )
        raise problem(status.HTTP_404_NOT_FOUND, "not-found", msg)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
