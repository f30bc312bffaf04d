"""The audit log's batch writer: rows arrive after the reply, a clean stop writes everything queued,
and a store that fails neither crashes the relay nor costs the client its reply."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from mailgate.relay.auditlog import AuditLog, Row
from mailgate.relay.testing import CaptureSink
from mailgate.store import AuditEntry, Store
from mailgate.store.models import utcnow
from tests.relay.conftest import PASS_EML, PASS_RCPTS, SENDER, Harness, example, wait_until
from tests.relay.test_actions_paths import send


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.close()


def entry(i: int, **kw: object) -> Row:
    values: dict[str, Any] = {"sender": f"u{i}@demo.example.cn", "verdict": "pass", "action": "deliver"}
    values.update(kw)
    return AuditEntry, values


def test_rows_arrive_on_their_own_stamped_when_added(store: Store) -> None:
    log = AuditLog(store, max_delay=0.05)
    before = utcnow()
    log.add(entry(1), entry(2))
    log.add(entry(3))
    added = utcnow()
    try:
        assert wait_until(lambda: len(store.audit()) == 3)  # no flush: the writer thread does it
        assert {a.sender for a in store.audit()} == {"u1@demo.example.cn", "u2@demo.example.cn", "u3@demo.example.cn"}
        for a in store.audit():  # the time of the decision, not of the write
            assert before <= a.at.replace(tzinfo=before.tzinfo) <= added
        assert log.written == 3 and log.given_up == 0
    finally:
        log.close()


def test_left_out_columns_get_the_models_defaults(store: Store) -> None:
    log = AuditLog(store)
    log.add(entry(1), entry(2, report={"verdict": "pass", "findings": []}, smtp_code=250))
    assert log.flush(timeout=30)
    first, second = sorted(store.audit(), key=lambda a: a.sender)
    assert len(first.id) == 32 and first.id != second.id
    assert (first.recipients, first.findings, first.flags, first.source, first.smtp_code) == ([], [], [], "default", 0)
    assert first.report is None and first.message_id is None
    assert second.report == {"verdict": "pass", "findings": []} and second.smtp_code == 250
    log.close()


def test_rows_are_written_in_batches_of_at_most_max_rows(store: Store) -> None:
    log = AuditLog(store, max_rows=100, max_delay=5.0)
    log.add(*(entry(i) for i in range(250)))
    assert log.flush(timeout=30)
    assert len(store.audit(limit=1000)) == 250
    assert log.batches == 3  # 100 + 100 + 50, not one transaction per row
    log.close()


def test_a_clean_close_writes_everything_queued(store: Store) -> None:
    log = AuditLog(store, max_delay=60.0)  # the writer would otherwise wait a minute for more rows
    log.add(*(entry(i) for i in range(5)))
    started = time.monotonic()
    assert log.close(timeout=30)
    assert time.monotonic() - started < 20
    assert len(store.audit()) == 5
    log.add(entry(9))  # a late row after close starts the writer again
    assert log.flush(timeout=30) and len(store.audit()) == 6
    log.close()


def test_a_row_the_store_refuses_does_not_take_its_batch_with_it(store: Store) -> None:
    log = AuditLog(store, max_delay=0.5, attempts=2)
    bad = entry(2, verdict=None)  # NOT NULL: refused by the database
    log.add(entry(1), bad, entry(3))
    assert log.flush(timeout=30)
    assert sorted(a.sender for a in store.audit()) == ["u1@demo.example.cn", "u3@demo.example.cn"]
    assert (log.written, log.given_up) == (2, 1)
    log.close()


def test_relay_stop_flushes_the_audit_log(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    assert h.relay.relay is not None
    h.relay.relay.pipeline.audit_log.max_delay = 60.0  # only the stop can write it in time
    assert send(h.port, example(PASS_EML), PASS_RCPTS) == {}
    h.relay.__exit__(None, None, None)  # a clean stop: Relay.stop() closes the audit log
    [audit] = h.store.audit()
    assert (audit.verdict, audit.action, audit.smtp_code, audit.sender) == ("pass", "deliver", 250, SENDER)


def test_store_failure_keeps_the_reply_and_the_relay(
    start_relay: Callable[..., Harness], sink: CaptureSink, store_url: str
) -> None:
    """The audit table vanishes (a broken store): mail still gets its 250, the relay goes on, and the
    rows are written once the table is back."""
    h = start_relay()
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit RENAME TO audit_away"))
        assert send(h.port, example(PASS_EML), PASS_RCPTS) == {}
        assert send(h.port, example(PASS_EML), PASS_RCPTS) == {}
        assert len(sink.messages) == 2
        assert h.relay.relay is not None
        audit_log = h.relay.relay.pipeline.audit_log
        assert wait_until(lambda: audit_log.pending == 2 and audit_log.written == 0)  # failing, kept
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_away RENAME TO audit"))
        assert [a.smtp_code for a in h.audit()] == [250, 250]
        assert audit_log.given_up == 0
        assert send(h.port, example(PASS_EML), PASS_RCPTS) == {}  # and the relay still serves
        assert len(h.audit()) == 3
    finally:
        engine.dispose()
