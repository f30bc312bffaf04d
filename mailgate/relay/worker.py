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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from mailgate.fmt import format_bytes
from mailgate.lint import lint_bytes
from mailgate.model import Report
from mailgate.policy import Policy, load_policy

log = logging.getLogger("mailgate.relay.worker")

_WARMUP = (
    "From: a@example.com\r\nTo: b@example.com\r\nSubject: =?utf-8?b?44CQ6YCa55+l44CR5rWL6K+V?=\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n1. warm up\r\n2. 行动项\r\n"
).encode()


class Linter(Protocol):
    async def lint(self, raw: bytes, envelope_from: str | None, envelope_to: Sequence[str]) -> Report: ...
    async def format(self, raw: bytes) -> bytes: ...
    def recycle(self) -> None: ...
    def close(self) -> None: ...


LintFn = Callable[[bytes, "str | None", tuple[str, ...]], Report]


# -- inside a worker process ----------------------------------------------------------------------

_policy: Policy | None = None


def _init_worker(config_path: str | None) -> None:
    global _policy
    _policy = load_policy(Path(config_path) if config_path else None)
    lint_bytes(_WARMUP, _policy)  # load the NLP pipeline now, not on the first real message


def _lint_in_worker(raw: bytes, envelope_from: str | None, envelope_to: tuple[str, ...]) -> Report:
    assert _policy is not None, "worker not initialised"
    report = lint_bytes(raw, _policy, envelope_from=envelope_from, envelope_to=envelope_to)
    return report


def _format_in_worker(raw: bytes) -> bytes:
    assert _policy is not None, "worker not initialised"
    return format_bytes(raw, _policy).data


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
        self._pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        # forkserver: never fork the relay's running event loop and threads.
        ctx = multiprocessing.get_context("forkserver")
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=ctx, initializer=_init_worker, initargs=(self.config_path,)
        )

    def _replace(self, pool: concurrent.futures.ProcessPoolExecutor) -> None:
        if pool is not self._pool:
            return  # another failure already replaced it
        self._pool = self._new_pool()
        self.replaced += 1
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.kill()
        log.error("lint worker pool replaced (%d worker(s) killed)", len(processes))

    def recycle(self) -> None:
        self._replace(self._pool)

    def warm(self) -> None:
        """Start every worker now (each loads the policy and the NLP pipeline once)."""
        futures = [self._pool.submit(_format_in_worker, b"") for _ in range(self.workers)]
        concurrent.futures.wait(futures)

    async def lint(self, raw: bytes, envelope_from: str | None, envelope_to: Sequence[str]) -> Report:
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            return await loop.run_in_executor(pool, self.lint_fn, raw, envelope_from, tuple(envelope_to))
        except concurrent.futures.BrokenExecutor:
            self._replace(pool)
            raise

    async def format(self, raw: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            return await loop.run_in_executor(pool, _format_in_worker, raw)
        except concurrent.futures.BrokenExecutor:
            self._replace(pool)
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class ThreadLinter:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    async def lint(self, raw: bytes, envelope_from: str | None, envelope_to: Sequence[str]) -> Report:
        return await asyncio.to_thread(
            lint_bytes, raw, self.policy, envelope_from=envelope_from, envelope_to=tuple(envelope_to)
        )

    async def format(self, raw: bytes) -> bytes:
        return (await asyncio.to_thread(format_bytes, raw, self.policy)).data

    def recycle(self) -> None:
        return None  # a thread cannot be killed; the engine's own time budget bounds it

    def close(self) -> None:
        return None
