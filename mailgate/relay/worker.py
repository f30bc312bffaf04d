"""Linting off the event loop: worker processes, the policy loaded once per worker.

The relay talks to a :class:`Linter`. :class:`PoolLinter` is the production one (each worker
process loads the config once, warms the NLP pipeline, and runs ``lint_bytes`` in its main
thread, where the engine's hard time budget applies; requests and answers go over a socket pair
read by the relay's event loop itself, and a worker sends back a :class:`LintResult`, not the
parsed message). :class:`ThreadLinter` runs in a thread of
the relay process with a given :class:`~mailgate.policy.Policy` value — for tests and for
``workers = 1`` debugging; it still never blocks the loop.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import os
import pickle
import select
import signal
import socket
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mailgate.fmt import format_bytes
from mailgate.lint import lint_bytes
from mailgate.model import Address, Finding, LintError, Message, Report, first_header
from mailgate.policy import Policy, load_policy
from mailgate.relay.reportmail import REPORT_HEADER
from mailgate.report import audit_report_json

if TYPE_CHECKING:
    from mailgate.state import PolicyState

log = logging.getLogger("mailgate.relay.worker")

_WARMUP = (
    "From: a@example.com\r\nTo: b@example.com\r\nSubject: =?utf-8?b?44CQ6YCa55+l44CR5rWL6K+V?=\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n1. warm up\r\n2. 行动项\r\n"
).encode()


# Headers of the linted message that the relay reads: the audit's Message-ID and what the report
# mail needs (its loop rules in reportmail.should_report, its Date and In-Reply-To).
RELAY_HEADERS = frozenset(
    {"message-id", "date", "auto-submitted", "precedence", "list-id", "content-type", REPORT_HEADER.lower()}
)


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the relay needs of a linted message; the parsed :class:`Message` stays in the worker."""

    subject: str
    sender: Address | None
    headers: tuple[tuple[str, str], ...]  # the RELAY_HEADERS present, in order

    @classmethod
    def of(cls, message: Message) -> MessageFacts:
        kept = tuple((k, v) for k, v in message.headers if k.lower() in RELAY_HEADERS)
        return cls(message.subject, message.sender, kept)

    def header(self, name: str) -> str | None:
        return first_header(self.headers, name)


@dataclass(frozen=True, slots=True)
class LintResult:
    """A lint as the relay uses it: the report without its parsed message (``report.message`` is
    None), the few facts of the message the relay acts on, and the report JSON for the audit row.

    A worker process sends this back instead of the whole :class:`Report` (less to pickle and
    unpickle per message, and the JSON is rendered in the worker, off the relay's event loop).
    """

    report: Report
    message: MessageFacts | None
    report_json: dict[str, Any]

    @classmethod
    def of(cls, report: Report) -> LintResult:
        facts = MessageFacts.of(report.message) if report.message is not None else None
        slim = Report(report.verdict, report.findings, report.error, None, report.elapsed_ms, report.crashed)
        return cls(slim, facts, audit_report_json(slim))

    def __reduce__(self) -> tuple[Any, ...]:
        # Plain tuples on the wire: unpickling slotted dataclasses field by field costs the relay's
        # event loop more than building them from their values.
        r, m = self.report, self.message
        facts = None
        if m is not None:
            sender = None if m.sender is None else tuple(getattr(m.sender, f.name) for f in fields(Address))
            facts = (m.subject, sender, m.headers)
        return _lint_result, (r.verdict, r.findings, r.error, r.elapsed_ms, r.crashed, facts, self.report_json)


def _lint_result(
    verdict: Any,
    findings: list[Finding],
    error: LintError | None,
    elapsed_ms: float,
    crashed: tuple[str, ...],
    facts: tuple[str, tuple[Any, ...] | None, tuple[tuple[str, str], ...]] | None,
    report_json: dict[str, Any],
) -> LintResult:
    message = None
    if facts is not None:
        subject, sender, headers = facts
        message = MessageFacts(subject, None if sender is None else Address(*sender), headers)
    return LintResult(Report(verdict, findings, error, None, elapsed_ms, crashed), message, report_json)


class Linter(Protocol):
    """``lint`` answers a :class:`Report` (in-process linters, tests) or a :class:`LintResult`
    (from a worker process); the relay makes the second of the first."""

    async def lint(
        self, raw: bytes, envelope_from: str | None, envelope_to: Sequence[str], *, version: int = 0
    ) -> Report | LintResult: ...
    async def format(self, raw: bytes, *, version: int = 0) -> bytes: ...
    def recycle(self) -> None: ...
    def close(self) -> None: ...


T = TypeVar("T")
LintFn = Callable[[bytes, "str | None", tuple[str, ...], int], "Report | LintResult"]


# -- inside a worker process ----------------------------------------------------------------------

_state: PolicyState | None = None


def _die_with(parent: int) -> None:
    """Exit when the relay process ends, even by SIGKILL (no orphaned worker keeps the NLP pipeline)."""
    try:
        fd = os.pidfd_open(parent)
    except (OSError, AttributeError):  # not Linux ≥ 5.3: the pool's own shutdown is all we have
        return

    def watch() -> None:
        select.select([fd], [], [])
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _init_worker(config_path: str | None, parent: int | None = None) -> None:
    from mailgate.state import PolicyState

    if parent is not None:
        _die_with(parent)
    global _state
    base = load_policy(Path(config_path) if config_path else None)
    _state = PolicyState(base)
    lint_bytes(_WARMUP, base)  # load the NLP pipeline now, not on the first real message


def _policy_at(version: int) -> Policy:
    assert _state is not None, "worker not initialised"
    return _state.at(version)


def _lint_in_worker(
    raw: bytes, envelope_from: str | None, envelope_to: tuple[str, ...], version: int
) -> LintResult:
    policy = _policy_at(version)
    return LintResult.of(lint_bytes(raw, policy, envelope_from=envelope_from, envelope_to=envelope_to))


def _format_in_worker(raw: bytes, version: int = 0) -> bytes:
    return format_bytes(raw, _policy_at(version)).data


def _ping() -> None:
    return None


# The wire between the relay and a worker: one socket pair per worker, each frame a 4-byte length
# and a pickle. Relay → worker: (function, args). Worker → relay: (True, result) or (False, exception).
_HEADER = struct.Struct("!I")


def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            return None
        got += k
    return bytes(buf)


def _recv_frame(sock: socket.socket) -> Any:
    """The next object from a blocking socket; EOFError when the other end is gone."""
    header = _recv_exactly(sock, _HEADER.size)
    if header is None:
        raise EOFError
    payload = _recv_exactly(sock, _HEADER.unpack(header)[0])
    if payload is None:
        raise EOFError
    return pickle.loads(payload)


def _take_frame(buffer: bytearray) -> bytes | None:
    """Remove the first whole frame from ``buffer`` and return its payload; None while incomplete."""
    if len(buffer) < _HEADER.size:
        return None
    end = _HEADER.size + _HEADER.unpack_from(buffer)[0]
    if len(buffer) < end:
        return None
    payload = bytes(buffer[_HEADER.size : end])
    del buffer[:end]
    return payload


def _next_frame(sock: socket.socket, buffer: bytearray) -> Any:
    """The next object from a blocking socket, reading as much as is there (one recv per request,
    usually); EOFError when the other end is gone."""
    while (payload := _take_frame(buffer)) is None:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError
        buffer += chunk
    return pickle.loads(payload)


def _worker_main(sock: socket.socket, config_path: str | None, parent: int) -> None:
    """A worker process: initialise once, then answer requests one at a time in the main thread
    (where the engine's SIGALRM time budget works) until the relay closes its end."""
    # Ctrl-C or a SIGTERM to the whole group stops the relay, which finishes the lints in progress
    # and then ends its workers; a relay that is killed outright takes them along (_die_with).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _init_worker(config_path, parent)
    buffer = bytearray()
    while True:
        try:
            fn, args = _next_frame(sock, buffer)
        except (EOFError, OSError):  # the relay closed its end, or is gone
            return
        try:
            answer: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:  # the relay sees it as the call's exception
            answer = (False, exc)
        try:
            frame = _frame(answer)
        except Exception as exc:  # an answer that does not pickle
            frame = _frame((False, RuntimeError(f"unpicklable answer: {type(exc).__name__}: {exc}")))
        try:
            sock.sendall(frame)
        except OSError:  # the relay is gone
            return


# -- in the relay ------------------------------------------------------------------------------------


class WorkerLost(Exception):
    """The worker process ended (killed, crashed, out of memory) before it answered."""


class _Connection(asyncio.Protocol):
    """The relay's end of one worker's socket, on the event loop: frames in, answers to the worker."""

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (payload := _take_frame(self.buffer)) is not None:
            self.worker.answered(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.lost()


class _Worker:
    """One worker process and the relay's end of its socket pair. It lints one message at a time;
    the relay may queue a second request behind the first (``PoolLinter.DEPTH``), so the worker
    starts on it without waiting for the relay's event loop to hand it over."""

    def __init__(self, pool: PoolLinter, number: int) -> None:
        self.pool = pool
        self.number = number
        ours, theirs = socket.socketpair()
        self.sock = ours
        ctx = multiprocessing.get_context("forkserver")  # never fork the relay's running loop and threads
        self.process = ctx.Process(
            target=_worker_main,
            args=(theirs, pool.config_path, os.getpid()),
            name=f"mailgate-lint-{number}",
            daemon=True,
        )
        self.process.start()
        theirs.close()  # the worker holds the only other end: its exit is our EOF
        self.conn: _Connection | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: collections.deque[asyncio.Future[Any]] = collections.deque()  # sent, in order
        self.load = 0  # requests given to this worker and not answered yet (some maybe not sent yet)
        self.ready = False  # it answered once: initialised
        self.starting = False  # a replacement warming up: no request is queued behind its warm-up
        self.dead = False
        self._reported = False

    @property
    def stuck(self) -> bool:
        """Working on a request its caller gave up on (a deadline): it may never answer."""
        return bool(self.pending) and self.pending[0].done()

    # -- before an event loop uses it (``warm()`` from the starting thread) ------------------------

    def call_blocking(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        assert self.conn is None, "the worker belongs to an event loop now"
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(_frame((fn, args)))
            ok, value = _recv_frame(self.sock)
        except (EOFError, OSError) as exc:
            raise WorkerLost(f"lint worker {self.process.pid} ended") from exc
        self.ready = True
        if not ok:
            raise value
        return value

    # -- on the event loop -----------------------------------------------------------------------

    async def attach(self) -> None:
        if self.conn is not None or self.dead:
            return
        loop = asyncio.get_running_loop()
        self.sock.setblocking(False)
        conn = _Connection(self)
        self.conn, self.loop = conn, loop  # set before the await: one attach per worker
        await loop.create_unix_connection(lambda: conn, sock=self.sock)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Send a request (its slot was taken with ``load``) and wait for the answer."""
        if self.dead or self.conn is None or self.conn.transport is None:
            self.load -= 1
            raise WorkerLost(f"lint worker {self.process.pid} ended")
        answer = asyncio.get_running_loop().create_future()
        self.pending.append(answer)
        self.conn.transport.write(_frame((fn, args)))
        ok, value = await answer
        if not ok:
            raise value
        return value

    def answered(self, payload: bytes) -> None:
        self.ready = True
        if not self.pending:  # cannot happen: one answer per request
            log.error("lint worker %s answered a request it was not given", self.process.pid)
            return
        answer = self.pending.popleft()
        self.load -= 1
        if not answer.done():  # else its caller gave up on it: the answer is dropped
            try:
                answer.set_result(pickle.loads(payload))
            except Exception as exc:  # an answer that does not unpickle here
                answer.set_exception(exc)
        self.pool.dispatch()

    def lost(self) -> None:
        """The process is gone (or being killed): what it had fails; the pool replaces it (once)."""
        self.dead = True
        pending, self.pending = self.pending, collections.deque()
        for answer in pending:
            if not answer.done():
                answer.set_exception(WorkerLost(f"lint worker {self.process.pid} ended"))
        if not self._reported:
            self._reported = True
            self.pool.worker_lost(self)

    def kill(self, wait: float = 0.0) -> None:
        """End the process and close our end (idempotent, from any thread). Not waited for by default:
        the next process start reaps it."""
        self.dead = True
        if self.process.is_alive():
            self.process.kill()
        if wait:
            self.process.join(wait)
        conn, loop = self.conn, self.loop
        if conn is not None and conn.transport is not None and loop is not None and not loop.is_closed():
            try:
                if _running_loop() is loop:
                    conn.transport.close()  # connection_lost: lost() fails what was pending
                else:
                    loop.call_soon_threadsafe(conn.transport.close)
            except RuntimeError:  # the loop closed meanwhile
                self.sock.close()
        else:
            self.sock.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class PoolLinter:
    """Lint in ``workers`` worker processes, each talking to the relay's event loop over its own
    socket pair (no executor threads in the relay: a request is one write, an answer one read).

    A request goes to the least loaded worker; up to ``DEPTH`` requests may be queued at one worker,
    so a worker under load never waits for the relay between two messages. A worker that dies
    (the OOM killer, a crash) fails the requests it had, which get ``451``, and is replaced.
    ``recycle()`` (called by the relay when a lint overran its deadline) kills and replaces the
    workers stuck on a request whose caller gave up (the request queued behind it fails too).
    Replacements load the policy and the NLP pipeline in the background; ``wait_ready()`` waits.
    """

    DEPTH = 2

    def __init__(self, config_path: str | None, workers: int, *, lint_fn: LintFn | None = None) -> None:
        self.config_path = config_path
        self.workers = workers
        self.lint_fn: LintFn = lint_fn or _lint_in_worker
        self.replaced = 0
        self._count = 0
        self._failed_starts = 0  # replacements in a row that died before they answered once
        self._all: list[_Worker] = [self._start() for _ in range(workers)]
        self._waiters: collections.deque[asyncio.Future[_Worker]] = collections.deque()
        self._warming: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._ready.set()
        self._closed = False
        self._attached: asyncio.Future[None] | None = None  # all workers moved onto the event loop

    def _start(self) -> _Worker:
        self._count += 1
        return _Worker(self, self._count)

    # -- from the starting thread --------------------------------------------------------------------

    def warm(self, timeout: float | None = None) -> None:
        """Wait until every worker has loaded the policy and the NLP pipeline (before the loop runs)."""
        for worker in list(self._all):
            if worker.conn is None and not worker.dead:
                worker.call_blocking(_ping, timeout=timeout)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Until the replacement workers started so far are warm."""
        return self._ready.wait(timeout)

    def close(self) -> None:
        self._closed = True
        for worker in self._all:
            worker.kill(wait=5.0)
        self._all = []

    # -- on the event loop ---------------------------------------------------------------------------

    async def lint(
        self, raw: bytes, envelope_from: str | None, envelope_to: Sequence[str], *, version: int = 0
    ) -> Report | LintResult:
        return await self._run(self.lint_fn, raw, envelope_from, tuple(envelope_to), version)

    async def format(self, raw: bytes, *, version: int = 0) -> bytes:
        return await self._run(_format_in_worker, raw, version)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        # Given up on (a deadline, a stop), the request stays with its worker: the worker finishes
        # it and its answer is dropped, or recycle() kills the worker if it does not.
        worker = await self._acquire()
        result: T = await worker.call(fn, *args)
        return result

    async def _acquire(self) -> _Worker:
        """The least loaded live worker with room, its slot taken; waits while all are full."""
        if self._closed:
            raise WorkerLost("the lint workers are closed")
        if self._attached is None:  # the first request: the workers move onto this event loop
            self._attached = asyncio.ensure_future(self._attach_all())
        await asyncio.shield(self._attached)
        worker = self._least_loaded()
        if worker is not None and not self._waiters:
            worker.load += 1
            return worker
        waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.dispatch()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a slot just as the wait was given up
                waiter.result().load -= 1
                self.dispatch()
            raise

    def _least_loaded(self) -> _Worker | None:
        best = None
        for worker in self._all:
            if worker.dead or worker.starting or worker.conn is None or worker.load >= self.DEPTH:
                continue
            if best is None or worker.load < best.load:
                best = worker
        return best

    async def _attach_all(self) -> None:
        for worker in list(self._all):
            await worker.attach()

    def dispatch(self) -> None:
        """Give free slots to the requests waiting for one, oldest first."""
        while self._waiters:
            if self._waiters[0].done():
                self._waiters.popleft()
                continue
            worker = self._least_loaded()
            if worker is None:
                return
            worker.load += 1
            self._waiters.popleft().set_result(worker)

    def recycle(self) -> None:
        """Kill and replace the workers stuck on a request whose caller gave up on it."""
        for worker in list(self._all):
            if worker.stuck:
                self._replace(worker, "overran its deadline")

    def worker_lost(self, worker: _Worker) -> None:
        if not self._closed and worker in self._all:
            self._replace(worker, "ended")

    def _replace(self, worker: _Worker, why: str) -> None:
        if worker not in self._all:
            return  # replaced already
        self._all.remove(worker)
        worker.kill()
        worker.lost()  # fails the requests it had now, not when its connection_lost comes
        self.replaced += 1
        # A worker that dies before it ever answered (a broken config, say) is not restarted in a
        # tight loop: each such replacement in a row waits twice as long, up to 30 s.
        self._failed_starts = 0 if worker.ready else self._failed_starts + 1
        delay = min(0.5 * 2 ** (self._failed_starts - 1), 30.0) if self._failed_starts else 0.0
        log.error("lint worker %s %s; starting another%s", worker.process.pid, why,
                  f" in {delay:.1f} s" if delay else "")  # fmt: skip
        self._ready.clear()
        task = asyncio.ensure_future(self._start_replacement(delay))
        self._warming.add(task)
        task.add_done_callback(self._warmed)

    async def _start_replacement(self, delay: float) -> None:
        """A new worker loads the policy and the NLP pipeline before it takes messages."""
        if delay:
            await asyncio.sleep(delay)
        if self._closed:
            return
        worker = self._start()
        worker.starting = True
        self._all.append(worker)
        await worker.attach()
        worker.load += 1
        try:
            await worker.call(_ping)
        except WorkerLost:
            return  # it died while starting: worker_lost() is starting another
        worker.starting = False
        self.dispatch()

    def _warmed(self, task: asyncio.Task[None]) -> None:
        self._warming.discard(task)
        if not self._warming:
            self._ready.set()


class ThreadLinter:
    """Lints in a thread with the policy in effect (``state``, once the relay binds it), else ``policy``."""

    def __init__(self, policy: Policy, state: PolicyState | None = None) -> None:
        self._policy = policy
        self.state = state

    @property
    def policy(self) -> Policy:
        return self.state.policy if self.state is not None else self._policy

    async def lint(
        self, raw: bytes, envelope_from: str | None, envelope_to: Sequence[str], *, version: int = 0
    ) -> Report:
        return await asyncio.to_thread(
            lint_bytes, raw, self.policy, envelope_from=envelope_from, envelope_to=tuple(envelope_to)
        )

    async def format(self, raw: bytes, *, version: int = 0) -> bytes:
        return (await asyncio.to_thread(format_bytes, raw, self.policy)).data

    def recycle(self) -> None:
        return None  # a thread cannot be killed; the engine's own time budget bounds it

    def close(self) -> None:
        return None
