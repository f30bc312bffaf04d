"""Statistics over the audit log: per check, department, sender and day; verdict and action mix;
override rate; top rules.

The window is the last ``days`` calendar days, today included, at a fixed UTC offset
(``utc_offset_minutes``, default +08:00, China Standard Time). Counting happens in the database
(grouped by verdict, action, sender, day and check id); only the grouped rows come back, so the
work is bounded by the number of distinct senders and days, not by the number of messages.

- a check's count is the number of messages with at least one finding of that check;
- a department is the sender's department in the directory in effect now (``null``: the sender
  is not in the directory, e.g. a bounce or an outside address);
- the override rate is overridden / (rejected + overridden): how often a sender who would have
  been rejected resent with ``[override: 理由]``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter, defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from mailgate.api.deps import AuthFirst, ServicesDep, viewer
from mailgate.api.errors import iso
from mailgate.directory import Directory
from mailgate.relay.decide import ACTIONS, VERDICTS
from mailgate.store.models import utcnow
from mailgate.store.queries import StatsRows, stats_rows

read = APIRouter(prefix="/v1/stats", tags=["stats"], dependencies=[Depends(viewer)], route_class=AuthFirst)

TOP_RULES = 10


def _now() -> dt.datetime:
    return utcnow()


def _mix(counts: Counter[str], known: tuple[str, ...]) -> dict[str, int]:
    return {**dict.fromkeys(known, 0), **dict(sorted(counts.items()))}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def window(days: int, offset_minutes: int, now: dt.datetime) -> tuple[dt.datetime, list[str]]:
    """The UTC start of the window and its calendar days (``YYYY-MM-DD``, oldest first)."""
    offset = dt.timedelta(minutes=offset_minutes)
    today = (now + offset).date()
    first = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC) - offset
    return since, [(first + dt.timedelta(days=i)).isoformat() for i in range(days)]


def shape(rows: StatsRows, directory: Directory, day_keys: list[str], top: int) -> dict[str, Any]:
    verdicts: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    overridden = 0
    for verdict, action, was_overridden, n in rows.mix:
        verdicts[verdict] += n
        actions[action] += n
        overridden += n if was_overridden else 0
    total = sum(verdicts.values())
    rejected = actions["reject"]

    senders: dict[str, Counter[str]] = defaultdict(Counter)
    for sender, verdict, n in rows.senders:
        senders[sender][verdict] += n
    departments: dict[str | None, Counter[str]] = defaultdict(Counter)
    sender_dept: dict[str, str | None] = {}
    for sender, counts in senders.items():
        person = directory.by_email(sender) if sender else None
        sender_dept[sender] = person.department if person is not None and person.department else None
        departments[sender_dept[sender]].update(counts)
    ranked = sorted(senders.items(), key=lambda s: (-s[1].total(), s[0]))
    per_sender = [
        {"sender": s, "department": sender_dept[s], "messages": c.total(), "verdicts": dict(c)} for s, c in ranked[:top]
    ]
    ranked_depts = sorted(departments.items(), key=lambda d: (-d[1].total(), d[0] is None, d[0] or ""))

    days: dict[str, Counter[str]] = {d: Counter() for d in day_keys}
    for day, verdict, n in rows.days:
        days.setdefault(day, Counter())[verdict] += n

    checks = sorted(rows.checks, key=lambda c: (-c[1], c[0]))
    return {
        "messages": total,
        "verdicts": _mix(verdicts, VERDICTS),
        "actions": _mix(actions, (*ACTIONS, "tempfail")),
        "overrides": {
            "overridden": overridden,
            "rejected": rejected,
            "rate": round(overridden / (overridden + rejected), 4) if overridden + rejected else None,
        },
        "per_check": dict(checks),
        "top_rules": [{"check": check, "messages": n, "share": _share(n, total)} for check, n in checks[:TOP_RULES]],
        "per_department": [{"department": d, "messages": c.total(), "verdicts": dict(c)} for d, c in ranked_depts],
        "per_sender": per_sender,
        "senders": len(senders),
        "per_day": [{"day": d, "messages": c.total(), "verdicts": dict(c)} for d, c in sorted(days.items())],
    }


@read.get("", summary="Counts per check, department, sender and day; verdict and action mix; override rate")
async def get_stats(
    svc: ServicesDep,
    days: Annotated[int, Query(ge=1, le=366, description="calendar days, today included")] = 30,
    utc_offset_minutes: Annotated[int, Query(ge=-720, le=840, description="where days begin")] = 480,
    top: Annotated[int, Query(ge=1, le=500, description="senders listed")] = 20,
) -> dict[str, Any]:
    now = _now()
    since, day_keys = window(days, utc_offset_minutes, now)
    rows = await asyncio.to_thread(stats_rows, svc.store, since=since, offset_minutes=utc_offset_minutes)
    return {
        "days": days,
        "utc_offset_minutes": utc_offset_minutes,
        "since": iso(since),
        "until": iso(now),
        **shape(rows, svc.state.policy.directory, day_keys, top),
    }
