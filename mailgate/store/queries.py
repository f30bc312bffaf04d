"""Read-only queries for the admin API: paged listings and the statistics, aggregated in SQL.

Only the columns a page needs are selected (never a message's bytes in a listing, never the
report JSON in the audit listing). The statistics group in the database; the JSON array of
check ids per audit row is unnested with ``json_each`` (SQLite) or ``json_array_elements_text``
(PostgreSQL), and days are bucketed at a fixed UTC offset. Every query is bounded by a time
window, a page size, or the number of distinct senders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, Select, func, literal_column, select, true
from sqlalchemy.engine import Connection

from mailgate.store.models import AuditEntry, QuarantineEntry
from mailgate.store.repo import Store

QUARANTINE_HEAD = 16384  # bytes of a held message read for its Subject in listings


def _count(conn: Connection, q: Select[*tuple[Any, ...]]) -> int:
    return int(conn.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0)


# -- quarantine --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuarantineRow:
    id: str
    at: dt.datetime
    mail_from: str
    rcpt_to: list[str]
    audit_id: str | None
    verdict: str
    findings: list[str]
    status: str
    decided_at: dt.datetime | None
    decided_by: str | None
    size: int
    head: bytes  # the first QUARANTINE_HEAD bytes (for the Subject)


def quarantine_page(store: Store, *, status: str | None, limit: int, offset: int) -> tuple[int, list[QuarantineRow]]:
    """Held (or any ``status``; None: all) messages, newest first, without their bytes."""
    q = QuarantineEntry
    head = func.substr(q.data, 1, QUARANTINE_HEAD, type_=LargeBinary)
    stmt = select(
        q.id, q.at, q.mail_from, q.rcpt_to, q.audit_id, q.verdict, q.findings, q.status,
        q.decided_at, q.decided_by, func.length(q.data), head,
    ).order_by(q.at.desc(), q.id)  # fmt: skip
    if status is not None:
        stmt = stmt.where(q.status == status)
    with store.engine.connect() as conn:
        total = _count(conn, stmt)
        rows = conn.execute(stmt.limit(limit).offset(offset)).all()
    return total, [
        QuarantineRow(
            id=r[0],
            at=r[1],
            mail_from=r[2],
            rcpt_to=list(r[3] or []),
            audit_id=r[4],
            verdict=r[5],
            findings=list(r[6] or []),
            status=r[7],
            decided_at=r[8],
            decided_by=r[9],
            size=int(r[10] or 0),
            head=bytes(r[11] or b""),
        )
        for r in rows
    ]


# -- audit ---------------------------------------------------------------------------------------

AUDIT_LIST_COLUMNS = (
    "id", "at", "client", "auth_user", "message_id", "sender", "recipients", "verdict", "findings",
    "action", "source", "override_reason", "override_by", "smtp_code", "outcome", "latency_ms", "flags",
)  # fmt: skip


def audit_page(
    store: Store,
    *,
    sender: str | None = None,
    verdict: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """Audit rows (without the report JSON), newest first, filtered; and how many match."""
    a = AuditEntry
    stmt = select(*(getattr(a, c) for c in AUDIT_LIST_COLUMNS)).order_by(a.at.desc(), a.id)
    if sender is not None:
        stmt = stmt.where(func.lower(a.sender) == sender.lower())
    if verdict is not None:
        stmt = stmt.where(a.verdict == verdict)
    if action is not None:
        stmt = stmt.where(a.action == action)
    if since is not None:
        stmt = stmt.where(a.at >= since)
    if until is not None:
        stmt = stmt.where(a.at < until)
    with store.engine.connect() as conn:
        total = _count(conn, stmt)
        rows = conn.execute(stmt.limit(limit).offset(offset)).all()
    return total, [dict(zip(AUDIT_LIST_COLUMNS, r, strict=True)) for r in rows]


# -- statistics --------------------------------------------------------------------------------


@dataclass
class StatsRows:
    """Grouped counts of the audit rows at or after ``since`` (the caller shapes them)."""

    mix: list[tuple[str, str, bool, int]] = field(default_factory=list)  # verdict, action, overridden, n
    senders: list[tuple[str, str, int]] = field(default_factory=list)  # lower(sender), verdict, n
    days: list[tuple[str, str, int]] = field(default_factory=list)  # YYYY-MM-DD, verdict, n
    checks: list[tuple[str, int]] = field(default_factory=list)  # check id, messages with a finding of it


def _day(dialect: str, offset_minutes: int) -> ColumnElement[Any]:
    """The calendar day (``YYYY-MM-DD``) of ``audit.at`` at a fixed UTC offset, as SQL."""
    minutes = int(offset_minutes)  # an int, so inlining it is safe (and keeps GROUP BY = SELECT)
    if dialect == "postgresql":
        return literal_column(f"to_char(timezone('UTC', audit.at) + interval '{minutes} minutes', 'YYYY-MM-DD')")
    return literal_column(f"date(audit.at, '{minutes:+d} minutes')")


def _unnested_checks(dialect: str) -> Any:
    if dialect == "postgresql":
        return func.json_array_elements_text(AuditEntry.findings).table_valued("value")
    return func.json_each(AuditEntry.findings).table_valued("value")


def stats_rows(store: Store, *, since: dt.datetime, offset_minutes: int) -> StatsRows:
    a = AuditEntry
    window = a.at >= since
    dialect = store.engine.dialect.name
    out = StatsRows()
    overridden = a.override_reason.is_not(None)
    day = _day(dialect, offset_minutes)
    sender = func.lower(a.sender)
    checks = _unnested_checks(dialect)
    with store.engine.connect() as conn:
        mix = select(a.verdict, a.action, overridden, func.count()).where(window)
        out.mix = [
            (v, act, bool(o), int(n)) for v, act, o, n in conn.execute(mix.group_by(a.verdict, a.action, overridden))
        ]
        per_sender = select(sender, a.verdict, func.count()).where(window).group_by(sender, a.verdict)
        out.senders = [(s or "", v, int(n)) for s, v, n in conn.execute(per_sender)]
        per_day = select(day, a.verdict, func.count()).where(window).group_by(day, a.verdict)
        out.days = [(str(d), v, int(n)) for d, v, n in conn.execute(per_day)]
        per_check = (
            select(checks.c.value, func.count())
            .select_from(a)
            .join(checks, true())
            .where(window)
            .group_by(checks.c.value)
        )
        out.checks = [(str(c), int(n)) for c, n in conn.execute(per_check)]
    return out
