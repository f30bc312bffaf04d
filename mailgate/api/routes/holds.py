"""``/quarantine/{id}``: the held-message page, the release link of a hold's report mail.

    GET  /quarantine/{id}            what became of the message: held, released, discarded, withdrawn
    POST /quarantine/{id}/withdraw   the sender withdraws it (it is discarded, "by the sender")
    POST /quarantine/{id}/decide     an administrator releases or discards it: form fields
                                     ``token`` (an admin token) and ``action`` (release | discard)

Open like the report page, for the same reason: the sender opens it from a mail client that has
no token. The quarantine id is the capability (a ``uuid4``: 32 lowercase hex digits that only the
report mail carries); anything else answers the same 404 page as an unknown id. The page shows
what the report mail already told the sender — subject, number of recipients, findings — and no
addresses. Withdrawing needs only the link: the sender fixes the mail and sends it again, and the
old copy can no longer be released by mistake; it never delivers anything. Releasing or discarding
needs an admin token typed into the form (it is posted in the body, never kept in a cookie or the
URL, so a cross-site form cannot use it) and goes through the same steps as the API
(``release_entry``/``discard_entry``). Both posts are rate-limited per client like the other open
routes, which also bounds token guessing. After a post the browser is sent back to the page
(303), which names what was done; a refusal shows the reason on the page with the API's status.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mailgate.api.deps import Services, ServicesDep, caller_of_token, open_limit
from mailgate.api.routes.quarantine import discard_entry, release_entry
from mailgate.api.routes.reports import PAGE_HEADERS, render_page, shown_findings, shown_time
from mailgate.report import subject_of
from mailgate.store import QuarantineEntry

pages = APIRouter(tags=["quarantine"], include_in_schema=False)

QUARANTINE_ID = re.compile(r"[0-9a-f]{32}")
TITLE = ("暂存邮件", "Held message")
SENDER = "sender"  # decided_by of a withdrawal: "sender:<envelope sender>"
NOTICES = {
    "withdrawn": ("已撤回：这封邮件不会被投递。", "Withdrawn: this message will not be delivered."),
    "released": ("已放行：邮件已投递。", "Released: the message was delivered."),
    "discarded": ("已丢弃：这封邮件不会被投递。", "Discarded: this message will not be delivered."),
}


def _state(entry: QuarantineEntry) -> tuple[str, str]:
    if entry.status == "held":
        return ("暂存中，等待管理员审核", "held for review")
    if entry.status == "released":
        return ("已放行并投递", "released and delivered")
    if (entry.decided_by or "").startswith(f"{SENDER}:"):
        return ("已由发件人撤回", "withdrawn by the sender")
    return ("已被管理员丢弃", "discarded by an administrator")


async def _entry(svc: Services, entry_id: str) -> QuarantineEntry | None:
    if not QUARANTINE_ID.fullmatch(entry_id):
        return None
    return await asyncio.to_thread(svc.store.get_quarantine, entry_id)


async def _page(
    svc: Services, entry: QuarantineEntry | None, *, notice: str | None = None, failure: str = "", code: int = 200
) -> HTMLResponse:
    if entry is None:
        html = render_page("hold.html", found=False, title=TITLE)
        return HTMLResponse(html, status_code=status.HTTP_404_NOT_FOUND, headers=PAGE_HEADERS)
    audit = await asyncio.to_thread(svc.store.get_audit, entry.audit_id) if entry.audit_id else None
    context: dict[str, Any] = {
        "found": True,
        "title": TITLE,
        "notice": NOTICES.get(notice or ""),
        "failure": failure,
        "subject": subject_of(entry.data),
        "recipients": len(entry.rcpt_to or []),
        "at": shown_time(entry.at),
        "state": _state(entry),
        "decided_at": shown_time(entry.decided_at),
        "ref": entry.id,
        "held": entry.status == "held",
        "base": f"/quarantine/{entry.id}",
        "report_url": f"/reports/{audit.id}" if audit is not None else "",
        **shown_findings(audit.report if audit is not None else None),
    }
    return HTMLResponse(render_page("hold.html", **context), status_code=code, headers=PAGE_HEADERS)


def _back(entry_id: str, done: str) -> Response:
    return RedirectResponse(f"/quarantine/{entry_id}?done={done}", status_code=status.HTTP_303_SEE_OTHER)


def _reason(exc: HTTPException) -> str:
    detail = exc.detail
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("code") or "")
    return str(detail)


@pages.get("/quarantine/{entry_id}", response_class=HTMLResponse)
async def hold_page(entry_id: str, svc: ServicesDep, done: str | None = Query(None, max_length=20)) -> HTMLResponse:
    return await _page(svc, await _entry(svc, entry_id), notice=done)


@pages.post("/quarantine/{entry_id}/withdraw", dependencies=[Depends(open_limit)])
async def withdraw(entry_id: str, svc: ServicesDep) -> Response:
    entry = await _entry(svc, entry_id)
    if entry is None:
        return await _page(svc, None)
    try:
        await discard_entry(svc, entry.id, f"{SENDER}:{entry.mail_from}", notify=False)
    except HTTPException as exc:
        return await _page(svc, await _entry(svc, entry_id), failure=_reason(exc), code=exc.status_code)
    return _back(entry.id, "withdrawn")


@pages.post("/quarantine/{entry_id}/decide", dependencies=[Depends(open_limit)])
async def decide(entry_id: str, request: Request, svc: ServicesDep) -> Response:
    entry = await _entry(svc, entry_id)
    if entry is None:
        return await _page(svc, None)
    form = await request.form(max_files=0, max_fields=4, max_part_size=4096)
    token, action = str(form.get("token") or ""), str(form.get("action") or "")
    if action not in ("release", "discard"):
        return await _page(svc, entry, failure="请选择放行或丢弃 / choose release or discard", code=422)
    try:
        who = await caller_of_token(svc, token, request)
    except HTTPException as exc:  # too many failed tokens from this client
        return await _page(svc, entry, failure=_reason(exc), code=exc.status_code)
    if who is None:
        return await _page(svc, entry, failure="令牌无效 / the token is not valid", code=401)
    if who.role != "admin":
        return await _page(svc, entry, failure="需要管理员令牌 / an admin token is required", code=403)
    try:
        if action == "release":
            await release_entry(svc, entry.id, who.name)
        else:
            await discard_entry(svc, entry.id, who.name)
    except HTTPException as exc:
        return await _page(svc, await _entry(svc, entry_id), failure=_reason(exc), code=exc.status_code)
    return _back(entry.id, "released" if action == "release" else "discarded")
