"""The quarantine over HTTP: list, show (metadata, findings, or the raw message), release, discard.

After a release or discard the sender (an internal person) gets a short notice mail of it, through
the same delivery as report mails; ``sender_notified`` says whether the next hop took it.
A release delivers through what the relay would use — ``[relay] upstream``, else the local
outbox — with one SMTP transaction (``mailgate.relay.upstream.deliver_once``, as ``mailgate
quarantine release`` does). The message is marked released only after the next hop accepted
it; when it refuses, the answer is 502 (a permanent refusal) or 503 (temporary: retry later)
with the next hop's reply, and the message stays held. Delivery happens before the status
changes, so a crash in between can deliver twice but never lose a message; within one process
a message being released cannot be released or discarded again at the same time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from mailgate.api.deps import AdminDep, AuthFirst, Services, ServicesDep, admin, viewer
from mailgate.api.errors import iso, problem
from mailgate.errors import ConfigError
from mailgate.relay import delivery_for, notify_decision, relay_settings
from mailgate.relay.upstream import Reply, deliver_once
from mailgate.report import subject_of
from mailgate.store import QuarantineEntry
from mailgate.store.queries import quarantine_page

log = logging.getLogger("mailgate.api.quarantine")

read = APIRouter(prefix="/v1/quarantine", tags=["quarantine"], dependencies=[Depends(viewer)], route_class=AuthFirst)
write = APIRouter(prefix="/v1/quarantine", tags=["quarantine"], dependencies=[Depends(admin)], route_class=AuthFirst)

EntryId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Fa-f]+$")]
Status = Literal["held", "released", "discarded", "all"]

_busy: set[str] = set()  # ids being released by this process


def _not_found(entry_id: str) -> HTTPException:
    return problem(
        status.HTTP_404_NOT_FOUND, "not-found", f"隔离区中没有 {entry_id} / no quarantined message {entry_id}"
    )


def _settled(state: str) -> HTTPException:
    return problem(status.HTTP_409_CONFLICT, "not-held", f"邮件已处理（{state}） / the message is already {state}")


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _entry_json(e: QuarantineEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": iso(e.at),
        "status": e.status,
        "mail_from": e.mail_from,
        "rcpt_to": list(e.rcpt_to or []),
        "verdict": e.verdict,
        "findings": list(e.findings or []),
        "audit_id": e.audit_id,
        "decided_at": iso(e.decided_at),
        "decided_by": e.decided_by,
    }


@read.get("", summary="Quarantined messages, newest first (default: those still held)")
async def list_quarantine(
    svc: ServicesDep,
    status_: Annotated[Status, Query(alias="status")] = "held",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    wanted = None if status_ == "all" else status_
    total, rows = await asyncio.to_thread(quarantine_page, svc.store, status=wanted, limit=limit, offset=offset)
    items = [
        {
            "id": r.id,
            "at": iso(r.at),
            "status": r.status,
            "mail_from": r.mail_from,
            "rcpt_to": r.rcpt_to,
            "subject": subject_of(r.head),
            "size": r.size,
            "verdict": r.verdict,
            "findings": r.findings,
            "audit_id": r.audit_id,
            "decided_at": iso(r.decided_at),
            "decided_by": r.decided_by,
        }
        for r in rows
    ]
    return {"total": total, "limit": limit, "offset": offset, "messages": items}


@read.get(
    "/{entry_id}",
    summary="One held message: metadata and findings (?raw=1: the message itself, message/rfc822)",
    responses={200: {"content": {"application/json": {}, "message/rfc822": {}}}},
)
async def get_entry(
    entry_id: EntryId,
    svc: ServicesDep,
    raw: Annotated[bool, Query(description="the message as message/rfc822")] = False,
) -> Any:
    entry = await asyncio.to_thread(svc.store.get_quarantine, entry_id)
    if entry is None:
        raise _not_found(entry_id)
    if raw:
        headers = {
            "Content-Disposition": f'attachment; filename="{entry.id}.eml"',
            "X-Content-Type-Options": "nosniff",
        }
        return Response(entry.data, media_type="message/rfc822", headers=headers)
    audit = await asyncio.to_thread(svc.store.get_audit, entry.audit_id) if entry.audit_id else None
    report = dict(audit.report or {}) if audit is not None else {}
    return {
        **_entry_json(entry),
        "subject": subject_of(entry.data),
        "size": len(entry.data),
        "report": {"verdict": report.get("verdict", entry.verdict), "findings": report.get("findings", [])},
        "action_source": audit.source if audit is not None else None,
    }


async def _held(svc: Services, entry_id: str) -> QuarantineEntry:
    entry = await asyncio.to_thread(svc.store.get_quarantine, entry_id)
    if entry is None:
        raise _not_found(entry_id)
    if entry.status != "held":
        raise _settled(entry.status)
    if entry_id in _busy:
        raise problem(status.HTTP_409_CONFLICT, "busy", "邮件正在放行中 / the message is being released")
    return entry


def _refused(reply: Reply) -> HTTPException:
    code = status.HTTP_502_BAD_GATEWAY if reply.permanent else status.HTTP_503_SERVICE_UNAVAILABLE
    text = _one_line(reply.text)
    detail = {
        "code": "upstream-refused",
        "message": f"下一跳拒收，邮件仍在隔离区 / the next hop refused it, the message stays held: {reply.code} {text}",
        "smtp_code": reply.code,
        "smtp_text": text,
    }
    return HTTPException(code, detail=detail, headers=None if reply.permanent else {"Retry-After": "60"})


async def release_entry(svc: Services, entry_id: str, who: str) -> dict[str, Any]:
    """Deliver a held message and mark it released (the API route and the held-message page).
    Raises the HTTP problem to answer: 404, 409 (not held, being released, no recipients),
    502/503 (the next hop refused; the message stays held)."""
    entry = await _held(svc, entry_id)
    if not entry.rcpt_to:
        raise problem(status.HTTP_409_CONFLICT, "no-recipients", "邮件没有收件人 / the message has no recipients")
    _busy.add(entry_id)
    try:
        try:
            settings = relay_settings(svc.state.base)
        except ConfigError as exc:
            raise problem(
                status.HTTP_503_SERVICE_UNAVAILABLE, "relay-config", f"中继配置无效 / [relay] settings invalid: {exc}"
            ) from None
        delivery = delivery_for(settings, svc.store, pooled=False)
        reply, refused = await deliver_once(
            delivery, entry.mail_from, list(entry.rcpt_to), entry.data, list(entry.mail_options)
        )
        if not reply.ok:
            log.warning("release of %s refused by %s: %d", entry_id, delivery.description, reply.code)
            raise _refused(reply)
        settled = await asyncio.to_thread(svc.store.settle_quarantine, entry_id, "released", who)
        if not settled:  # another instance settled it while we delivered: it went out anyway
            log.warning("quarantine %s was delivered but had been settled elsewhere meanwhile", entry_id)
    finally:
        _busy.discard(entry_id)
    log.info("quarantine %s released by %s via %s", entry_id, who, delivery.description)
    after = await asyncio.to_thread(svc.store.get_quarantine, entry_id)
    return {
        **_entry_json(after or entry),
        "delivered_via": delivery.description,
        "reply": {"code": reply.code, "text": _one_line(reply.text)},
        "refused": {rcpt: {"code": r.code, "text": _one_line(r.text)} for rcpt, r in refused.items()},
        "sender_notified": await _notify(svc, after),
    }


async def discard_entry(svc: Services, entry_id: str, who: str, *, notify: bool = True) -> dict[str, Any]:
    """Mark a held message discarded (by an admin, or withdrawn by its sender: ``notify=False``, the
    sender knows); 404/409 as problems."""
    entry = await _held(svc, entry_id)
    if not await asyncio.to_thread(svc.store.settle_quarantine, entry_id, "discarded", who):
        current = await asyncio.to_thread(svc.store.get_quarantine, entry_id)
        raise _settled(current.status if current is not None else "gone")
    log.info("quarantine %s discarded by %s", entry_id, who)
    after = await asyncio.to_thread(svc.store.get_quarantine, entry_id)
    return {**_entry_json(after or entry), "sender_notified": await _notify(svc, after) if notify else False}


async def _notify(svc: Services, entry: QuarantineEntry | None) -> bool:
    """The sender's notice of the decision (see ``notify_decision``); never fails the decision."""
    if entry is None:
        return False
    try:
        settings = relay_settings(svc.state.base)
    except ConfigError:
        return False
    return await notify_decision(svc.state.policy, settings, svc.store, entry)


@write.post("/{entry_id}/release", summary="Deliver a held message (409 unless held; 502/503 if refused)")
async def release(entry_id: EntryId, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    return await release_entry(svc, entry_id, who.name)


@write.post("/{entry_id}/discard", summary="Discard a held message (409 unless held)")
async def discard(entry_id: EntryId, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    return await discard_entry(svc, entry_id, who.name)
