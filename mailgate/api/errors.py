"""One error shape for every route: ``{"detail": {"code", "message"}}`` (message zh-CN / English)."""

from __future__ import annotations

import datetime as dt

from fastapi import HTTPException


def problem(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status, detail={"code": code, "message": message})


def iso(when: dt.datetime | None) -> str | None:
    """ISO 8601 with the offset; the store keeps UTC (SQLite returns it without tzinfo)."""
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).isoformat()
