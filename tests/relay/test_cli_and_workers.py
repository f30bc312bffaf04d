"""`mailgate outbox` / `mailgate quarantine`, and the process-pool linter in a real conversation."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from pathlib import Path

import pytest

from mailgate.cli import main
from mailgate.relay.testing import CaptureSink
from mailgate.relay.worker import PoolLinter
from mailgate.store import QuarantineEntry, Store
from tests.conftest import EXAMPLES
from tests.relay.conftest import FAIL_EML, PASS_EML, PASS_RCPTS, SENDER, Harness, example
from tests.relay.test_actions_paths import crlf, send


def write_config(tmp_path: Path, url: str, *, upstream: int | None) -> tuple[Path, Store]:
    relay = f'upstream = "127.0.0.1:{upstream}"\nupstream_starttls = false\n' if upstream else ""
    cfg = tmp_path / "mailgate.toml"
    cfg.write_text(
        f'[organization]\ninternal_domains = ["demo.example.cn"]\ndirectory = "{EXAMPLES / "directory.csv"}"\n'
        f'[relay]\n{relay}[storage]\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return cfg, Store(url)


def hold(store: Store) -> QuarantineEntry:
    return store.add_quarantine(
        QuarantineEntry(mail_from=SENDER, rcpt_to=PASS_RCPTS, data=crlf(example(FAIL_EML)), verdict="fail",
                        findings=["action-items"])
    )  # fmt: skip


def test_quarantine_list_release_discard(
    tmp_path: Path, store_url: str, sink: CaptureSink, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, store = write_config(tmp_path, store_url, upstream=sink.port)
    first, second = hold(store), hold(store)
    assert main(["quarantine", "list", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert first.id in out and second.id in out and "action-items" in out and "电力检修" in out
    assert main(["quarantine", "show", first.id, "--config", str(cfg)]) == 0
    assert main(["quarantine", "release", first.id, "--config", str(cfg)]) == 0
    got, notice = sink.messages  # the message, then the sender's notice
    assert got.data == crlf(example(FAIL_EML)) and got.rcpt_tos == PASS_RCPTS
    assert notice.rcpt_tos == [SENDER] and b"X-Mailgate-Report: released" in notice.data
    assert f"{SENDER} notified" in capsys.readouterr().out
    assert main(["quarantine", "release", first.id, "--config", str(cfg)]) == 1  # only once
    assert main(["quarantine", "discard", second.id, "--config", str(cfg)]) == 0
    assert len(sink.messages) == 3 and b"X-Mailgate-Report: discarded" in sink.messages[2].data
    assert {e.id: e.status for e in store.quarantine(status=None)} == {first.id: "released", second.id: "discarded"}
    assert store.quarantine() == []
    store.close()


def test_release_with_upstream_down_keeps_it_held(tmp_path: Path, store_url: str, dead_port: int) -> None:
    cfg, store = write_config(tmp_path, store_url, upstream=dead_port)
    entry = hold(store)
    assert main(["quarantine", "release", entry.id, "--config", str(cfg)]) == 1
    [still] = store.quarantine()
    assert still.id == entry.id and still.status == "held"
    store.close()


def test_outbox_listing(tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, store = write_config(tmp_path, store_url, upstream=None)
    entry = store.add_outbox(SENDER, PASS_RCPTS, crlf(example(PASS_EML)))
    assert main(["outbox", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert entry.id in out and SENDER in out and "电力检修" in out
    assert main(["outbox", "--show", entry.id, "--config", str(cfg)]) == 0
    store.close()


def test_process_pool_linter_in_a_conversation(
    start_relay: Callable[..., Harness], sink: CaptureSink, tmp_path: Path, store_url: str
) -> None:
    cfg, store = write_config(tmp_path, store_url, upstream=None)
    store.close()
    linter = PoolLinter(str(cfg), workers=1)
    try:
        h = start_relay(linter=linter)
        assert send(h.port, example(PASS_EML), PASS_RCPTS) == {}
        with pytest.raises(smtplib.SMTPDataError) as err:
            send(h.port, example(FAIL_EML), PASS_RCPTS)
        assert err.value.smtp_code == 550
    finally:
        linter.close()
    assert len(sink.messages) == 1
