"""Durable state: the outbox, the quarantine and the audit log (SQLAlchemy 2, SQLite by default).

``Store`` methods are synchronous; the relay calls them through ``asyncio.to_thread`` so the
SMTP event loop never waits on the database.
"""

from mailgate.store.models import AuditEntry, OutboxEntry, QuarantineEntry
from mailgate.store.repo import Store

__all__ = ["AuditEntry", "OutboxEntry", "QuarantineEntry", "Store"]
