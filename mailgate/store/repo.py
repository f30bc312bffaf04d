"""Repository functions over the tables. Every write commits before it returns (durable)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import create_engine, delete, event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from mailgate.errors import ConfigError
from mailgate.store import schema
from mailgate.store.models import (
    ApiToken,
    AuditEntry,
    MailTemplate,
    OutboxEntry,
    PolicyVersion,
    QuarantineEntry,
    RetainedMessage,
    utcnow,
)


class VersionConflict(Exception):
    """Someone else changed the policy first: re-read and try again."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the policy is now at version {current}")
        self.current = current

DEFAULT_URL = "sqlite:///mailgate.db"


def storage_url(config: Mapping[str, Any]) -> str:
    """``[storage] url`` of a config mapping (SQLite in the working directory by default)."""
    return str(config.get("storage", {}).get("url", DEFAULT_URL))


def retain_days(config: Mapping[str, Any]) -> int:
    """``[storage] retain_days``: days message bytes are kept for policy dry runs (0: not kept)."""
    days = config.get("storage", {}).get("retain_days", 0)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ConfigError("[storage] retain_days must be a non-negative integer")
    return days


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # the relay writes while the CLI reads
    cur.execute("PRAGMA synchronous=FULL")  # a 250 promises the message survives a power cut
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


class Store:
    def __init__(self, url: str = DEFAULT_URL) -> None:
        try:
            self.engine: Engine = create_engine(url)
        except Exception as exc:  # bad URL or missing driver
            raise ConfigError(f"[storage] url {url!r}: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        schema.upgrade(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def _add(self, row: Any) -> Any:
        with self._session() as s, s.begin():
            s.add(row)
        return row

    # -- audit ---------------------------------------------------------------
    def add_audit(self, entry: AuditEntry) -> AuditEntry:
        return self._add(entry)

    def audit(self, limit: int = 100) -> Sequence[AuditEntry]:
        with self._session() as s:
            return s.scalars(select(AuditEntry).order_by(AuditEntry.at.desc()).limit(limit)).all()

    def get_audit(self, audit_id: str) -> AuditEntry | None:
        with self._session() as s:
            return s.get(AuditEntry, audit_id)

    # -- outbox --------------------------------------------------------------
    def add_outbox(
        self, mail_from: str, rcpt_to: Sequence[str], data: bytes, *, kind: str = "mail", audit_id: str | None = None
    ) -> OutboxEntry:
        return self._add(
            OutboxEntry(mail_from=mail_from, rcpt_to=list(rcpt_to), data=data, kind=kind, audit_id=audit_id)
        )

    def outbox(self, limit: int = 100, kind: str | None = None) -> Sequence[OutboxEntry]:
        q = select(OutboxEntry).order_by(OutboxEntry.at.desc()).limit(limit)
        if kind is not None:
            q = q.where(OutboxEntry.kind == kind)
        with self._session() as s:
            return s.scalars(q).all()

    def get_outbox(self, entry_id: str) -> OutboxEntry | None:
        with self._session() as s:
            return s.get(OutboxEntry, entry_id)

    # -- quarantine ----------------------------------------------------------
    def add_quarantine(self, entry: QuarantineEntry) -> QuarantineEntry:
        return self._add(entry)

    def quarantine(self, status: str | None = "held", limit: int = 100) -> Sequence[QuarantineEntry]:
        q = select(QuarantineEntry).order_by(QuarantineEntry.at.desc()).limit(limit)
        if status is not None:
            q = q.where(QuarantineEntry.status == status)
        with self._session() as s:
            return s.scalars(q).all()

    def get_quarantine(self, entry_id: str) -> QuarantineEntry | None:
        with self._session() as s:
            return s.get(QuarantineEntry, entry_id)

    def settle_quarantine(self, entry_id: str, status: str, by: str) -> bool:
        """Move a held message to ``released`` or ``discarded``; False when it was not held."""
        if status not in {"released", "discarded"}:
            raise ValueError(f"bad quarantine status {status!r}")
        now: dt.datetime = utcnow()
        with self._session() as s, s.begin():
            res = s.execute(
                update(QuarantineEntry)
                .where(QuarantineEntry.id == entry_id, QuarantineEntry.status == "held")
                .values(status=status, decided_at=now, decided_by=by)
            )
            return bool(getattr(res, "rowcount", 0))

    # -- policy versions -----------------------------------------------------
    def latest_version(self) -> int:
        with self._session() as s:
            return int(s.scalar(select(func.max(PolicyVersion.version))) or 0)

    def get_policy_version(self, version: int) -> PolicyVersion | None:
        with self._session() as s:
            return s.get(PolicyVersion, version)

    def policy_history(self, limit: int = 100, before: int | None = None) -> Sequence[PolicyVersion]:
        q = select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(limit)
        if before is not None:
            q = q.where(PolicyVersion.version < before)
        with self._session() as s:
            return s.scalars(q).all()

    def add_policy_version(
        self, doc: dict[str, Any], *, base: int, author: str, diff: list[dict[str, Any]], comment: str = ""
    ) -> PolicyVersion:
        """Store version ``base + 1``; :class:`VersionConflict` if another change got there first."""
        row = PolicyVersion(version=base + 1, doc=doc, author=author, diff=diff, comment=comment)
        try:
            with self._session() as s, s.begin():
                current = int(s.scalar(select(func.max(PolicyVersion.version))) or 0)
                if current != base:
                    raise VersionConflict(current)
                s.add(row)
        except IntegrityError:
            raise VersionConflict(self.latest_version()) from None
        return row

    # -- API tokens ----------------------------------------------------------
    def add_token(self, token: ApiToken) -> ApiToken:
        return self._add(token)

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        with self._session() as s:
            return s.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()

    def tokens(self) -> Sequence[ApiToken]:
        with self._session() as s:
            return s.scalars(select(ApiToken).order_by(ApiToken.created_at)).all()

    def revoke_token(self, token_id: str) -> bool:
        with self._session() as s, s.begin():
            live = (ApiToken.id == token_id) & ApiToken.revoked_at.is_(None)
            res = s.execute(update(ApiToken).where(live).values(revoked_at=utcnow()))
            return bool(getattr(res, "rowcount", 0))

    # -- retained messages (policy dry runs) ---------------------------------
    def retain(self, row: RetainedMessage) -> RetainedMessage:
        return self._add(row)

    def retained_ids(self, limit: int = 1000) -> Sequence[str]:
        """Ids of the unexpired retained messages, newest first (no message bytes)."""
        q = select(RetainedMessage.id).where(RetainedMessage.expires_at > utcnow()).order_by(RetainedMessage.at.desc())
        with self._session() as s:
            return s.scalars(q.limit(limit)).all()

    def get_retained(self, row_id: str) -> RetainedMessage | None:
        """One retained message, unless it expired (read one at a time: never all bytes at once)."""
        q = select(RetainedMessage).where(RetainedMessage.id == row_id, RetainedMessage.expires_at > utcnow())
        with self._session() as s:
            return s.scalars(q).first()

    def purge_retained(self) -> int:
        with self._session() as s, s.begin():
            res = s.execute(delete(RetainedMessage).where(RetainedMessage.expires_at <= utcnow()))
            return int(getattr(res, "rowcount", 0) or 0)

    # -- gallery templates ---------------------------------------------------
    def mail_templates(self) -> Sequence[MailTemplate]:
        with self._session() as s:
            return s.scalars(select(MailTemplate).order_by(MailTemplate.id)).all()

    def get_mail_template(self, template_id: str) -> MailTemplate | None:
        with self._session() as s:
            return s.get(MailTemplate, template_id)

    def put_mail_template(
        self, template_id: str, spec: dict[str, Any], by: str, expected: int | None = None
    ) -> MailTemplate:
        """Create or replace; with ``expected`` (0 = must not exist) VersionConflict on a mismatch."""
        with self._session() as s, s.begin():
            row = s.get(MailTemplate, template_id, with_for_update=True)
            current = row.version if row is not None else 0
            if expected is not None and expected != current:
                raise VersionConflict(current)
            now = utcnow()
            if row is None:
                row = MailTemplate(id=template_id, spec=spec, version=1, created_by=by, created_at=now,
                                   updated_by=by, updated_at=now)  # fmt: skip
                s.add(row)
            else:
                row.spec, row.version, row.updated_by, row.updated_at = spec, current + 1, by, now
        return row

    def delete_mail_template(self, template_id: str, expected: int | None = None) -> bool:
        with self._session() as s, s.begin():
            row = s.get(MailTemplate, template_id, with_for_update=True)
            if row is None:
                return False
            if expected is not None and expected != row.version:
                raise VersionConflict(row.version)
            s.delete(row)
        return True
