"""The report page a sender opens from a 550 reply or a report mail, and the audit log API.

``GET /reports/{audit_id}`` (router :data:`pages`) is deliberately open — no token: the sender
clicks it in a mail client that has none. The audit id is the capability: a ``uuid4`` (122 bits
from ``os.urandom``, 32 lowercase hex digits) that only the relay's reply and report mail carry,
so it cannot be guessed or enumerated, and nothing is rate-limited. What the page shows is
what the sender was already told — the verdict, the action, each finding with its message and
suggestion, how to override — and nothing internal (no client address, authenticated user,
policy layer, upstream reply, flags or recipients). Anything that is not exactly such an id
answers the same 404 page as an unknown one. The page is rendered by jinja2 with autoescape
(finding messages quote the sender's own text), under a CSP that allows no script and no
external resource, with ``Referrer-Policy: no-referrer`` so the URL does not leak onward.

``GET /v1/audit`` and ``GET /v1/audit/{id}`` (router :data:`read`) need a viewer token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.responses import HTMLResponse

from mailgate.api.deps import AuthFirst, ServicesDep, viewer
from mailgate.api.errors import iso, problem
from mailgate.model import china_time
from mailgate.relay.decide import ACTIONS
from mailgate.store import AuditEntry
from mailgate.store.queries import AUDIT_LIST_COLUMNS, audit_page

pages = APIRouter(tags=["reports"])
read = APIRouter(prefix="/v1/audit", tags=["audit"], dependencies=[Depends(viewer)], route_class=AuthFirst)

CSP = "default-src 'none'; style-src 'unsafe-inline'"
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
AUDIT_ID = re.compile(r"[0-9a-f]{32}")
MAX_SHOWN = 200  # findings listed on the page

VERDICTS = {
    "pass": ("通过", "passed"),
    "warn": ("有警告", "warnings"),
    "fail": ("未通过", "failed"),
    "error": ("无法检查", "could not be checked"),
    "crash": ("检查未完成", "the check did not complete"),
}
ACTION_TEXT = {
    "deliver": ("已送达", "delivered"),
    "reject": ("已退回，未发送", "rejected, not sent"),
    "hold": ("已暂存，待管理员审核", "held for review by an administrator"),
    "advise": ("已送达，附改进建议", "delivered, with suggestions"),
    "annotate": ("已送达（已加检查标注）", "delivered (annotated)"),
    "monitor": ("已送达", "delivered"),
    "tempfail": ("暂未处理，发件客户端会稍后重试", "not processed yet; your mail client will retry"),
}
SEVERITY = {"error": ("错误", "error"), "warning": ("警告", "warning"), "info": ("提示", "info")}

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("mailgate.web", "pages"), autoescape=True, undefined=jinja2.StrictUndefined
)


def render_page(name: str, **context: Any) -> str:
    """One of the plain pages (report, held message): no script, inline style only (see :data:`CSP`)."""
    return _env.get_template(name).render(**context)


def shown_time(when: dt.datetime | None) -> str:
    if when is None:
        return ""
    return china_time(when).strftime("%Y-%m-%d %H:%M:%S (UTC+8)")  # times on the page: China Standard Time


def shown_findings(report: object) -> dict[str, Any]:
    """A stored report's findings as the pages list them (``findings``, ``total``), both languages
    where the audit kept the English text (rows written before it did show zh-CN only)."""
    listed = report.get("findings") if isinstance(report, dict) else None
    raw: list[Any] = listed if isinstance(listed, list) else []
    findings = []
    for f in raw[:MAX_SHOWN]:
        if not isinstance(f, dict):
            continue
        severity = str(f.get("severity", "info"))
        kept = f.get("en")
        en: dict[str, Any] = kept if isinstance(kept, dict) else {}
        findings.append({
            "check": str(f.get("check", "")),
            "severity": severity if severity in SEVERITY else "info",
            "sev": SEVERITY.get(severity, SEVERITY["info"]),
            "message": str(f.get("message") or ""),
            "suggestion": str(f.get("suggestion") or ""),
            "message_en": str(en.get("message") or ""),
            "suggestion_en": str(en.get("suggestion") or ""),
        })  # fmt: skip
    return {"findings": findings, "total": len(raw)}


def render_report(entry: AuditEntry | None) -> str:
    if entry is None:
        return render_page("report.html", found=False, title=("报告不存在", "Report not found"))
    report: dict[str, Any] = entry.report if isinstance(entry.report, dict) else {}
    error = report.get("error")
    return render_page(
        "report.html",
        found=True,
        title=("邮件规范检查报告", "Mail policy report"),
        at=shown_time(entry.at),
        verdict=VERDICTS.get(entry.verdict, (entry.verdict, entry.verdict)),
        action=ACTION_TEXT.get(entry.action, (entry.action, entry.action)),
        action_name=entry.action,
        ref=entry.id,
        override=entry.override_reason or "",
        error=str(error.get("message") or "") if isinstance(error, dict) else "",
        incomplete=bool(report.get("crashed")),
        **shown_findings(report),
    )


@pages.get(
    "/reports/{audit_id}",
    response_class=HTMLResponse,
    summary="The report page linked from 550 replies and report mails (open: the audit id is the capability)",
    responses={404: {"content": {"text/html": {}}}},
)
async def report_page(audit_id: str, svc: ServicesDep) -> HTMLResponse:
    entry = None
    if AUDIT_ID.fullmatch(audit_id):
        entry = await asyncio.to_thread(svc.store.get_audit, audit_id)
    code = status.HTTP_200_OK if entry is not None else status.HTTP_404_NOT_FOUND
    return HTMLResponse(render_report(entry), status_code=code, headers=PAGE_HEADERS)


# -- the audit log (viewer) ---------------------------------------------------------------------


def _audit_json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "at": iso(row["at"]), "recipients": list(row["recipients"] or []),
            "findings": list(row["findings"] or []), "flags": list(row["flags"] or [])}  # fmt: skip


@read.get("", summary="Audit rows, newest first: filter by sender, verdict, action, time")
async def list_audit(
    svc: ServicesDep,
    sender: Annotated[str | None, Query(max_length=320)] = None,
    verdict: Annotated[str | None, Query(pattern=r"^(pass|warn|fail|error|crash)$")] = None,
    action: Annotated[str | None, Query(pattern=r"^(" + "|".join((*ACTIONS, "tempfail")) + r")$")] = None,
    since: Annotated[dt.datetime | None, Query(description="ISO 8601; without an offset: UTC")] = None,
    until: Annotated[dt.datetime | None, Query(description="ISO 8601, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    def utc(when: dt.datetime | None) -> dt.datetime | None:
        if when is None:
            return None
        return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)

    total, rows = await asyncio.to_thread(
        audit_page, svc.store, sender=sender, verdict=verdict, action=action, since=utc(since), until=utc(until),
        limit=limit, offset=offset,
    )  # fmt: skip
    return {"total": total, "limit": limit, "offset": offset, "entries": [_audit_json(r) for r in rows]}


@read.get("/{audit_id}", summary="One audit row with its full report")
async def get_audit(
    audit_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Fa-f]+$")], svc: ServicesDep
) -> dict[str, Any]:
    entry = await asyncio.to_thread(svc.store.get_audit, audit_id)
    if entry is None:
        raise problem(status.HTTP_404_NOT_FOUND, "not-found", f"没有审计记录 {audit_id} / no audit entry {audit_id}")
    row = {c: getattr(entry, c) for c in AUDIT_LIST_COLUMNS}
    return {**_audit_json(row), "report": entry.report}
