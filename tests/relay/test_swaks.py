"""Real conversations driven by Debian's ``swaks``: the relay as a stock SMTP client sees it.

swaks prints the whole conversation: ``->`` lines it sent, ``<-`` expected and ``<**`` unexpected
lines from the server. Its data fix-up (without ``--no-data-fixup``) turns LF into CRLF, quotes
leading dots and ends the data with CRLF before the final dot, so a file that ends with a newline
arrives with one empty line more; with ``--no-data-fixup`` the bytes go out exactly as given.
"""

from __future__ import annotations

import shutil
import smtplib
import subprocess
from collections.abc import Callable
from email.header import Header
from pathlib import Path

import pytest

from mailgate.lint import lint_bytes
from mailgate.relay.testing import CaptureSink
from tests.conftest import EXAMPLES, ROOT
from tests.relay.conftest import FAIL_EML, PASS_EML, PASS_RCPTS, SENDER, Harness, example
from tests.relay.test_actions_paths import crlf

SWAKS = shutil.which("swaks")
needs_swaks = pytest.mark.skipif(SWAKS is None, reason="swaks is not installed (Debian/Ubuntu: apt-get install swaks)")

HELO = "client.demo.example.cn"

# Exit statuses (swaks(1), EXIT CODES).
OK, DATA_REFUSED = 0, 26


def swaks(port: int, *args: str, timeout: bool = True) -> tuple[int, str]:
    """Run swaks against the relay; its exit status and everything it printed."""
    assert SWAKS is not None
    proc = subprocess.run(
        [SWAKS, "--server", f"127.0.0.1:{port}", *(["--timeout", "30"] if timeout else []), *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=90,
        check=False,
    )
    return proc.returncode, (proc.stdout + proc.stderr).decode("utf-8", "replace")


def send_file(port: int, path: Path | str, rcpts: list[str], *args: str) -> tuple[int, str]:
    return swaks(port, "--helo", HELO, "--from", SENDER, "--to", ",".join(rcpts), "--data", f"@{path}", *args)


def swaks_wire(data: bytes) -> bytes:
    """What swaks' data fix-up makes of a file that ends with a newline (and has no leading dots)."""
    assert data.endswith(b"\n") and b"\n." not in data and b"\\n" not in data
    return crlf(data) + b"\r\n"


def server_lines(output: str) -> list[str]:
    """The server's reply lines as swaks shows them (``<-`` expected, ``<**`` unexpected)."""
    return [line[4:] for line in output.splitlines() if line.startswith(("<-  ", "<** "))]


def gbk_message() -> bytes:
    """The compliant action-items example, re-encoded: RFC 2047 GBK headers, an 8-bit GBK body."""
    _head, body = example(PASS_EML).decode("utf-8").split("\n\n", 1)

    def words(text: str) -> str:
        return Header(text, "gbk").encode()

    headers = [
        f"From: {words('李娜')} <lina@demo.example.cn>",
        f"To: {words('赵强')} <zhaoqiang@demo.example.cn>",
        f"Cc: {words('王芳')} <wangfang@demo.example.cn>",
        f"Subject: {words('【通知】本周六办公区电力检修安排通知')}",
        "Date: Wed, 18 Nov 2026 10:00:00 +0800",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=GBK",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + crlf(body.encode("gbk"))


# -- (a) compliant ---------------------------------------------------------------------------------


@needs_swaks
def test_compliant_message_is_delivered_as_sent(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    status, out = send_file(h.port, EXAMPLES / PASS_EML, PASS_RCPTS)
    assert status == OK, out
    assert any(line.startswith("250 2.0.0") for line in server_lines(out)), out
    [got] = sink.messages
    assert got.data == swaks_wire(example(PASS_EML))
    assert (got.mail_from, got.rcpt_tos) == (SENDER, PASS_RCPTS)
    [audit] = h.audit()
    assert (audit.verdict, audit.action, audit.smtp_code) == ("pass", "deliver", 250)


@needs_swaks
def test_data_without_fixup_arrives_byte_exact(
    start_relay: Callable[..., Harness], sink: CaptureSink, tmp_path: Path
) -> None:
    """``--no-data-fixup`` sends the file as it is (it must end with the terminating dot line)."""
    h = start_relay()
    wire = crlf(example(PASS_EML))
    path = tmp_path / "wire.eml"
    path.write_bytes(wire + b".")  # swaks adds the CRLF after the dot
    status, out = send_file(h.port, path, PASS_RCPTS, "--no-data-fixup")
    assert status == OK, out
    [got] = sink.messages
    assert got.data == wire


# -- (b) non-compliant -----------------------------------------------------------------------------


@needs_swaks
def test_non_compliant_message_is_refused_with_the_findings(
    start_relay: Callable[..., Harness], sink: CaptureSink
) -> None:
    h = start_relay()
    status, out = send_file(h.port, EXAMPLES / FAIL_EML, PASS_RCPTS)
    assert status == DATA_REFUSED, out
    reply = [line for line in server_lines(out) if line.startswith("550")]
    assert reply and all(line.startswith(("550-5.7.1 ", "550 5.7.1 ")) for line in reply), out
    assert reply[-1].startswith("550 5.7.1 Full report: http://127.0.0.1:8025/reports/")
    findings = [line for line in reply if line[10:].startswith("[")]
    expected = {f.check for f in lint_bytes(crlf(example(FAIL_EML)), h.policy).findings if f.severity != "info"}
    assert {line[11:].split("]", 1)[0] for line in findings} == expected
    action_items = next(line for line in findings if "[action-items]" in line)
    assert "fix:" in action_items
    assert sink.messages == []
    [audit] = h.audit()
    assert (audit.verdict, audit.action, audit.smtp_code) == ("fail", "reject", 550)
    assert reply[-1].endswith(audit.id)


@needs_swaks
def test_readme_command(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    """The command the README shows, as a user types it (only the port differs)."""
    h = start_relay()
    status, out = swaks(
        h.port,
        "--from", "lina@demo.example.cn",
        "--to", "zhaoqiang@demo.example.cn,wangfang@demo.example.cn",
        "--data", "@checks/examples/action-items/bad.eml",
        timeout=False,
    )  # fmt: skip
    assert status == DATA_REFUSED, out
    assert "<** 550-5.7.1 [action-items]" in out
    assert "<** 550 5.7.1 Full report: " in out
    assert sink.messages == []


# -- (c) protocol variants ------------------------------------------------------------------------


@needs_swaks
@pytest.mark.parametrize(
    ("args", "greeting"),
    [
        (["--protocol", "SMTP"], "-> HELO "),
        (["--protocol", "ESMTP"], "-> EHLO "),
        (["--protocol", "ESMTP", "--pipeline"], "-> EHLO "),
    ],
    ids=["smtp-helo", "esmtp", "esmtp-pipeline"],
)
def test_protocol_variants_deliver(
    start_relay: Callable[..., Harness], sink: CaptureSink, args: list[str], greeting: str
) -> None:
    h = start_relay()
    status, out = send_file(h.port, EXAMPLES / PASS_EML, PASS_RCPTS, *args)
    assert status == OK, out
    assert greeting + HELO in out
    [got] = sink.messages
    assert got.data == swaks_wire(example(PASS_EML)) and got.rcpt_tos == PASS_RCPTS


# -- (d) 8-bit GBK ---------------------------------------------------------------------------------


@needs_swaks
@pytest.mark.parametrize("protocol", ["ESMTP", "SMTP"])
def test_8bit_gbk_body_arrives_unchanged(
    start_relay: Callable[..., Harness], sink: CaptureSink, tmp_path: Path, protocol: str
) -> None:
    """No BODY= parameter (swaks has no option for one), over EHLO and over plain HELO."""
    h = start_relay()
    raw = gbk_message()
    assert lint_bytes(raw, h.policy).verdict == "pass"
    path = tmp_path / "gbk.eml"
    path.write_bytes(raw)
    status, out = send_file(h.port, path, PASS_RCPTS, "--protocol", protocol)
    assert status == OK, out
    [got] = sink.messages
    assert got.data == swaks_wire(raw)
    assert not any(o.upper().startswith("BODY=") for o in got.mail_options)


def test_8bit_gbk_body_with_body_8bitmime_arrives_unchanged(
    start_relay: Callable[..., Harness], sink: CaptureSink
) -> None:
    """The declared variant (``MAIL FROM:<…> BODY=8BITMIME``): swaks 20201014 cannot send the
    parameter, so smtplib does; the declaration is passed on to the upstream."""
    h = start_relay()
    raw = gbk_message()
    with smtplib.SMTP("127.0.0.1", h.port, timeout=30) as c:
        c.ehlo(HELO)
        assert c.has_extn("8bitmime")
        assert c.sendmail(SENDER, PASS_RCPTS, raw, mail_options=["BODY=8BITMIME"]) == {}
    [got] = sink.messages
    assert got.data == raw
    assert [o.upper() for o in got.mail_options] == ["BODY=8BITMIME"]


# -- (e) unfinished transactions ---------------------------------------------------------------------


@needs_swaks
@pytest.mark.parametrize(
    "stop",
    [
        ["--quit-after", "MAIL"],
        ["--quit-after", "RCPT"],
        ["--drop-after", "RCPT"],
        ["--drop-after", "DATA"],
    ],
    ids=["quit-after-mail", "quit-after-rcpt", "drop-after-rcpt", "drop-after-data"],
)
@pytest.mark.parametrize("upstream", [True, False], ids=["upstream", "outbox"])
def test_unfinished_transaction_leaves_nothing(
    start_relay: Callable[..., Harness], sink: CaptureSink, stop: list[str], upstream: bool
) -> None:
    h = start_relay(upstream=upstream)
    status, out = send_file(h.port, EXAMPLES / PASS_EML, PASS_RCPTS, *stop)
    assert status == OK, out
    assert "-> MAIL FROM:<lina@demo.example.cn>" in out
    if stop[1] != "MAIL":
        assert "-> RCPT TO:<wangfang@demo.example.cn>" in out
    if stop[1] == "DATA":
        assert "<-  354 " in out
    # A message that was going to arrive would be there well within this time.
    h.wait_for(lambda: bool(sink.messages or h.store.outbox()), timeout=1.0)
    assert sink.messages == []
    assert list(h.store.outbox()) == []
    assert list(h.audit()) == []  # never reached the end of DATA
    # The relay (and its upstream connection) is still good for the next transaction.
    status, out = send_file(h.port, EXAMPLES / PASS_EML, PASS_RCPTS)
    assert status == OK, out
    assert len(sink.messages) + len(h.store.outbox()) == 1


# -- (f) no upstream: the local outbox -----------------------------------------------------------------


@needs_swaks
def test_without_upstream_the_message_lands_in_the_outbox(
    start_relay: Callable[..., Harness], sink: CaptureSink
) -> None:
    h = start_relay(upstream=False)
    status, out = send_file(h.port, EXAMPLES / PASS_EML, PASS_RCPTS)
    assert status == OK, out
    assert any(line.startswith("250 2.0.0") for line in server_lines(out)), out
    [entry] = h.store.outbox()
    assert entry.kind == "mail" and entry.mail_from == SENDER and entry.rcpt_to == PASS_RCPTS
    assert entry.data == swaks_wire(example(PASS_EML))
    assert sink.messages == []
