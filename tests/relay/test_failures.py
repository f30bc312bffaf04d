"""The relay's guarantees when things go wrong: never 250 without delivery, no open relay, limits."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Callable, Sequence

import pytest

from mailgate.model import Report
from mailgate.relay.testing import CaptureSink
from tests.relay.conftest import PASS_EML, PASS_RCPTS, SENDER, Harness, example
from tests.relay.test_actions_paths import crlf, send


class CrashingLinter:
    """A linter whose engine raises (a poisoned message, a bug, a dead worker)."""

    async def lint(
        self, raw: bytes, envelope_from: str | None, envelope_to: Sequence[str], *, version: int = 0
    ) -> Report:
        raise RuntimeError("secret internal detail /srv/mailgate/checks/x.py")

    async def format(self, raw: bytes, *, version: int = 0) -> bytes:
        return raw

    def recycle(self) -> None:
        return None

    def close(self) -> None:
        return None


class CrashedCheckLinter(CrashingLinter):
    """The engine survived but a check raised: findings are incomplete."""

    async def lint(
        self, raw: bytes, envelope_from: str | None, envelope_to: Sequence[str], *, version: int = 0
    ) -> Report:
        return Report("pass", [], crashed=("subject-tag",))


@pytest.mark.parametrize("linter", [CrashingLinter(), CrashedCheckLinter()], ids=["raises", "check-crashed"])
def test_lint_crash_answers_451_without_detail(
    start_relay: Callable[..., Harness], sink: CaptureSink, linter: CrashingLinter
) -> None:
    h = start_relay(linter=linter)
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(h.port, example(PASS_EML), PASS_RCPTS)
    assert err.value.smtp_code == 451
    assert err.value.smtp_error.startswith(b"4.3.0")
    assert b"secret" not in err.value.smtp_error and b"Error" not in err.value.smtp_error
    assert sink.messages == []
    [audit] = h.audit()
    assert (audit.verdict, audit.action, audit.smtp_code) == ("crash", "tempfail", 451)


def test_upstream_down_answers_451(start_relay: Callable[..., Harness], dead_port: int) -> None:
    h = start_relay(upstream=dead_port)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        send(h.port, example(PASS_EML), PASS_RCPTS)
    for code, text in err.value.recipients.values():
        assert code == 451 and text.startswith(b"4.4.1")


def test_upstream_slow_answers_451(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    sink.behaviour.delay = 2.5
    h = start_relay(relay={"upstream_timeout": 0.5})
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(h.port, example(PASS_EML), PASS_RCPTS)
    assert err.value.smtp_code == 451 and err.value.smtp_error.startswith(b"4.4.2")
    [audit] = h.audit()
    assert audit.smtp_code == 451


def test_upstream_5xx_is_passed_back(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    sink.behaviour.data_reply = "554 5.7.1 Message refused by upstream content policy"
    h = start_relay()
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(h.port, example(PASS_EML), PASS_RCPTS)
    assert err.value.smtp_code == 554
    assert err.value.smtp_error == b"5.7.1 Message refused by upstream content policy"
    [audit] = h.audit()
    assert (audit.action, audit.smtp_code) == ("deliver", 554)


def test_upstream_4xx_is_passed_back(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    sink.behaviour.data_reply = "452 4.3.1 Insufficient system storage"
    h = start_relay()
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(h.port, example(PASS_EML), PASS_RCPTS)
    assert err.value.smtp_code == 452


def test_partial_recipient_refusal(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    sink.behaviour.refuse_rcpt = {PASS_RCPTS[1]: "550 5.1.1 No such user here"}
    h = start_relay()
    refused = send(h.port, example(PASS_EML), PASS_RCPTS)
    assert refused == {PASS_RCPTS[1]: (550, b"5.1.1 No such user here")}
    [got] = sink.messages
    assert got.rcpt_tos == PASS_RCPTS[:1]
    [audit] = h.audit()
    assert audit.recipients == PASS_RCPTS[:1]


def test_not_an_open_relay(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay(relay={"client_networks": ["10.0.0.0/8"]})
    with smtplib.SMTP("127.0.0.1", h.port) as c:
        c.ehlo()
        c.mail("x@ext.example.com")
        code, msg = c.rcpt("y@ext.example.org")
    assert (code, msg) == (554, b"5.7.1 Relay access denied")
    assert sink.messages == []


@pytest.mark.parametrize(
    "rcpt",
    ["y%ext.org@demo.example.cn", "@demo.example.cn:y@ext.org", '"y@ext.org"@demo.example.cn',
     "y@ext.org@demo.example.cn", "y@demo.example.cn.", "y@[1.2.3.4]", "y!ext.org@demo.example.cn"],
)  # fmt: skip
def test_relay_tricks_are_refused(start_relay: Callable[..., Harness], sink: CaptureSink, rcpt: str) -> None:
    h = start_relay()
    with smtplib.SMTP("127.0.0.1", h.port) as c:
        c.ehlo()
        c.mail(SENDER)
        code, _ = c.rcpt(rcpt)
    assert code in (501, 553)


def test_oversize_is_552(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay(relay={"max_message_bytes": 4000})
    with smtplib.SMTP("127.0.0.1", h.port) as c:
        c.ehlo()
        assert c.has_extn("size") and c.esmtp_features["size"] == "4000"
        code, msg = c.mail(SENDER, ["SIZE=999999999999"])
        assert code == 552, msg
        c.rset()
        c.mail(SENDER)
        c.rcpt(PASS_RCPTS[0])
        code, _ = c.data(crlf(example(PASS_EML)) + (b"x" * 70 + b"\r\n") * 100)
        assert code == 552
        assert c.noop()[0] == 250  # the session stays in sync
    assert sink.messages == []


def test_too_many_recipients_is_452(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay(relay={"max_recipients": 2})
    with smtplib.SMTP("127.0.0.1", h.port) as c:
        c.ehlo()
        c.mail(SENDER)
        assert c.rcpt(PASS_RCPTS[0])[0] == 250
        assert c.rcpt(PASS_RCPTS[1])[0] == 250
        code, msg = c.rcpt("third@demo.example.cn")
    assert (code, msg) == (452, b"4.5.3 Too many recipients")


def test_connections_per_client_are_capped(start_relay: Callable[..., Harness]) -> None:
    h = start_relay(relay={"max_connections_per_client": 1})
    with smtplib.SMTP("127.0.0.1", h.port) as first:
        assert first.noop()[0] == 250
        with pytest.raises(smtplib.SMTPConnectError) as err:
            smtplib.SMTP("127.0.0.1", h.port, timeout=5)
        assert err.value.smtp_code == 421
    with smtplib.SMTP("127.0.0.1", h.port) as again:  # the slot is released on disconnect
        assert again.noop()[0] == 250


def test_bogus_commands_disconnect(start_relay: Callable[..., Harness]) -> None:
    h = start_relay()
    with smtplib.SMTP("127.0.0.1", h.port) as c:
        codes = [c.docmd("XYZZY")[0] for _ in range(5)]
    assert codes[:4] == [500] * 4 and codes[4] == 502


def test_lf_dot_crlf_smuggling_stays_one_message(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    body = crlf(example(PASS_EML))
    smuggled = body + b"tail\n.\r\nMAIL FROM:<ceo@demo.example.cn>\r\nRCPT TO:<all@demo.example.cn>\r\nDATA\r\nx\r\n"
    with socket.create_connection(("127.0.0.1", h.port), timeout=10) as s:
        f = s.makefile("rwb")
        f.readline()
        for line in (b"EHLO t", f"MAIL FROM:<{SENDER}>".encode(), f"RCPT TO:<{PASS_RCPTS[0]}>".encode(), b"DATA"):
            f.write(line + b"\r\n")
            f.flush()
            while True:
                reply = f.readline()
                if reply[3:4] != b"-":
                    break
        f.write(smuggled + b".\r\n")
        f.flush()
        reply = f.readline()
    assert reply.startswith(b"250") or reply.startswith(b"550")
    assert len(sink.messages) <= 1
    assert all(m.rcpt_tos == PASS_RCPTS[:1] for m in sink.messages)
    [audit] = h.audit()
    assert audit.recipients == PASS_RCPTS[:1]


def test_cr_lf_in_address_is_refused(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    with smtplib.SMTP("127.0.0.1", h.port) as c:
        c.ehlo()
        c.mail(SENDER)
        code, _ = c.docmd("RCPT TO:<a@demo.example.cn\x00b@ext.org>")
    assert code in (501, 553)
