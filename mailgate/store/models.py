"""Tables. The schema is built and upgraded by the Alembic migrations in ``migrations/``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class AuditEntry(Base):
    """One decision about one message (every SMTP transaction that reached end of DATA)."""

    __tablename__ = "audit"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    client: Mapped[str] = mapped_column(String(64), default="")
    auth_user: Mapped[str | None] = mapped_column(String(320), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(998), nullable=True)
    sender: Mapped[str] = mapped_column(String(320), default="", index=True)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    verdict: Mapped[str] = mapped_column(String(8))  # pass | warn | fail | error | crash
    findings: Mapped[list[str]] = mapped_column(JSON, default=list)  # check ids
    action: Mapped[str] = mapped_column(String(16))  # deliver | reject | hold | advise | annotate | monitor | tempfail
    source: Mapped[str] = mapped_column(String(200), default="default")  # which policy layer decided
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    override_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    smtp_code: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(Text, default="")  # the reply's first line, or what happened
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # report JSON (zh-CN)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. "sender-mismatch:<header From>"


class OutboxEntry(Base):
    """A message delivered locally because no upstream is configured (or a report mail)."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    mail_from: Mapped[str] = mapped_column(String(320), default="")
    rcpt_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(16), default="mail")  # mail | report
    audit_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class QuarantineEntry(Base):
    """A held message. ``status`` moves from ``held`` to ``released`` or ``discarded``, once."""

    __tablename__ = "quarantine"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    mail_from: Mapped[str] = mapped_column(String(320), default="")
    rcpt_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    mail_options: Mapped[list[str]] = mapped_column(JSON, default=list)
    audit_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    verdict: Mapped[str] = mapped_column(String(8), default="")
    findings: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="held", index=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class PolicyVersion(Base):
    """One admin change: the whole admin layer after it (config-shaped JSON), who, when, and the diff.

    The effective policy is ``mailgate.toml`` with the newest version's ``doc`` laid over it.
    Versions are never edited; a rollback is a new version whose doc is an old one's.
    """

    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    author: Mapped[str] = mapped_column(String(200), default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    doc: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    diff: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ApiToken(Base):
    """A bearer token for the admin API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin | viewer
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RetainedMessage(Base):
    """Message bytes kept (opt-in, ``[storage] retain_days``) so a proposed policy can be replayed."""

    __tablename__ = "retained_messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    audit_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    mail_from: Mapped[str] = mapped_column(String(320), default="")
    rcpt_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class MailTemplate(Base):
    """A gallery template an admin uploaded (or a built-in they overrode): the spec as JSON.

    The id is the key, never a file name. ``version`` grows by one on every change, for
    optimistic concurrency (``If-Match``).
    """

    __tablename__ = "mail_templates"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
