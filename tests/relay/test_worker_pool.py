"""A hung or dead lint worker is replaced: the message gets 451, the next one is linted normally."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailgate.relay.testing import CaptureSink
from mailgate.relay.worker import PoolLinter
from tests.conftest import EXAMPLES
from tests.relay.conftest import PASS_EML, PASS_RCPTS, Harness, example
from tests.relay.hang_worker import hang_or_die
from tests.relay.test_actions_paths import send


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[PoolLinter]:
    config = tmp_path / "mailgate.toml"
    config.write_text(
        (EXAMPLES / "mailgate.toml").read_text(encoding="utf-8").replace(
            'directory = "directory.csv"', f'directory = "{EXAMPLES / "directory.csv"}"'
        )
        + "\n[lint.limits]\ntime_budget_s = 1.0\n",
        encoding="utf-8",
    )
    linter = PoolLinter(str(config), 1, lint_fn=hang_or_die)
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
    audits = h.store.audit()
    assert [a.smtp_code for a in reversed(audits)] == [451, 250]
