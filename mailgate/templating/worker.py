"""Render templates in a separate, limited process (HOSTILE 37: the sandbox does not bound work).

    pool = RenderWorker()
    subject, body = pool.render(subject_src, body_src, context)   # RenderError on failure

The worker is ``python -m mailgate.templating.worker``: one JSON request per line on stdin, one
JSON answer per line on stdout. It caps its own address space (``RLIMIT_AS``) at start, so a
template that builds a huge string gets a MemoryError, not the host's memory. The parent gives
each render a wall-clock deadline; past it the worker is killed (a nested 10,000 × 10,000 loop
never ends on its own terms) and the next render starts a fresh one. A worker that dies for any
reason is replaced the same way. Renders are serialised per worker (a lock); they take about a
millisecond, so one worker serves the gallery of an instance.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from mailgate.templating.sandbox import MAX_OUTPUT, RenderError

DEFAULT_TIMEOUT = 2.0
DEFAULT_MEMORY = 512 * 2**20
SUBJECT_BUDGET = 2_000


class RenderWorker:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT, memory: int = DEFAULT_MEMORY) -> None:
        self.timeout = timeout
        self.memory = memory
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.restarts = 0  # workers killed or found dead (for tests and logs)

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "HOME")}
        env["MAILGATE_RENDER_MEMORY"] = str(self.memory)
        return subprocess.Popen(
            [sys.executable, "-m", "mailgate.templating.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
            self.restarts += 1

    def close(self) -> None:
        with self._lock:
            self._kill()

    def render(self, subject: str, body: str, context: Mapping[str, Any]) -> tuple[str, str]:
        request = json.dumps({"subject": subject, "body": body, "context": context}, ensure_ascii=False)
        with self._lock:
            for attempt in (1, 2):  # a worker that died since the last render gets one replacement
                if self._proc is None or self._proc.poll() is not None:
                    if self._proc is not None:
                        self._kill()
                    self._proc = self._spawn()
                try:
                    line = self._exchange(self._proc, request.encode() + b"\n")
                except _Dead:
                    self._kill()
                    if attempt == 2:
                        raise RenderError("limit", "the template renderer stopped (memory limit?)") from None
                    continue
                except _Timeout:
                    self._kill()
                    raise RenderError("limit", f"rendering took longer than {self.timeout:g} s") from None
                answer = json.loads(line)
                if answer.get("ok"):
                    return str(answer["subject"]), str(answer["body"])
                raise RenderError(str(answer["code"]), str(answer["message"]))
        raise AssertionError("unreachable")

    def _exchange(self, proc: subprocess.Popen[bytes], data: bytes) -> bytes:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _Dead from None
        deadline = time.monotonic() + self.timeout
        fd = proc.stdout.fileno()
        chunks: list[bytes] = []
        limit = 8 * (MAX_OUTPUT + SUBJECT_BUDGET) + 4096  # JSON-escaped UTF-8, generously
        size = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise _Timeout
            chunk = os.read(fd, 65536)
            if not chunk:
                raise _Dead
            chunks.append(chunk)
            size += len(chunk)
            if chunk.endswith(b"\n"):
                return b"".join(chunks)
            if size > limit:
                raise _Dead


class _Dead(Exception):
    pass


class _Timeout(Exception):
    pass


def _limit_memory() -> None:
    try:
        import resource

        limit = int(os.environ.get("MAILGATE_RENDER_MEMORY", DEFAULT_MEMORY))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not on this platform: the deadline still holds
        pass


def serve() -> None:
    """The worker's loop: read a request line, answer a line, until stdin closes."""
    from mailgate.templating.sandbox import environment, render_text

    _limit_memory()
    sys.setrecursionlimit(600)
    env = environment()
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
            context = req["context"]
            subject = render_text(env, req["subject"], context, SUBJECT_BUDGET)
            body = render_text(env, req["body"], context, MAX_OUTPUT)
            answer: dict[str, Any] = {"ok": True, "subject": subject, "body": body}
        except RenderError as exc:
            answer = {"ok": False, "code": exc.code, "message": exc.message[:500]}
        except MemoryError:
            answer = {"ok": False, "code": "limit", "message": "out of memory"}
        except Exception as exc:  # never die on a bad request; the parent reports it
            answer = {"ok": False, "code": "error", "message": f"{type(exc).__name__}: {exc}"[:500]}
        out.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    serve()
