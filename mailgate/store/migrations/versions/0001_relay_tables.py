"""The relay's tables: audit, outbox, quarantine.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _stamp() -> sa.Column[object]:
    return sa.Column("at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.String(32), primary_key=True),
        _stamp(),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("auth_user", sa.String(320), nullable=True),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("override_by", sa.String(320), nullable=True),
        sa.Column("smtp_code", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_sender", "audit", ["sender"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(32), primary_key=True),
        _stamp(),
        sa.Column("mail_from", sa.String(320), nullable=False),
        sa.Column("rcpt_to", sa.JSON(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("audit_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_outbox_at", "outbox", ["at"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.String(32), primary_key=True),
        _stamp(),
        sa.Column("mail_from", sa.String(320), nullable=False),
        sa.Column("rcpt_to", sa.JSON(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("mail_options", sa.JSON(), nullable=False),
        sa.Column("audit_id", sa.String(32), nullable=True),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(320), nullable=True),
    )
    op.create_index("ix_quarantine_at", "quarantine", ["at"])
    op.create_index("ix_quarantine_status", "quarantine", ["status"])


def downgrade() -> None:
    op.drop_table("quarantine")
    op.drop_table("outbox")
    op.drop_table("audit")
