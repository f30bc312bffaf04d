"""Structured logs: one JSON object per line (``mailgate serve --log-format json``, the default).

A long-running process logs through a queue: the thread that logs (the relay's event loop) only
fills in the message and hands the record over; a listener thread formats the records and writes
them to stderr, a few at a time in one write (:func:`configure`).
"""

from __future__ import annotations

import atexit
import copy
import datetime as dt
import json
import logging
import logging.handlers
import queue
import time
import traceback
from typing import Any

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

LINGER = 0.05  # seconds the listener waits for more records before it writes what it has


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():  # fields given with extra={...}
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # formatted already (a record that came through the log queue)
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


class LogQueueHandler(logging.handlers.QueueHandler):
    """Hands a copy of the record to the listener with its message and traceback already rendered
    (the arguments may change after the call; a traceback cannot cross threads later).

    Unlike the stdlib's ``prepare`` it does not run a formatter here, so the exception stays apart
    from the message (``exc`` in a JSON line).
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg = record.message = record.getMessage()
        record.args = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_info = None
        return record


class BatchingQueueListener(logging.handlers.QueueListener):
    """A ``QueueListener`` that, once a record arrives, waits ``linger`` seconds for more and then
    writes them all: one wake-up and one write per batch instead of one per record."""

    def __init__(self, q: queue.SimpleQueue[Any], *handlers: logging.Handler, linger: float = LINGER) -> None:
        super().__init__(q, *handlers, respect_handler_level=True)
        self.records = q
        self.linger = linger

    def _monitor(self) -> None:
        q = self.records
        while True:
            batch = [q.get()]  # None: the sentinel stop() puts
            if batch[0] is not None and self.linger > 0:
                time.sleep(self.linger)  # records put meanwhile wake no one: the queue has no waiter
            while True:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            stop = any(r is None for r in batch)
            self.emit_batch([r for r in batch if r is not None])
            if stop:
                return

    def emit_batch(self, records: list[logging.LogRecord]) -> None:
        for handler in self.handlers:
            wanted = [r for r in records if r.levelno >= handler.level and handler.filter(r)]
            if not wanted:
                continue
            if not isinstance(handler, logging.StreamHandler):
                for r in wanted:
                    handler.handle(r)
                continue
            lines = []
            for r in wanted:
                try:
                    lines.append(handler.format(r) + handler.terminator)
                except Exception:
                    handler.handleError(r)
            handler.acquire()
            try:
                handler.stream.write("".join(lines))
                handler.flush()
            except Exception:
                handler.handleError(wanted[-1])
            finally:
                handler.release()


_listener: BatchingQueueListener | None = None


def stop_listener() -> None:
    """Write what is queued and end the listener thread (at exit; idempotent)."""
    global _listener
    listener, _listener = _listener, None
    if listener is not None:
        listener.stop()


def configure(fmt: str) -> None:
    """Root logging for a long-running process: ``json`` or ``text`` on stderr, mailgate at INFO,
    formatted and written by a listener thread (records queued by the logging thread)."""
    stop_listener()
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    )
    q: queue.SimpleQueue[Any] = queue.SimpleQueue()
    global _listener
    _listener = BatchingQueueListener(q, handler)
    _listener.start()
    atexit.unregister(stop_listener)
    atexit.register(stop_listener)
    root = logging.getLogger()
    root.handlers[:] = [LogQueueHandler(q)]
    root.setLevel(logging.WARNING)
    logging.getLogger("mailgate").setLevel(logging.INFO)
