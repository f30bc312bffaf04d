"""Durable state: the outbox, the quarantine and the audit log (SQLAlchemy 2, SQLite by default).

``Store`` methods are synchronous; the relay calls them through ``asyncio.to_thread`` so the
SMTP event loop never waits on the database.
"""

from mailgate.store.models import (
    ApiToken,
    AuditEntry,
    MailTemplate,
    OutboxEntry,
    PolicyVersion,
    QuarantineEntry,
    RetainedMessage,
)
from mailgate.store.repo import Store, VersionConflict

__all__ = [
    "ApiToken",
    "AuditEntry",
    "MailTemplate",
    "OutboxEntry",
    "PolicyVersion",
    "QuarantineEntry",
    "RetainedMessage",
    "Store",
    "VersionConflict",
]
