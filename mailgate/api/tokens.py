"""Bearer tokens: made by ``mailgate token create``, stored as SHA-256, compared in constant time."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from mailgate.store import ApiToken, Store
from mailgate.store.models import utcnow

ROLES = ("admin", "viewer")
PREFIX = "mg_"
_SHAPE = re.compile(r"^mg_[A-Za-z0-9_-]{43}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def create_token(store: Store, role: str, name: str = "", expires_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token; the secret is returned once and never stored."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    secret = PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(days=expires_days) if expires_days else None
    row = store.add_token(ApiToken(name=name[:200], role=role, token_hash=hash_token(secret), expires_at=expires))
    return row, secret


def verify_token(store: Store, presented: str) -> ApiToken | None:
    """The live token row for ``presented``, or None (unknown, malformed, revoked or expired)."""
    if not _SHAPE.match(presented):
        return None
    digest = hash_token(presented)
    row = store.token_by_hash(digest)
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.revoked_at is not None:
        return None
    if row.expires_at is not None:
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
        if expires <= utcnow():
            return None
    return row
