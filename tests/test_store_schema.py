"""The store's schema comes from the Alembic migrations, and they match the models."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from mailgate.store import AuditEntry, Store, schema
from mailgate.store.models import Base
from tests.db import fresh_store_url


def test_a_new_database_is_at_head_and_matches_the_models(tmp_path: Path) -> None:
    with fresh_store_url(tmp_path) as url:
        store = Store(url)
        _at_head_and_matching(store)


def _at_head_and_matching(store: Store) -> None:
    try:
        assert schema.current_revision(store.engine) == "0004"
        with store.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diffs == []
    finally:
        store.close()


def test_a_database_of_an_older_release_is_upgraded_keeping_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    schema.upgrade(engine, "0001")
    engine.dispose()
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute("DELETE FROM alembic_version")  # made before migrations existed: no version table rows
        db.execute("DROP TABLE alembic_version")
        db.execute(
            "INSERT INTO audit (id, at, client, sender, recipients, verdict, findings, action, source, smtp_code,"
            " outcome, latency_ms) VALUES ('a1', '2026-11-20 10:00:00', '127.0.0.1', 'lina@x.cn', '[]', 'pass',"
            " '[]', 'deliver', 'default', 250, 'ok', 1.0)"
        )
    store = Store(url)
    try:
        assert schema.current_revision(store.engine) == "0004"
        row = store.get_audit("a1")
        assert row is not None and row.sender == "lina@x.cn" and row.flags == []
        store.add_audit(AuditEntry(id="a2", verdict="pass", action="deliver", flags=["sender-mismatch:x@y"]))
        assert store.get_audit("a2").flags == ["sender-mismatch:x@y"]  # type: ignore[union-attr]
    finally:
        store.close()


def test_migrations_downgrade_to_nothing(tmp_path: Path) -> None:
    with fresh_store_url(tmp_path) as url:
        _down_and_up(url)


def _down_and_up(url: str) -> None:
    engine = create_engine(url)
    schema.upgrade(engine)
    schema.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    schema.upgrade(engine)
    assert {"audit", "outbox", "quarantine"} <= set(inspect(engine).get_table_names())
    engine.dispose()
