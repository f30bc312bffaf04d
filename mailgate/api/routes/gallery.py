"""``/gallery``: the template gallery web pages (issue 5), in Chinese, server-rendered.

    GET  /gallery                   browse and search the templates
    GET  /gallery/{id}              the form (``?example=1`` fills in the template's example)
    POST /gallery/{id}              the form with its preview (works without JavaScript)
    POST /gallery/{id}/preview      the preview fragment + field flags as JSON (the live preview)
    POST /gallery/{id}/eml          the finished message as a download
    GET  /gallery/static/{name}     the page's own CSS and JS (a fixed list; nothing from a CDN)

Open by design, like the report pages: employees draft mail here without a token; an
instance that should not offer it sets ``[api] gallery = false``. Nothing here writes.
Every page is rendered by jinja2 with autoescape under a Content-Security-Policy that allows
only this origin's own script and style; the mail preview sits in a sandboxed iframe (no
script, opaque origin). Template ids reach nothing but a dictionary lookup (HOSTILE 38).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData

from mailgate.api.deps import ServicesDep, open_limit
from mailgate.api.routes.templates import gallery
from mailgate.model import CHINA, Finding, Report
from mailgate.templating.compose import FormError
from mailgate.templating.gallery import Entry, Gallery, Rendered, RenderError
from mailgate.templating.spec import TEMPLATE_ID, TemplateSpec, example_values

pages = APIRouter(tags=["gallery"], include_in_schema=False)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self' mailto:; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'")  # fmt: skip
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC_TYPES = {"gallery.css": "text/css; charset=utf-8", "gallery.js": "text/javascript; charset=utf-8",
                "preview.css": "text/css; charset=utf-8"}  # fmt: skip
STATIC = {name: (resources.files("mailgate.web") / "static" / name).read_bytes() for name in STATIC_TYPES}
SEVERITY = {"error": "错误", "warning": "警告", "info": "提示"}
VERDICT = {
    "pass": "通过：没有错误和警告，可以发送",
    "warn": "有警告：建议按提示修改后再发送",
    "fail": "未通过：有错误，发送时会被退回",
    "error": "无法检查",
}
FIELD_NAMES = {"subject": "标题", "body": "正文", "from": "发件人", "to": "收件人", "cc": "抄送", "bcc": "密送",
               "headers": "邮件头", "attachments": "附件"}  # fmt: skip
COLUMNS = ("task", "owner", "deadline")
SPLIT = re.compile(r"[,;，；、\n]+")
TemplateId = Annotated[str, Path(max_length=200)]

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("mailgate.web", "pages"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
_env.filters["cn_severity"] = lambda s: SEVERITY.get(str(s), str(s))


def _page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def _not_found() -> HTMLResponse:
    return _page("notfound.html", status.HTTP_404_NOT_FOUND)


def _entry(g: Gallery, template_id: str) -> Entry | None:
    if not TEMPLATE_ID.fullmatch(template_id):
        return None
    return g.get(template_id)


# -- the form as submitted -------------------------------------------------------------------


def _addresses(values: Iterable[str]) -> list[str]:
    return [a.strip() for v in values for a in SPLIT.split(v) if a.strip()]


class Draft:
    """What the form holds: envelope and field values, in the shapes the renderer takes."""

    def __init__(self, spec: TemplateSpec, form: FormData | None = None) -> None:
        self.spec = spec
        self.sender = ""
        self.to: list[str] = []
        self.cc: list[str] = []
        self.values: dict[str, Any] = {}
        if form is not None:
            self.sender = str(form.get("from") or "")
            self.to = _addresses(str(v) for v in form.getlist("to"))
            self.cc = _addresses(str(v) for v in form.getlist("cc"))
            for f in spec.fields:
                if f.type == "actions":
                    cols = [[str(v) for v in form.getlist(f"a.{f.name}.{c}")] for c in COLUMNS]
                    rows = max(map(len, cols))
                    self.values[f.name] = [
                        {c: (col[i] if i < len(col) else "") for c, col in zip(COLUMNS, cols, strict=True)}
                        for i in range(rows)
                    ]
                elif f.type == "lines":
                    self.values[f.name] = str(form.get(f"f.{f.name}") or "").splitlines()
                else:
                    self.values[f.name] = str(form.get(f"f.{f.name}") or "")

    @classmethod
    def example(cls, spec: TemplateSpec) -> Draft:
        d = cls(spec)
        d.values = example_values(spec, dt.datetime.now(CHINA).date())
        d.sender, d.to, d.cc = spec.example.from_, list(spec.example.to), list(spec.example.cc)
        return d

    def text(self, name: str) -> str:
        v = self.values.get(name, "")
        return "\n".join(v) if isinstance(v, list) else str(v)

    def actions(self, name: str, minimum: int = 3) -> list[dict[str, str]]:
        rows = [r for r in self.values.get(name, []) if isinstance(r, dict)]
        return rows + [{"task": "", "owner": "", "deadline": ""}] * max(0, minimum - len(rows))


async def _form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=400, max_part_size=64 * 1024)


# -- the preview -----------------------------------------------------------------------------


def _marks(text: str, findings: Sequence[tuple[int, Finding]]) -> list[dict[str, Any]]:
    """``text`` cut into plain and marked pieces (non-overlapping; the first finding wins)."""
    spans = sorted(((f.start, f.end, i, f) for i, f in findings if 0 <= f.start < f.end <= len(text)),
                   key=lambda s: (s[0], -s[1]))  # fmt: skip
    pieces: list[dict[str, Any]] = []
    pos = 0
    for start, end, i, f in spans:
        if start < pos:
            continue
        if start > pos:
            pieces.append({"text": text[pos:start], "n": 0})
        pieces.append({"text": text[start:end], "n": i + 1, "severity": f.severity.value,
                       "title": f"{f.message.zh}——{f.suggestion.zh}"})  # fmt: skip
        pos = end
    if pos < len(text):
        pieces.append({"text": text[pos:], "n": 0})
    return pieces


def _flags(draft: Draft, rendered: Rendered) -> dict[str, list[str]]:
    """Form inputs whose value holds text a finding marks: input name → the findings' messages."""
    texts = {"subject": rendered.subject, "body": rendered.body}
    inputs: dict[str, str] = {}
    for f in draft.spec.fields:
        if f.type == "actions":
            for i, row in enumerate(draft.actions(f.name, 0)):
                for col in ("task", "owner", "deadline"):
                    inputs[f"a.{f.name}.{col}.{i}"] = row.get(col, "")
        else:
            inputs[f"f.{f.name}"] = draft.text(f.name)
    out: dict[str, list[str]] = {}
    for finding in rendered.report.findings:
        whole = texts.get(finding.field)
        if whole is None or finding.severity.value == "info":
            continue
        piece = whole[finding.start : finding.end].strip()
        if not piece or len(piece) > 80:
            continue
        for name, value in inputs.items():
            if piece in value:
                out.setdefault(name, []).append(f"{finding.message.zh}。建议：{finding.suggestion.zh}")
    return out


def _preview(rendered: Rendered) -> dict[str, Any]:
    report: Report = rendered.report
    numbered = list(enumerate(report.findings))
    return {
        "verdict": report.verdict,
        "verdict_text": VERDICT.get(report.verdict, report.verdict),
        "subject": _marks(rendered.subject, [(i, f) for i, f in numbered if f.field == "subject"]),
        "body": _marks(rendered.body, [(i, f) for i, f in numbered if f.field == "body"]),
        "sender": rendered.envelope.sender.formatted(),
        "to": ", ".join(p.formatted() for p in rendered.envelope.to),
        "cc": ", ".join(p.formatted() for p in rendered.envelope.cc),
        "findings": [_finding(rendered, i, f) for i, f in numbered],
        "suggested_cc": list(rendered.suggested_cc),
        "mailto": rendered.mailto,
        "subject_text": rendered.subject,
        "body_text": rendered.body,
    }


def _finding(rendered: Rendered, i: int, f: Finding) -> dict[str, Any]:
    return {
        "n": i + 1,
        "check": f.check,
        "severity": f.severity.value,
        "message": f.message.zh,
        "suggestion": f.suggestion.zh,
        "where": FIELD_NAMES.get(f.field, f.field),
        "excerpt": _excerpt(rendered, f),
    }


def _excerpt(rendered: Rendered, f: Finding) -> str:
    text = {"subject": rendered.subject, "body": rendered.body}.get(f.field, "")
    return text[f.start : f.end][:60] if 0 <= f.start < f.end <= len(text) else ""


async def _render(svc: ServicesDep, g: Gallery, draft: Draft) -> Rendered:
    async with svc.lint_slots:
        return await asyncio.to_thread(g.render, draft.spec, draft.values, draft.sender, draft.to, draft.cc,
                                       svc.state.policy)  # fmt: skip


def _people(svc: ServicesDep) -> list[dict[str, str]]:
    return [{"email": p.email, "name": p.name, "department": p.department, "head": "负责人" if p.is_head else ""}
            for p in svc.state.policy.directory.people]  # fmt: skip


def _form_page(svc: ServicesDep, entry: Entry, draft: Draft, **extra: Any) -> HTMLResponse:
    context: dict[str, Any] = {"spec": entry.spec, "entry": entry, "draft": draft, "people": _people(svc),
                               "errors": {}, "flags": {}, "preview": None, "render_error": None}  # fmt: skip
    context.update(extra)
    return _page("form.html", **context)


# -- routes ----------------------------------------------------------------------------------


@pages.get("/gallery", response_class=HTMLResponse)
async def gallery_index(
    svc: ServicesDep, g: Annotated[Gallery, Depends(gallery)], q: Annotated[str, Query(max_length=100)] = ""
) -> HTMLResponse:
    entries = await asyncio.to_thread(g.search, q) if q.strip() else await asyncio.to_thread(g.catalogue)
    return _page("index.html", entries=entries, q=q)


@pages.get("/gallery/static/{name}")
async def gallery_static(name: Annotated[str, Path(max_length=40)]) -> Response:
    data = STATIC.get(name)
    if data is None:
        return Response("not found", status_code=404, media_type="text/plain", headers=HEADERS)
    return Response(data, media_type=STATIC_TYPES[name], headers={**HEADERS, "Cache-Control": "max-age=300"})


@pages.get("/gallery/{template_id}", response_class=HTMLResponse)
async def gallery_form(
    template_id: TemplateId,
    svc: ServicesDep,
    g: Annotated[Gallery, Depends(gallery)],
    example: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    entry = await asyncio.to_thread(_entry, g, template_id)
    if entry is None:
        return _not_found()
    draft = Draft.example(entry.spec) if example else Draft(entry.spec)
    if not example:  # a blank form: the page restores the draft this browser kept, if any
        return _form_page(svc, entry, draft, restore=True)
    return await _with_preview(svc, g, entry, draft)


@dataclass(frozen=True)
class Failure:
    """Why a draft did not render: bad form values (by field), or the template itself."""

    errors: dict[str, str]
    render_error: str | None = None


async def _attempt(svc: ServicesDep, g: Gallery, draft: Draft) -> Rendered | Failure:
    try:
        return await _render(svc, g, draft)
    except FormError as exc:
        return Failure(exc.errors)
    except RenderError as exc:
        return Failure({}, exc.message)


def _failure_page(svc: ServicesDep, entry: Entry, draft: Draft, failure: Failure) -> HTMLResponse:
    return _form_page(svc, entry, draft, errors=failure.errors, render_error=failure.render_error)


async def _with_preview(svc: ServicesDep, g: Gallery, entry: Entry, draft: Draft) -> HTMLResponse:
    rendered = await _attempt(svc, g, draft)
    if isinstance(rendered, Failure):
        return _failure_page(svc, entry, draft, rendered)
    return _form_page(svc, entry, draft, preview=_preview(rendered), flags=_flags(draft, rendered))


@pages.post("/gallery/{template_id}", response_class=HTMLResponse, dependencies=[Depends(open_limit)])
async def gallery_submit(
    template_id: TemplateId, request: Request, svc: ServicesDep, g: Annotated[Gallery, Depends(gallery)]
) -> HTMLResponse:
    entry = await asyncio.to_thread(_entry, g, template_id)
    if entry is None:
        return _not_found()
    return await _with_preview(svc, g, entry, Draft(entry.spec, await _form(request)))


@pages.post("/gallery/{template_id}/preview", dependencies=[Depends(open_limit)])
async def gallery_preview(
    template_id: TemplateId, request: Request, svc: ServicesDep, g: Annotated[Gallery, Depends(gallery)]
) -> JSONResponse:
    entry = await asyncio.to_thread(_entry, g, template_id)
    if entry is None:
        return JSONResponse({"error": "没有这个模板"}, status_code=404, headers=HEADERS)
    draft = Draft(entry.spec, await _form(request))
    rendered = await _attempt(svc, g, draft)
    if isinstance(rendered, Failure):
        errors = rendered.errors if rendered.render_error is None else {"template": rendered.render_error}
        html = _env.get_template("_incomplete.html").render(errors=errors, spec=entry.spec)
        return JSONResponse({"errors": errors, "html": html}, headers=HEADERS)
    preview = _preview(rendered)
    html = _env.get_template("_preview.html").render(preview=preview)
    return JSONResponse(
        {"verdict": rendered.report.verdict, "html": html, "flags": _flags(draft, rendered), "errors": {},
         "mailto": rendered.mailto, "subject": rendered.subject, "body": rendered.body,
         "suggested_cc": list(rendered.suggested_cc)},
        headers=HEADERS,
    )  # fmt: skip


@pages.post("/gallery/{template_id}/eml", response_model=None, dependencies=[Depends(open_limit)])
async def gallery_eml(
    template_id: TemplateId, request: Request, svc: ServicesDep, g: Annotated[Gallery, Depends(gallery)]
) -> Response:
    entry = await asyncio.to_thread(_entry, g, template_id)
    if entry is None:
        return _not_found()
    draft = Draft(entry.spec, await _form(request))
    rendered = await _attempt(svc, g, draft)
    if isinstance(rendered, Failure):
        return _failure_page(svc, entry, draft, rendered)
    stamp = dt.datetime.now(CHINA).strftime("%Y%m%d-%H%M")
    return Response(
        rendered.eml,
        media_type="message/rfc822",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{entry.spec.id}-{stamp}.eml"'},
    )
