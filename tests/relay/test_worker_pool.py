"""The lint worker processes: a hung or dead one is replaced (the message gets 451, the next one is
linted normally); big messages, more requests than workers and requests given up on."""

from __future__ import annotations

import asyncio
import base64
import os
import smtplib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailgate.model import Report
from mailgate.relay.testing import CaptureSink
from mailgate.relay.worker import LintResult, PoolLinter
from tests.conftest import EXAMPLES
from tests.relay.conftest import PASS_EML, PASS_RCPTS, SENDER, Harness, example
from tests.relay.hang_worker import hang_or_die
from tests.relay.test_actions_paths import send


def demo_config(tmp_path: Path, extra: str = "") -> str:
    config = tmp_path / "mailgate.toml"
    config.write_text(
        (EXAMPLES / "mailgate.toml").read_text(encoding="utf-8").replace(
            'directory = "directory.csv"', f'directory = "{EXAMPLES / "directory.csv"}"'
        )
        + extra,
        encoding="utf-8",
    )
    return str(config)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[PoolLinter]:
    linter = PoolLinter(demo_config(tmp_path, "\n[lint.limits]\ntime_budget_s = 1.0\n"), 1, lint_fn=hang_or_die)
    linter.warm()
    yield linter
    linter.close()


@pytest.mark.parametrize("trouble", ["hang", "die"])
def test_a_stuck_or_dead_worker_is_replaced(
    start_relay: Callable[..., Harness], sink: CaptureSink, pool: PoolLinter, trouble: str
) -> None:
    h = start_relay(linter=pool, relay={"lint_timeout": 1.0})
    bad = example(PASS_EML).replace(b"Subject:", f"X-Test: {trouble}\nSubject:".encode(), 1)
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(h.port, bad, PASS_RCPTS)
    assert err.value.smtp_code == 451 and err.value.smtp_error.startswith(b"4.3.0")
    assert pool.replaced == 1
    pool.wait_ready(60)  # the replacement workers load the NLP pipeline (seconds; lint_timeout here is 1 s)
    assert send(h.port, example(PASS_EML), PASS_RCPTS) == {}  # the fresh pool lints normally
    assert len(sink.messages) == 1
    audits = h.audit()
    assert [a.smtp_code for a in reversed(audits)] == [451, 250]


def with_attachment(raw: bytes, size: int) -> bytes:
    """The message with a base64 attachment of ``size`` random bytes (many socket reads each way)."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    head = b"\n".join(line for line in head.split(b"\n") if not line.lower().startswith(b"content-"))
    parts = [
        head + b"\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=BB\n",
        b"--BB\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + body,
        b"--BB\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=a.bin\n"
        b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(os.urandom(size)),
        b"--BB--\n",
    ]
    return b"\n".join(parts).replace(b"\n", b"\r\n")


def test_big_messages_and_more_requests_than_workers(tmp_path: Path) -> None:
    linter = PoolLinter(demo_config(tmp_path), 2)
    small = example(PASS_EML).replace(b"\n", b"\r\n")
    big = with_attachment(example(PASS_EML), 600_000)
    assert len(big) > 800_000

    async def run() -> list[Report | LintResult]:
        jobs = [linter.lint(big if i % 2 else small, SENDER, PASS_RCPTS) for i in range(8)]
        return list(await asyncio.gather(*jobs))

    workers = list(linter._all)
    try:
        linter.warm()
        answers = asyncio.run(run())
    finally:
        linter.close()
    assert all(isinstance(a, LintResult) for a in answers)
    results = [a for a in answers if isinstance(a, LintResult)]
    assert [r.report.verdict for r in results] == ["pass"] * 8
    assert all(r.message is not None and r.message.subject.startswith("【通知】") for r in results)
    assert all(r.report.message is None for r in results)  # the parsed message stays in the worker
    assert linter.replaced == 0 and len(workers) == 2
    assert not any(w.process.is_alive() for w in workers)  # close() ended them


def test_a_request_given_up_on_does_not_cost_its_worker(tmp_path: Path) -> None:
    """The caller stops waiting (a deadline): the worker finishes that lint, drops the answer and
    takes the next request; only recycle() would replace it."""
    linter = PoolLinter(demo_config(tmp_path), 1)
    big = with_attachment(example(PASS_EML), 600_000)

    async def run() -> LintResult | Report:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.001):
                await linter.lint(big, SENDER, PASS_RCPTS)
        return await asyncio.wait_for(linter.lint(example(PASS_EML), SENDER, PASS_RCPTS), 60)

    try:
        linter.warm()
        answer = asyncio.run(run())
    finally:
        linter.close()
    assert isinstance(answer, LintResult) and answer.report.verdict == "pass"
    assert linter.replaced == 0
