"""Lint functions for worker-pool tests; importable by the pool's forkserver children."""

from __future__ import annotations

import os
import time

from mailgate.relay.worker import LintResult, _lint_in_worker


def hang_or_die(raw: bytes, envelope_from: str | None, envelope_to: tuple[str, ...], version: int) -> LintResult:
    """``X-Test: hang`` sleeps for an hour (a worker stuck in C code); ``X-Test: die`` kills the worker."""
    if b"X-Test: hang" in raw:
        time.sleep(3600)
    if b"X-Test: die" in raw:
        os._exit(9)
    return _lint_in_worker(raw, envelope_from, envelope_to, version)
