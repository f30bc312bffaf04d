"""Linting off the event loop: a process pool sized to the cores, the policy loaded once per worker.

The relay talks to a :class:`Linter`. :class:`PoolLinter` is the production one (each worker
process loads the config once, warms the NLP pipeline, and runs ``lint_bytes`` in its main
thread, where the engine's hard time budget applies). :class:`ThreadLinter` runs in a thread of
the relay process with a given :class:`~mailgate.policy.Policy` value — for tests and for
``workers = 1`` debugging; it still never blocks the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import select
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mailgate.fmt import format_bytes
from mailgate.lint import lint_bytes
from mailgate.model import Report
from mailgate.policy import Policy, load_policy

if TYPE_CHECKING:
    from mailgate.state import PolicyState

log = logging.getLogger("mailgate.relay.worker")

_WARMUP = (
    "From: a@example.com\r\nTo: b@example.com\r\nSubject: =?utf-8?b?44CQ6YCa55+l44CR5rWL6K+V?=\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n1. warm up\r\n2. 行动项\r\n"
).encode()


class Linter(Protocol):
    async def lint(
        self, raw: bytes, envelope_from: str | None, envelope_to: Sequence[str], *, version: int = 0
    ) -> Report: ...
    async def format(self, raw: bytes, *, version: int = 0) -> bytes: ...
    def recycle(self) -> None: ...
    def close(self) -> None: ...


T = TypeVar("T")
LintFn = Callable[[bytes, "str | None", tuple[str, ...], int], Report]


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


def _lint_in_worker(raw: bytes, envelope_from: str | None, envelope_to: tuple[str, ...], version: int) -> Report:
    policy = _policy_at(version)
    return lint_bytes(raw, policy, envelope_from=envelope_from, envelope_to=envelope_to)


def _format_in_worker(raw: bytes, version: int = 0) -> bytes:
    return format_bytes(raw, _policy_at(version)).data


# -- in the relay ------------------------------------------------------------------------------------


class PoolLinter:
    """Lint in a pool of worker processes; a hung or dead pool is replaced, not waited for.

    ``recycle()`` (called by the relay when a lint overran its deadline) and a broken pool (a
    worker killed by the OOM killer, say) both start a fresh pool and kill the old one's processes.
    Messages in flight in the old pool fail and get ``451``; their clients retry.
    """

    def __init__(self, config_path: str | None, workers: int, *, lint_fn: LintFn | None = None) -> None:
        self.config_path = config_path
        self.workers = workers
        self.lint_fn: LintFn = lint_fn or _lint_in_worker
        self.replaced = 0
        self._warming: threading.Thread | None = None
        self._pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        # forkserver: never fork the relay's running event loop and threads.
        ctx = multiprocessing.get_context("forkserver")
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(self.config_path, os.getpid()),
        )

    def _replace(self, pool: concurrent.futures.ProcessPoolExecutor) -> None:
        if pool is not self._pool:
            return  # another failure already replaced it
        self._pool = self._new_pool()
        self.replaced += 1
        # start the new workers now (each loads the NLP pipeline) rather than on the next message
        self._warming = threading.Thread(target=self.warm, name="lint-pool-warm", daemon=True)
        self._warming.start()
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.kill()
        log.error("lint worker pool replaced (%d worker(s) killed)", len(processes))

    def recycle(self) -> None:
        self._replace(self._pool)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Until a replacement pool has started and warmed its workers."""
        if self._warming is not None:
            self._warming.join(timeout)

    def warm(self) -> None:
        """Start every worker now (each loads the policy and the NLP pipeline once)."""
        futures = [self._pool.submit(_format_in_worker, b"") for _ in range(self.workers)]
        concurrent.futures.wait(futures)

    async def lint(
        self, raw: bytes, envelope_from: str | None, envelope_to: Sequence[str], *, version: int = 0
    ) -> Report:
        return await self._run(self.lint_fn, raw, envelope_from, tuple(envelope_to), version)

    async def format(self, raw: bytes, *, version: int = 0) -> bytes:
        return await self._run(_format_in_worker, raw, version)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker; a broken pool (a worker died) is replaced, the call fails."""
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except concurrent.futures.BrokenExecutor:
            self._replace(pool)
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


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
