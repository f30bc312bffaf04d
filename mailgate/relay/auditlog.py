"""Audit rows written off the SMTP reply path: one background thread, a few rows per transaction.

The relay answers the client as soon as it has decided and acted; the row that records the
decision is handed to :class:`AuditLog` and written by its writer thread together with the rows of
other messages (up to ``max_rows`` rows, or whatever arrived within ``max_delay`` seconds of the
first one, in one transaction: one commit and one fsync instead of one per message).

What is *not* here, and stays synchronous before the ``250``: the quarantine (a held message must
be stored before the client is told it was accepted) and the local outbox (it is the delivery).

Durability (docs/DECISIONS.md, relay): :meth:`AuditLog.close` (a clean stop) writes everything
queued; a SIGKILL or a power cut loses at most the rows of the last ``max_delay`` seconds, which
the per-message log line still records. A row the store refuses is retried with a growing pause
(the store may be briefly down or locked) and given up, with an ERROR log line naming it, after
``attempts`` tries; a failed batch is retried row by row so one bad row cannot sink its neighbours.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert

from mailgate.store import Store
from mailgate.store.models import Base, utcnow

log = logging.getLogger("mailgate.relay.audit")


Row = tuple[type[Base], dict[str, Any]]  # a table's model (AuditEntry, RetainedMessage) and column values


@dataclass(slots=True)
class _Pending:
    table: Table
    values: dict[str, Any]
    tries: int = 0


@functools.cache
def _defaults(table: Table) -> tuple[tuple[str, bool, Any], ...]:
    """(column, callable?, default) for the columns of ``table`` that have a Python-side default."""
    out = []
    for column in table.columns:
        default = column.default
        if getattr(default, "is_callable", False):
            out.append((column.key, True, default.arg))  # type: ignore[union-attr]
        elif getattr(default, "is_scalar", False):
            out.append((column.key, False, default.arg))  # type: ignore[union-attr]
    return tuple(out)


def _complete(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """The row with the defaults of the columns it leaves out filled in, as the ORM would (rows of
    the same shape go in one executemany). A column with no default that is left out stays out:
    SQL NULL (a JSON column given None would store JSON ``null`` instead)."""
    out = dict(values)
    for key, call, default in _defaults(table):
        if key not in out:
            out[key] = default(None) if call else default
    return out


class AuditLog:
    """A queue of rows (audit entries, retained messages) and the thread that writes them.

    Rows are plain column values (``(AuditEntry, {...})``), not ORM objects: building them costs the
    event loop nothing much, and the writer inserts a batch with one executemany per table.
    ``add`` never blocks on the database and may be called from any thread. ``flush`` waits until
    every row added before it is written (or given up); ``close`` flushes and ends the thread (a
    later ``add`` starts a new one).
    """

    def __init__(
        self,
        store: Store,
        *,
        max_rows: int = 100,
        max_delay: float = 0.05,
        attempts: int = 8,
        max_pending: int = 100_000,
    ) -> None:
        self.store = store
        self.max_rows, self.max_delay = max_rows, max_delay
        self.attempts, self.max_pending = attempts, max_pending
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the writer waits here
        self._progress = threading.Condition(self._lock)  # flush() waits here
        self._pending: deque[_Pending] = deque()
        self._added = 0  # rows accepted by add(), ever
        self._done = 0  # rows written or given up, ever
        self._urgent = 0  # flushes waiting: no max_delay wait
        self._closing = False
        self._thread: threading.Thread | None = None
        self.written = 0
        self.given_up = 0
        self.batches = 0  # transactions that committed

    # -- the relay's side -----------------------------------------------------------------------------

    def add(self, *rows: Row) -> None:
        """Queue rows for writing; ``at`` is now (when the decision was made), not the write's time."""
        now = utcnow()
        items = []
        for model, values in rows:
            table = model.__table__
            assert isinstance(table, Table)
            if "at" in table.columns and values.get("at") is None:
                values = {**values, "at": now}
            items.append(_Pending(table, values))
        with self._lock:
            self._added += len(rows)
            dropped = max(0, len(self._pending) + len(rows) - self.max_pending)
            if dropped:
                log.error("audit queue full (%d rows): %d row(s) not recorded", len(self._pending), dropped)
                self._done += dropped
                self.given_up += dropped
                items = items[: len(items) - dropped]
            was_empty = not self._pending
            self._pending.extend(items)
            if self._thread is None or not self._thread.is_alive():
                self._closing = False
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()
            elif was_empty or len(self._pending) >= self.max_rows:
                self._wake.notify()  # a no-op unless the writer waits for rows

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until the rows added so far are written (or given up). False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._added
            self._urgent += 1
            self._wake.notify()
            try:
                while self._done < target:
                    if self._thread is None or not self._thread.is_alive():
                        return False
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._progress.wait(remaining)
            finally:
                self._urgent -= 1
        return True

    def close(self, timeout: float = 30.0) -> bool:
        """Write what is queued and end the writer thread. False when rows were left unwritten."""
        with self._lock:
            thread = self._thread
            self._closing = True
            self._wake.notify()
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            left = len(self._pending)
        if left:
            log.error("audit log closed with %d row(s) not written", left)
        return left == 0

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- the writer thread ----------------------------------------------------------------------------

    def _next_batch(self) -> list[_Pending] | None:
        """Up to ``max_rows`` rows, after waiting ``max_delay`` for more; None when closed and empty."""
        with self._lock:
            while not self._pending:
                if self._closing:
                    return None
                self._wake.wait()
            deadline = time.monotonic() + self.max_delay
            while len(self._pending) < self.max_rows and not (self._closing or self._urgent):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wake.wait(remaining)
            n = min(self.max_rows, len(self._pending))
            return [self._pending.popleft() for _ in range(n)]

    def _run(self) -> None:
        backoff = 0
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            failed = self._write(batch)
            given_up = [p for p in failed if p.tries >= self.attempts]
            retry = [p for p in failed if p.tries < self.attempts]
            for p in given_up:
                log.error("audit: gave up writing %s after %d attempts", _describe(p), p.tries)
            with self._lock:
                done = len(batch) - len(retry)
                self._done += done
                self.written += done - len(given_up)
                self.given_up += len(given_up)
                self._pending.extendleft(reversed(retry))
                self._progress.notify_all()
            if retry:
                backoff += 1
                time.sleep(min(0.1 * 2 ** (backoff - 1), 5.0))
            else:
                backoff = 0

    def _insert(self, rows: Sequence[_Pending]) -> None:
        groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        for p in rows:
            values = _complete(p.table, p.values)
            groups.setdefault((p.table, tuple(sorted(values))), []).append(values)
        with self.store.engine.begin() as conn:
            for (table, _), same_shape in groups.items():
                conn.execute(insert(table), same_shape)
        self.batches += 1

    def _write(self, batch: list[_Pending]) -> list[_Pending]:
        """Write the batch; the rows that could not be written, each with one more try counted."""
        try:
            self._insert(batch)
            return []
        except Exception as exc:
            log.warning("audit: writing %d row(s) failed: %s", len(batch), _short(exc))
            if len(batch) == 1:
                batch[0].tries += 1
                return batch
        # One by one, so a row the store refuses does not take the others with it. Two failures
        # before any success look like the store being down: keep the rest for the next round.
        failed: list[_Pending] = []
        untried: list[_Pending] = []
        succeeded = False
        for i, p in enumerate(batch):
            try:
                self._insert([p])
                succeeded = True
            except Exception:
                p.tries += 1
                failed.append(p)
                if not succeeded and len(failed) >= 2:
                    untried = batch[i + 1 :]
                    for q in untried:
                        q.tries += 1
                    break
        return untried + failed  # the rows that failed go last: a bad row cannot block the queue


def _short(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


def _describe(p: _Pending) -> str:
    fields = [f"{p.table.name} row {p.values.get('id', '')}".rstrip()]
    for name in ("sender", "audit_id", "verdict", "action", "smtp_code"):
        if name in p.values:
            fields.append(f"{name}={p.values[name]!r}")
    return " ".join(fields)
