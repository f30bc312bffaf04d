"""HOSTILE.md items 1–24 (the SMTP relay) over real sockets: ``test_hostile_NN_…`` for item NN.

Each test drives a relay from ``start_relay`` with a :class:`CaptureSink` as its upstream and
asserts the reply codes, what the upstream received (byte-exact where the item asks), and that the
session stays in sync. Raw sockets (:mod:`tests.relay.rawsmtp`) wherever smtplib would tidy up what
must be sent: bare LF or CR, pipelined packets, slow trickles.

Unless an item is about the policy, the relay runs with every verdict mapped to ``deliver``: what
reaches the upstream then depends only on the SMTP handling, not on what the linter thinks of the
hostile text (the linter still runs on every message).
"""

from __future__ import annotations

import base64
import logging
import os
import re
import smtplib
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from mailgate.model import Report
from mailgate.policy import Policy
from mailgate.relay import replies
from mailgate.relay.auth import hash_password
from mailgate.relay.testing import CaptureSink
from mailgate.relay.upstream import EIGHTBIT_TEXT, TIMEOUT_TEXT, UNAVAILABLE_TEXT, ConnectionPool
from mailgate.relay.worker import ThreadLinter
from tests.relay.conftest import PASS_RCPTS, SENDER, Harness, client_tls
from tests.relay.rawsmtp import RawSMTP, Reply
from tests.relay.test_failures import CrashingLinter

StartRelay = Callable[..., Harness]

DELIVER_ALL = {"pass": "deliver", "warn": "deliver", "fail": "deliver", "error": "deliver"}
RCPT = PASS_RCPTS[0]
HEAD = (
    b"From: lina@demo.example.cn\r\nTo: zhaoqiang@demo.example.cn\r\nSubject: hostile input\r\n"
    b"Date: Wed, 18 Nov 2026 10:00:00 +0800\r\n\r\n"
)
SMUGGLED = (
    b"MAIL FROM:<ceo@demo.example.cn>\r\nRCPT TO:<all@demo.example.cn>\r\nDATA\r\n"
    b"From: ceo@demo.example.cn\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n"
)


# -- helpers ------------------------------------------------------------------------------------


def upstream_view(wire: bytes) -> bytes:
    """What the upstream must receive for DATA bytes sent exactly as ``wire``.

    The message ends at the first line that is exactly ``.`` + CRLF (asserted to be the end of
    ``wire``: nothing else ends DATA); RFC 5321 §4.5.2 dot-stuffing is undone per CRLF line; then
    every bare CR or bare LF becomes CRLF, once (Postfix ``smtpd_forbid_bare_newline = normalize``).
    Written independently of the relay's own code.
    """
    content, pos = [], 0
    while True:
        end = wire.index(b"\r\n", pos) + 2
        line, pos = wire[pos:end], end
        if line == b".\r\n":
            break
        content.append(line[1:] if line.startswith(b".") else line)
    assert pos == len(wire), f"DATA would end early, before {wire[pos:][:60]!r}"
    return re.sub(rb"\r\n|\r|\n", b"\r\n", b"".join(content))


def upstream_connections(port: int) -> int:
    """Established TCP connections with local port ``port``: the sink's side of each open upstream session."""
    count = 0
    with open("/proc/net/tcp") as f:
        for row in f.read().splitlines()[1:]:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                count += 1
    return count


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def session(h: Harness) -> RawSMTP:
    """A raw connection, greeted and EHLO'd."""
    c = RawSMTP(h.port)
    assert c.greeting is not None and c.greeting.code == 220, c.greeting
    ehlo = c.ehlo()
    assert ehlo.code == 250, str(ehlo)
    return c


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class RecordingLinter(ThreadLinter):
    """The real linter, remembering the exact bytes it was given and what it made of them."""

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self.seen: list[bytes] = []
        self.reports: list[Report] = []

    async def lint(self, raw: bytes, envelope_from: str | None, envelope_to: Sequence[str], **kw: Any) -> Report:
        self.seen.append(raw)
        report = await super().lint(raw, envelope_from, envelope_to, **kw)
        self.reports.append(report)
        return report


# -- SMTP: framing and smuggling ----------------------------------------------------------------


def test_hostile_01_lf_dot_crlf_smuggling(start_relay: StartRelay, sink: CaptureSink) -> None:
    """HOSTILE 1: "`body\\n.\\r\\nMAIL FROM:<ceo@corp>…\\r\\n.\\r\\n` (LF.CRLF smuggling) → DATA ends only
    at `\\r\\n.\\r\\n`. Exactly one message, with the fake commands kept as body text (or the message
    rejected for its bare LF). Upstream receives one message, dot-stuffed."
    """
    h = start_relay(policy=DELIVER_ALL)
    wire = HEAD + b"body\n.\r\n" + SMUGGLED + b".\r\n"
    with session(h) as c:
        c.envelope(SENDER, [RCPT])
        assert c.data(wire).code == 250
        assert c.in_sync()
    [got] = sink.messages
    assert got.data == upstream_view(wire)
    # The sink ends DATA at CRLF.CRLF like any server: it holds the "." line and the fake commands
    # as content only because the relay dot-stuffed that line ("..") on the upstream wire.
    assert b"body\r\n.\r\nMAIL FROM:<ceo@demo.example.cn>\r\n" in got.data
    assert (got.mail_from, got.rcpt_tos) == (SENDER, [RCPT])
    assert len(h.audit()) == 1


@pytest.mark.parametrize("position", ["mid-body", "end-of-body"])
@pytest.mark.parametrize(
    "variant", [b"\r.\r", b"\n.\n", b"\r\n.\n", b"\r\n.\r"], ids=["CR.CR", "LF.LF", "CRLF.LF", "CRLF.CR"]
)
def test_hostile_02_bare_cr_lf_dot_variants(
    start_relay: StartRelay, sink: CaptureSink, variant: bytes, position: str
) -> None:
    """HOSTILE 2: "The same with `\\r.\\r`, `\\n.\\n`, `\\r\\n.\\n` and `\\r\\n.\\r` → the same outcome. None of
    them ends DATA. Test every variant, both mid-body and at the end of the body."
    """
    h = start_relay(policy=DELIVER_ALL)
    with session(h) as c:
        c.envelope(SENDER, [RCPT])
        assert c.cmd("DATA").code == 354
        if position == "mid-body":
            wire = HEAD + b"line one" + variant + SMUGGLED + b".\r\n"
            c.send(wire)
        else:
            first = HEAD + b"last line" + variant
            c.send(first)
            assert c.nothing_pending(0.3), "DATA ended at a bare CR/LF dot line"
            wire = first + b"\r\n.\r\n"
            c.send(b"\r\n.\r\n")
        assert c.reply().code == 250
        assert c.in_sync()
    [got] = sink.messages
    assert got.data == upstream_view(wire)
    assert (got.mail_from, got.rcpt_tos) == (SENDER, [RCPT])


@pytest.mark.parametrize("newline", [b"\n", b"\r"], ids=["bare-LF", "bare-CR"])
def test_hostile_03_bare_newline_inside_header(
    start_relay: StartRelay, sink: CaptureSink, base_policy: Policy, newline: bytes
) -> None:
    """HOSTILE 3: "`Subject: hi\\nBcc: all@corp\\r\\n` (bare LF inside a header line) → normalise once (or
    reject with 550 5.5.2), lint the normalised bytes and forward exactly those bytes. The linter
    must see the `Bcc` header that upstream will see."
    """
    linter = RecordingLinter(base_policy)
    h = start_relay(policy=DELIVER_ALL, linter=linter)
    wire = (
        b"From: lina@demo.example.cn\r\nTo: zhaoqiang@demo.example.cn\r\nSubject: hi" + newline
        + b"Bcc: all@demo.example.cn\r\nDate: Wed, 18 Nov 2026 10:00:00 +0800\r\n\r\nbody\r\n.\r\n"
    )  # fmt: skip
    with session(h) as c:
        c.envelope(SENDER, [RCPT])
        assert c.data(wire).code == 250
        assert c.in_sync()
    [got] = sink.messages
    [linted] = linter.seen
    assert got.data == linted == upstream_view(wire)
    assert b"\r\nSubject: hi\r\nBcc: all@demo.example.cn\r\n" in got.data
    [report] = linter.reports
    assert report.message is not None
    assert [a.email for a in report.message.bcc] == ["all@demo.example.cn"]  # the linter saw the real header
    assert got.rcpt_tos == [RCPT]  # a header is not an envelope recipient


def test_hostile_04_commands_ending_in_bare_lf(start_relay: StartRelay, sink: CaptureSink) -> None:
    """HOSTILE 4: "Commands ending in bare LF (`EHLO x\\nMAIL FROM:<a@corp>\\n`) → follow an explicit
    policy: normalise like Postfix's `smtpd_forbid_bare_newline=normalize`, or answer 500. Never split
    commands differently from the DATA reader."

    The relay's policy is Postfix's ``normalize``: a command line may end in a bare LF and is
    processed as if it ended in CRLF; a DATA line may end in a bare LF or CR and is normalised to
    CRLF before lint; end of DATA is CRLF.CRLF only. So a bare-LF ``.`` or command inside DATA is
    content, and a bare CR never ends a command (one line, one reply).
    """
    h = start_relay(policy=DELIVER_ALL)
    with RawSMTP(h.port) as c:
        assert c.cmd("EHLO x", eol=b"\n").code == 250
        assert c.cmd(f"MAIL FROM:<{SENDER}>", eol=b"\n").code == 250
        assert c.cmd(f"RCPT TO:<{RCPT}>", eol=b"\n").code == 250
        assert c.cmd("DATA", eol=b"\n").code == 354
        first = HEAD + b"line\n.\nQUIT\n"
        c.send(first)
        assert c.nothing_pending(0.3), "a bare-LF dot or QUIT ended DATA"
        c.send(b"\r\n.\r\n")
        assert c.reply().code == 250
        assert c.cmd(b"NOOP\rRSET").code == 500  # one unknown command, not NOOP then RSET
        assert c.cmd("NOOP", eol=b"\n").code == 250
        assert c.cmd("QUIT", eol=b"\n").code == 221
        assert c.closed_by_peer() and c.buf == b""
    [got] = sink.messages
    assert got.data == upstream_view(first + b"\r\n.\r\n") == HEAD + b"line\r\n.\r\nQUIT\r\n\r\n"
    assert (got.mail_from, got.rcpt_tos) == (SENDER, [RCPT])


def test_hostile_05_dot_lines_round_trip(start_relay: StartRelay, sink: CaptureSink) -> None:
    """HOSTILE 5: "Body lines starting with `.` or `..`, and a body ending without a final CRLF →
    dot-stuffing round-trips byte-exact through the proxy, and the message is not truncated."

    smtplib is the client here (it stuffs dots and adds the final CRLF, as real clients do).
    """
    h = start_relay(policy=DELIVER_ALL)
    message = HEAD + b".leading dot\r\n..two dots\r\n.\r\n..\r\n...\r\n. space\r\nmiddle\r\nlast line, no CRLF"
    with smtplib.SMTP("127.0.0.1", h.port, timeout=30) as c:
        assert c.sendmail(SENDER, [RCPT], message) == {}
        assert c.noop()[0] == 250
    [got] = sink.messages
    assert got.data == message + b"\r\n"


@pytest.mark.parametrize(
    "length", [1001, 1002, 100_000, 1_000_000, 16_000_000], ids=["1001", "1002", "100KB", "1MB", "16MB"]
)
def test_hostile_06_long_lines(start_relay: StartRelay, sink: CaptureSink, length: int) -> None:
    """HOSTILE 6: "A DATA line of 1,001 / 1,002 / 100 KB / 1 MB with no CRLF → memory stays bounded,
    all input is drained to `\\r\\n.\\r\\n`, and the answer is one clear 5xx (or a documented re-wrap).
    The session stays in sync."

    ``length`` counts the CRLF (RFC 5321's 1,000 octets + CRLF; aiosmtpd allows 1,001). Memory: while
    the relay drains a 16 MB line (longer than ``max_message_bytes``), its traced allocations stay
    under 4 MB; a bounded reader needs a few hundred KB (one socket read plus the reader's buffer).
    """
    h = start_relay(policy=DELIVER_ALL)
    wire = HEAD + b"x" * (length - 2) + b"\r\nafter the long line\r\n.\r\n"
    with session(h) as c:
        c.envelope(SENDER, [RCPT])
        tracemalloc.start()
        try:
            reply = c.data(wire)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        if length <= 1001:
            assert reply.code == 250
        else:
            assert reply.code == 500 and b"Line too long" in reply.text, str(reply)
        assert c.cmd("RSET").code == 250  # in sync: the next reply is RSET's
        c.envelope(SENDER, [RCPT])
        assert c.data(HEAD + b"ok\r\n.\r\n").code == 250
        assert c.in_sync()
    delivered = [upstream_view(wire)] if length <= 1001 else []
    assert [m.data for m in sink.messages] == [*delivered, HEAD + b"ok\r\n"]
    if length > 10_000_000:
        assert peak < 4_000_000, f"{peak:,} bytes allocated while the relay drained a {length:,}-octet line"


def test_hostile_07_size_limit(start_relay: StartRelay, sink: CaptureSink) -> None:
    """HOSTILE 7: "More than the size limit in DATA, and `MAIL FROM:<a> SIZE=999999999999` → 552 5.3.4
    at MAIL (for SIZE=), or after DATA with the excess bytes discarded. Set the limit explicitly."

    (The 552 texts are aiosmtpd's own, without the enhanced code 5.3.4; the relay does not advertise
    ENHANCEDSTATUSCODES.)
    """
    h = start_relay(policy=DELIVER_ALL, relay={"max_message_bytes": 50_000})
    with session(h) as c:
        assert c.ehlo_reply is not None and b"SIZE 50000" in c.ehlo_reply.lines
        assert c.cmd(f"MAIL FROM:<{SENDER}> SIZE=999999999999").code == 552
        assert c.cmd(f"MAIL FROM:<{SENDER}> SIZE=50001").code == 552
        c.envelope(SENDER, [RCPT], " SIZE=40000")
        assert c.data(HEAD + (b"y" * 998 + b"\r\n") * 2000 + b".\r\n").code == 552  # 2 MB, drained
        assert c.cmd("NOOP").code == 250
        c.envelope(SENDER, [RCPT])  # the 552 ended the transaction
        small = HEAD + (b"z" * 998 + b"\r\n") * 40
        assert c.data(small + b".\r\n").code == 250
        assert c.in_sync()
    assert [m.data for m in sink.messages] == [small]


EIGHT_BIT = (
    HEAD + "中文正文，GBK 编码。".encode("gbk") + b"\r\nNUL\x00bytes\x00here\r\n" + "UTF-8 正文".encode() + b"\r\n"
)


@pytest.mark.parametrize("upstream_8bitmime", [True, False], ids=["upstream-8BITMIME", "upstream-7bit-only"])
def test_hostile_08_eight_bit_and_nul_bytes(
    start_relay: StartRelay, sink: CaptureSink, upstream_8bitmime: bool
) -> None:
    """HOSTILE 8: "A GBK/8-bit body with no `BODY=8BITMIME`, and NUL bytes in the body → accept the bytes
    unchanged (`decode_data=False`), and forward 8-bit only if upstream advertises 8BITMIME; otherwise
    reject or hold. Never re-encode silently."

    Without 8BITMIME upstream the relay answers 554 5.6.3 and forwards nothing; 7-bit mail still flows.
    """
    sink.behaviour.no_8bitmime = not upstream_8bitmime
    h = start_relay(policy=DELIVER_ALL)
    plain = HEAD + b"plain ascii\r\n"
    with session(h) as c:
        c.envelope(SENDER, [RCPT])  # no BODY=8BITMIME
        eight = c.data(EIGHT_BIT + b".\r\n")
        c.envelope(SENDER, [RCPT])
        seven = c.data(plain + b".\r\n")
        assert c.in_sync()
    assert seven.code == 250
    if upstream_8bitmime:
        assert eight.code == 250
        assert [m.data for m in sink.messages] == [EIGHT_BIT, plain]
    else:
        assert (eight.code, eight.text.decode()) == (554, EIGHTBIT_TEXT)
        assert [m.data for m in sink.messages] == [plain]


ZHANG, WANG = "张三@例子.cn", "王芳@例子.cn"


@pytest.mark.parametrize(
    "case",
    ["mail-without-SMTPUTF8", "rcpt-without-SMTPUTF8", "SMTPUTF8-delivered", "upstream-without-SMTPUTF8",
     "mail-not-UTF-8", "rcpt-not-UTF-8"],
)  # fmt: skip
def test_hostile_09_internationalised_addresses(start_relay: StartRelay, sink: CaptureSink, case: str) -> None:
    """HOSTILE 9: "`MAIL FROM:<张三@例子.cn>` without the `SMTPUTF8` parameter, and SMTPUTF8 when upstream
    lacks it → 553/555 5.6.7, or hold. Never mojibake the address."

    Also: an address that is not valid UTF-8 (GBK bytes) is refused with a 5xx where it appears,
    even with SMTPUTF8 (RFC 6531 addresses are UTF-8), never a 4xx from a crash.
    """
    sink.behaviour.no_smtputf8 = case == "upstream-without-SMTPUTF8"
    h = start_relay(policy=DELIVER_ALL)
    gbk = "张三".encode("gbk") + b"@example.cn"
    with session(h) as c:
        if case == "mail-without-SMTPUTF8":
            r = c.cmd(f"MAIL FROM:<{ZHANG}>")
            assert (r.code, r.text[:5]) == (553, b"5.6.7"), str(r)
        elif case == "rcpt-without-SMTPUTF8":
            assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
            r = c.cmd(f"RCPT TO:<{WANG}>")
            assert (r.code, r.text[:5]) == (553, b"5.6.7"), str(r)
        elif case == "SMTPUTF8-delivered":
            c.envelope(ZHANG, [WANG], " SMTPUTF8")
            assert c.data(HEAD + b"hi\r\n.\r\n").code == 250
        elif case == "upstream-without-SMTPUTF8":
            assert c.cmd(f"MAIL FROM:<{ZHANG}> SMTPUTF8").code == 250
            r = c.cmd(f"RCPT TO:<{WANG}>")
            assert (r.code, r.text[:5]) == (553, b"5.6.7"), str(r)
        elif case == "mail-not-UTF-8":
            r = c.cmd(b"MAIL FROM:<" + gbk + b"> SMTPUTF8")
            assert r.code in (501, 553), f"invalid UTF-8 sender answered {r}"
        else:
            assert c.cmd(f"MAIL FROM:<{SENDER}> SMTPUTF8").code == 250
            r = c.cmd(b"RCPT TO:<" + gbk + b">")
            assert r.code in (501, 553), f"invalid UTF-8 recipient answered {r}"
        assert c.in_sync()
    if case == "SMTPUTF8-delivered":
        [got] = sink.messages
        assert (got.mail_from, got.rcpt_tos) == (ZHANG, [WANG])
        assert "SMTPUTF8" in got.mail_options
    else:
        assert sink.messages == []


@pytest.mark.parametrize(
    ("case", "line"),
    [
        ("MAIL-CR", f"MAIL FROM:<{SENDER}\rRCPT TO:<x@evil.example.org>>".encode()),
        ("MAIL-NUL", f"MAIL FROM:<{SENDER}\x00x@evil.example.org>".encode()),
        ("MAIL-LF", f"MAIL FROM:<{SENDER}>\nRCPT TO:<x@evil.example.org>".encode()),
        ("RCPT-CR", f"RCPT TO:<{RCPT}\rRCPT TO:<x@evil.example.org>>".encode()),
        ("RCPT-NUL", f"RCPT TO:<{RCPT}\x00x@evil.example.org>".encode()),
        ("RCPT-LF", f"RCPT TO:<{RCPT}>\nRCPT TO:<x@evil.example.org>".encode()),
    ],
    ids=["MAIL-CR", "MAIL-NUL", "MAIL-LF", "RCPT-CR", "RCPT-NUL", "RCPT-LF"],
)
def test_hostile_10_control_characters_in_envelope(
    start_relay: StartRelay, sink: CaptureSink, case: str, line: bytes
) -> None:
    """HOSTILE 10: "CR, LF or NUL inside `MAIL FROM`/`RCPT TO` arguments, or inside an envelope address
    that comes from the HTTP API (`a@x>\\r\\nRCPT TO:<b@evil>`) → 501/422 before anything reaches
    aiosmtplib."

    A bare CR or NUL stays inside the argument and the command is refused (501/553); an LF ends the
    line, so the second half is a pipelined command and the connection is refused with 503 (item 16).
    Either way the upstream never hears of it, and the transaction that follows carries only what
    was accepted. (The HTTP API half of this item is not the relay's.)
    """
    h = start_relay(policy=DELIVER_ALL)
    with session(h) as c:
        if case.startswith("RCPT"):
            assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        r = c.cmd(line)
        assert upstream_connections(sink.port) == 0  # nothing was sent upstream
        if case.endswith("LF"):
            assert r.code == 503 and c.closed_by_peer(), str(r)
        else:
            assert r.code in (501, 553), str(r)
            c.cmd("RSET")
            c.envelope(SENDER, [RCPT])
            assert c.data(HEAD + b"clean\r\n.\r\n").code == 250
            assert c.in_sync()
    if case.endswith("LF"):
        assert sink.messages == []
    else:
        [got] = sink.messages
        assert (got.mail_from, got.rcpt_tos) == (SENDER, [RCPT])


# -- SMTP: resources, DoS and state -------------------------------------------------------------


def test_hostile_11_recipient_flood(start_relay: StartRelay, sink: CaptureSink) -> None:
    """HOSTILE 11: "5,000 to 100,000 `RCPT TO` in one transaction, pipelined → 452 4.5.3 after N (Postfix
    `smtpd_recipient_limit=1000`), with memory bounded."

    2,500 RCPTs one after another against the default ``max_recipients`` (1,000); pipelined they
    would be refused outright (item 16).
    """
    h = start_relay(policy=DELIVER_ALL)
    rcpts = [f"user{i}@demo.example.cn" for i in range(2500)]
    with session(h) as c:
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        answers = [c.cmd(f"RCPT TO:<{r}>") for r in rcpts]
        assert c.data(HEAD + b"to many\r\n.\r\n").code == 250
        assert c.in_sync()
    assert [a.code for a in answers[:1000]] == [250] * 1000
    assert {(a.code, a.text) for a in answers[1000:]} == {(452, b"4.5.3 Too many recipients")}
    [got] = sink.messages
    assert got.rcpt_tos == rcpts[:1000]


@pytest.mark.parametrize("command", ["NOOP", "RSET", f"VRFY <{RCPT}>", "HELP"])
def test_hostile_12_junk_command_loops(start_relay: StartRelay, command: str) -> None:
    """HOSTILE 12: "NOOP/RSET/MAIL loops and thousands of transactions per connection →
    `command_call_limit` (off by default in aiosmtpd), then `421 4.7.0`."

    ``junk_command_limit`` (default 100, Postfix's ``smtpd_junk_command_limit``) per command per
    session, then 421 4.7.0 and the connection closes. Complete transactions are not capped per
    session (only by aiosmtpd's ``*`` budget of 100,000 commands): each opens and closes its own
    upstream session; abandoned ones are covered by the next test.
    """
    h = start_relay()
    with session(h) as c:
        answers = [c.cmd(command) for _ in range(100)]
        assert all(200 <= a.code < 300 for a in answers), {str(a) for a in answers}
        last = c.cmd(command)
        assert (last.code, last.text[:5]) == (421, b"4.7.0"), str(last)
        assert c.closed_by_peer(10)


@pytest.mark.parametrize("how", ["RSET", "EHLO", "line-too-long", "too-much-data"])
def test_hostile_12_abandoned_transactions_release_the_upstream(
    start_relay: StartRelay, sink: CaptureSink, how: str
) -> None:
    """HOSTILE 12 (MAIL loops, many transactions per connection): a transaction the client abandons
    after its first accepted RCPT (the relay has by then begun the upstream transaction) must end
    that upstream transaction too: back to the connection pool after RSET, or closed. Twenty in a
    row on one connection leave no more upstream sessions open than the pool may keep.
    """
    h = start_relay(policy=DELIVER_ALL, relay={"max_message_bytes": 20_000})
    keep = ConnectionPool().size
    with session(h) as c:
        for _ in range(20):
            c.envelope(SENDER, [RCPT])
            if how == "RSET":
                assert c.cmd("RSET").code == 250
            elif how == "EHLO":
                assert c.cmd("EHLO again.test").code == 250
            elif how == "line-too-long":
                assert c.data(HEAD + b"x" * 2000 + b"\r\n.\r\n").code == 500
            else:
                assert c.data(HEAD + (b"y" * 498 + b"\r\n") * 60 + b".\r\n").code == 552
        assert h.wait_for(lambda: upstream_connections(sink.port) <= keep, timeout=3), (
            f"{upstream_connections(sink.port)} upstream sessions open after 20 transactions ended by {how}"
        )
        c.envelope(SENDER, [RCPT])
        assert c.data(HEAD + b"ok\r\n.\r\n").code == 250
        assert c.in_sync()
    assert [m.data for m in sink.messages] == [HEAD + b"ok\r\n"]


def test_hostile_13_connection_floods(start_relay: StartRelay) -> None:
    """HOSTILE 13: "300 to 10,000 idle connections from one IP or many → caps per IP and in total
    (Postfix `smtpd_client_connection_count_limit` = 50), then 421, and the file descriptors last."

    Defaults: 50 per client address, 100 in total. 300 from 127.0.0.1, 50 from 127.0.0.2, one from
    127.0.0.3; then everything is closed, the descriptors come back, and new clients are served.
    """
    h = start_relay()
    baseline = open_fds()
    held: list[RawSMTP] = []

    def flood(source: str, n: int) -> list[int]:
        codes = []
        for _ in range(n):
            c = RawSMTP(h.port, source=source)
            assert c.greeting is not None
            codes.append(c.greeting.code)
            if c.greeting.code == 220:
                held.append(c)
            else:
                assert c.greeting.text.startswith(b"4.7.0") and c.closed_by_peer(10)
                c.close()
        return codes

    try:
        assert flood("127.0.0.1", 300) == [220] * 50 + [421] * 250  # per client
        assert flood("127.0.0.2", 50) == [220] * 50
        assert flood("127.0.0.3", 1) == [421]  # in total
        assert all(c.cmd("NOOP").code == 250 for c in held)  # the admitted ones are all served
    finally:
        for c in held:
            c.close()
    assert h.wait_for(lambda: open_fds() <= baseline, timeout=10), f"{open_fds() - baseline} descriptors left"
    again = [RawSMTP(h.port) for _ in range(50)]
    try:
        assert [c.greeting.code if c.greeting else 0 for c in again] == [220] * 50
        assert all(c.in_sync() for c in again)
    finally:
        for c in again:
            c.close()


def test_hostile_14_slowloris_before_data(start_relay: StartRelay) -> None:
    """HOSTILE 14: "Slowloris before DATA: one byte every 250 s → an idle timeout per read plus an
    overall session deadline (aiosmtpd and Postfix use 300 s per command)."

    ``command_timeout`` (1 s here) runs from the last complete command, and bytes that do not finish
    a command do not reset it: one byte every 0.25 s is cut about 1 s after the greeting. A client
    that completes each command in time keeps its session. (There is no overall session deadline:
    a client finishing a command just inside each timeout is bounded only by the per-command call
    limits of item 12.)
    """
    h = start_relay(relay={"command_timeout": 1})
    with RawSMTP(h.port) as c:
        cut = c.trickle(f"MAIL FROM:<{SENDER}>\r\n".encode(), chunk=1, interval=0.25)  # ~9 s if not cut
        assert cut is not None and 0.7 <= cut < 5, cut
    with session(h) as c:
        for _ in range(2):
            assert not c.closed_by_peer(0.6)  # 1.2 s in all: longer than the timeout
            assert c.cmd("NOOP").code == 250
        assert c.in_sync()


def test_hostile_15_slowloris_inside_data(start_relay: StartRelay, sink: CaptureSink) -> None:
    """HOSTILE 15: "Slowloris inside DATA (one line per second for an hour), or a legitimate 30 MB
    upload over a slow link → an idle timeout per read plus a DATA deadline sized as limit ÷ minimum
    rate. A cut-off session forwards nothing and answers nothing, or 421."

    data_idle_timeout 1 s, DATA deadline max(data_timeout 2 s, limit / min_data_rate ≈ 0): a line
    every 0.3 s is never idle but is cut at the 2 s deadline; a client that goes silent is told
    421 4.4.2 after 1 s. With a deadline sized by the rate (100,000 B at 25,000 B/s = 4 s), a slow
    but steady upload outlives data_timeout and is delivered.
    """
    h = start_relay(
        policy=DELIVER_ALL, relay={"data_idle_timeout": 1, "data_timeout": 2, "min_data_rate": 1_000_000_000}
    )
    with session(h) as c:  # trickle: cut at the deadline
        c.envelope(SENDER, [RCPT])
        assert c.cmd("DATA").code == 354
        c.send(HEAD)
        cut = c.trickle(b"line 0000\r\n" * 40, chunk=11, interval=0.3)  # 12 s if not cut
        assert cut is not None and 1.5 <= cut < 6, cut
        assert c.buf == b"" or c.buf.startswith(b"421 "), c.buf
    with session(h) as c:  # silence: cut at the idle timeout, with 421 4.4.2
        c.envelope(SENDER, [RCPT])
        assert c.cmd("DATA").code == 354
        c.send(HEAD + b"then nothing\r\n")
        r = c.reply()
        assert (r.code, r.text[:5]) == (421, b"4.4.2"), str(r)
        assert c.closed_by_peer(5)
    rated = start_relay(
        policy=DELIVER_ALL,
        relay={"data_idle_timeout": 1, "data_timeout": 1, "max_message_bytes": 100_000, "min_data_rate": 25_000},
    )
    with session(rated) as c:  # slow but steady, within limit ÷ rate: delivered
        c.envelope(SENDER, [RCPT])
        assert c.cmd("DATA").code == 354
        c.send(HEAD)
        body = b"line 0000\r\n" * 6
        started = time.monotonic()
        assert c.trickle(body, chunk=11, interval=0.3) is None
        assert time.monotonic() - started > 1  # longer than data_timeout
        c.send(b".\r\n")
        assert c.reply().code == 250
        assert c.in_sync()
    assert [m.data for m in sink.messages] == [HEAD + body]  # nothing from the cut sessions


PIPELINED = f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\nDATA\r\n".encode() + HEAD + b"pipelined\r\n.\r\nQUIT\r\n"


@pytest.mark.parametrize("when", ["before-greeting", "after-EHLO", "DATA-and-body"])
def test_hostile_16_pipelining_before_replies(start_relay: StartRelay, sink: CaptureSink, when: str) -> None:
    """HOSTILE 16: "A whole transaction (plus QUIT) in one packet before the 220 greeting or before the
    354 → no desync: reject with `503 5.5.0 improper pipelining` (Postfix
    `smtpd_forbid_unauth_pipelining=yes`), or process strictly in order. aiosmtpd does not advertise
    PIPELINING."
    """
    h = start_relay(policy=DELIVER_ALL)
    if when == "before-greeting":
        c = RawSMTP(h.port, greet=False)
        c.send(b"EHLO hostile.test\r\n" + PIPELINED)
        expected = [220, 503]
    elif when == "after-EHLO":
        c = session(h)
        c.send(PIPELINED)
        expected = [503]
    else:
        c = session(h)
        c.envelope(SENDER, [RCPT])
        c.send(b"DATA\r\n" + HEAD + b"body before 354\r\n.\r\nQUIT\r\n")
        expected = [503]
    with c:
        answers = c.replies()  # everything until the relay hangs up
    assert [a.code for a in answers] == expected, [str(a) for a in answers]
    assert answers[-1].text.startswith(b"5.5.0")
    assert sink.messages == [] and h.audit() == []
    with session(h) as c:  # a client that waits for each reply is served
        c.envelope(SENDER, [RCPT])
        assert c.data(HEAD + b"in order\r\n.\r\n").code == 250
        assert c.in_sync()
    assert [m.data for m in sink.messages] == [HEAD + b"in order\r\n"]


def test_hostile_17_starttls_plaintext_injection(
    start_relay: StartRelay, sink: CaptureSink, cert: tuple[str, str]
) -> None:
    """HOSTILE 17: "`STARTTLS\\r\\nMAIL FROM:<x>\\r\\n` in one packet → plaintext buffered before the
    handshake is thrown away (CVE-2024-34083, fixed in aiosmtpd 1.4.6 …)."

    STARTTLS itself is not subject to the pipelining check, so the relay answers 220 and starts TLS;
    the buffered MAIL is discarded (the first RCPT after the handshake is told 503: no MAIL). A 503
    pipelining refusal would be as good; either way the MAIL is never processed in plaintext.
    """
    h = start_relay(policy=DELIVER_ALL, relay={"tls_cert": cert[0], "tls_key": cert[1]})
    with session(h) as c:
        c.send(f"STARTTLS\r\nMAIL FROM:<{SENDER}>\r\n")
        r = c.reply()
        if r.code == 503:
            assert c.closed_by_peer()
        else:
            assert r.code == 220, str(r)
            c.starttls(client_tls())
            assert c.cmd("EHLO hostile.test").code == 250  # the first reply after the handshake
            assert c.cmd(f"RCPT TO:<{RCPT}>").code == 503  # need MAIL: the plaintext one is gone
            c.envelope(SENDER, [RCPT])
            assert c.data(HEAD + b"over TLS\r\n.\r\n").code == 250
            assert c.in_sync()
    assert [m.data for m in sink.messages] in ([], [HEAD + b"over TLS\r\n"])


PASSWORD, WRONG = "c0rrect-Horse", ["guess-1-xyz", "guess-2-xyz", "guess-3-xyz"]
LOGIN = "lina@demo.example.cn"


def test_hostile_18_auth_plaintext_and_brute_force(
    start_relay: StartRelay, sink: CaptureSink, cert: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """HOSTILE 18: "AUTH over plaintext, and AUTH brute force → `auth_require_tls` (default True), then
    535 with a growing delay and a lockout. Credentials never appear in logs."

    auth_fail_delay 0.05 s × failures, auth_max_failures 3: after three failures even the right
    password gets 454 4.7.0, on this connection and the next. Logs at DEBUG (the relay's and
    aiosmtpd's ``mail.log``) never contain a password or its base64.
    """
    users = {LOGIN: hash_password(PASSWORD, iterations=1000)}
    h = start_relay(
        relay={"tls_cert": cert[0], "tls_key": cert[1], "users": users, "client_networks": [],
               "auth_fail_delay": 0.05, "auth_max_failures": 3},
    )  # fmt: skip
    caplog.set_level(logging.DEBUG, logger="mailgate")
    caplog.set_level(logging.DEBUG, logger="mail.log")  # after the relay set it to WARNING

    def plain(password: str) -> str:
        return "AUTH PLAIN " + b64(f"\0{LOGIN}\0{password}")

    def tls_session() -> RawSMTP:
        c = session(h)
        assert c.cmd("STARTTLS").code == 220
        c.starttls(client_tls())
        assert c.cmd("EHLO hostile.test").code == 250
        return c

    with session(h) as c:
        r = c.cmd(plain(PASSWORD))
        assert (r.code, r.text[:6]) == (538, b"5.7.11"), str(r)
    with tls_session() as c:
        assert c.cmd(plain(PASSWORD)).code == 235  # the right password works (and clears the count)
    with tls_session() as c:
        took = []
        for i, wrong in enumerate(WRONG):
            started = time.monotonic()
            if i == 1:  # AUTH LOGIN: user and password in separate base64 lines
                assert c.cmd("AUTH LOGIN").code == 334
                assert c.cmd(b64(LOGIN)).code == 334
                r = c.cmd(b64(wrong))
            else:
                r = c.cmd(plain(wrong))
            took.append(time.monotonic() - started)
            assert r.code == 535, str(r)
        assert all(t >= 0.045 * (i + 1) for i, t in enumerate(took)), took  # 0.05, 0.10, 0.15 s
        r = c.cmd(plain(PASSWORD))
        assert (r.code, r.text[:5]) == (454, b"4.7.0"), str(r)
    with tls_session() as c:  # locked out per client address, not per connection
        assert c.cmd(plain(PASSWORD)).code == 454
        assert c.in_sync()
    secrets = [PASSWORD, *WRONG]
    secrets += [b64(s) for s in secrets] + [b64(f"\0{LOGIN}\0{s}") for s in secrets]
    text = caplog.text
    assert [s for s in secrets if s in text] == []
    assert any(r.name == "mail.log" and r.levelno == logging.DEBUG for r in caplog.records)  # not vacuous
    assert any("AUTH" in r.getMessage() and r.name.startswith("mailgate") for r in caplog.records)


def test_hostile_19_bogus_commands(start_relay: StartRelay) -> None:
    """HOSTILE 19: "Six unknown verbs → `502 5.5.1` and disconnect (aiosmtpd BOGUS_LIMIT = 5)."

    (The fifth is answered 502 and the connection closes, so there is no sixth.)
    """
    h = start_relay()
    with session(h) as c:
        answers = [c.cmd(f"XYZZY{i}") for i in range(5)]
        assert [a.code for a in answers] == [500] * 4 + [502]
        assert answers[-1].text.startswith(b"5.5.1")
        assert c.closed_by_peer(10)


def test_hostile_20_handler_crash(start_relay: StartRelay, sink: CaptureSink, caplog: pytest.LogCaptureFixture) -> None:
    """HOSTILE 20: "Make the lint or handler code raise (for example with a poisoned message) →
    `451 4.3.0` and a log entry. The default `handle_exception` answers `500 Error: (ExcType) msg`,
    which leaks internals and turns our own bug into a permanent bounce."

    The linter raises (tests/relay/test_failures.py's ``CrashingLinter``; that file also covers a
    crashed check).
    """
    h = start_relay(linter=CrashingLinter())
    with session(h) as c:
        c.envelope(SENDER, [RCPT])
        r = c.data(HEAD + b"poison\r\n.\r\n")
        assert str(r) == replies.TEMPFAIL_LINT
        assert c.in_sync()
    assert sink.messages == []
    assert any(rec.levelno >= logging.ERROR and rec.name.startswith("mailgate") for rec in caplog.records)


@pytest.mark.parametrize(
    "case", ["down", "421-at-DATA", "451-at-DATA", "slow", "450-at-RCPT", "one-RCPT-refused", "all-RCPT-refused"]
)
def test_hostile_21_upstream_trouble_is_never_250(
    start_relay: StartRelay, sink: CaptureSink, dead_port: int, case: str
) -> None:
    """HOSTILE 21: "Upstream down, answering 421/4xx, slower than the client's timeout, or accepting
    only some recipients → never 250 unless upstream said 250 for every recipient we accept. Internal
    detail stays hidden."

    (tests/relay/test_failures.py has the smtplib versions of most of these.)
    """
    b = sink.behaviour
    relay: dict[str, object] = {}
    if case == "421-at-DATA":
        b.data_reply = "421 4.3.2 System shutting down"
    elif case == "451-at-DATA":
        b.data_reply = "451 4.3.0 Queue file write error"
    elif case == "slow":
        b.delay, relay["upstream_timeout"] = 1.5, 0.5
    elif case == "450-at-RCPT":
        b.refuse_rcpt = dict.fromkeys(PASS_RCPTS, "450 4.2.1 Mailbox busy")
    elif case == "one-RCPT-refused":
        b.refuse_rcpt = {PASS_RCPTS[1]: "550 5.1.1 No such user"}
    elif case == "all-RCPT-refused":
        b.refuse_rcpt = dict.fromkeys(PASS_RCPTS, "550 5.1.1 No such user")
    h = start_relay(policy=DELIVER_ALL, relay=relay, upstream=dead_port if case == "down" else True)
    with session(h) as c:
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        rcpt = {r: c.cmd(f"RCPT TO:<{r}>") for r in PASS_RCPTS}
        accepted = [r for r, a in rcpt.items() if a.code == 250]
        final = c.data(HEAD + b"hi\r\n.\r\n") if accepted else c.cmd("DATA")
        assert c.in_sync()
    answers: list[Reply] = [*rcpt.values(), final]
    assert all(b"Errno" not in a.text and b"127.0.0.1" not in a.text and a.text.isascii() for a in answers)
    expected_final = {
        "down": 503, "421-at-DATA": 421, "451-at-DATA": 451, "slow": 451, "450-at-RCPT": 503,
        "one-RCPT-refused": 250, "all-RCPT-refused": 503,
    }[case]  # fmt: skip
    assert final.code == expected_final, str(final)
    if case == "down":
        assert {a.text.decode() for a in rcpt.values()} == {UNAVAILABLE_TEXT}
    if case == "slow":
        assert final.text.decode() == TIMEOUT_TEXT
    if final.code == 250:  # only when upstream took it for every recipient we accepted
        [got] = sink.messages
        assert got.rcpt_tos == accepted == PASS_RCPTS[:1]
        assert rcpt[PASS_RCPTS[1]].code == 550
    elif case != "slow":  # a slow upstream may still deliver after our 451 (a duplicate, never a loss)
        assert sink.messages == []


# -- relay policy -------------------------------------------------------------------------------


def test_hostile_22_open_relay(start_relay: StartRelay, sink: CaptureSink, caplog: pytest.LogCaptureFixture) -> None:
    """HOSTILE 22: "Open relay: an untrusted IP with no AUTH sends `MAIL FROM:<x@ext.com> RCPT
    TO:<y@ext.org>` → `554 5.7.1 Relay access denied` (Postfix default: permit_mynetworks,
    permit_sasl_authenticated, defer_unauth_destination; `mynetworks_style=host`)."

    client_networks = [] and no AUTH: every recipient, outside or inside, is refused.
    """
    h = start_relay(policy=DELIVER_ALL, relay={"client_networks": []})
    with session(h) as c:
        assert c.cmd("MAIL FROM:<x@ext.example.com>").code == 250
        for rcpt in ("y@ext.example.org", RCPT):
            assert str(c.cmd(f"RCPT TO:<{rcpt}>")) == replies.RELAY_DENIED
        assert c.cmd("DATA").code == 503
        assert c.in_sync()
    assert sink.messages == [] and h.audit() == []
    assert any("relay denied" in r.getMessage() for r in caplog.records)


TRICKS = [
    "y%ext.example.org@demo.example.cn",
    "@demo.example.cn:y@ext.example.org",
    '"y@ext.example.org"@demo.example.cn',
    "y@ext.example.org@demo.example.cn",
    "y!ext.example.org@demo.example.cn",
    "y@demo.example.cn.",
    "y@[1.2.3.4]",
    "y@[IPv6:::1]",
]
MIXED_CASE = "ZhaoQiang@Demo.Example.CN"
PLAIN_FOR_TRUSTED = {MIXED_CASE: MIXED_CASE, "@demo.example.cn:y@ext.example.org": "y@ext.example.org"}


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted-client", "untrusted-client"])
@pytest.mark.parametrize("rcpt", [*TRICKS, MIXED_CASE])
def test_hostile_23_relay_tricks(start_relay: StartRelay, sink: CaptureSink, rcpt: str, trusted: bool) -> None:
    """HOSTILE 23: "Relay tricks: `<y%ext.org@corp.cn>`, `<@corp.cn:y@ext.org>`, `<"y@ext.org"@corp.cn>`,
    `<y@ext.org@corp.cn>`, a trailing dot in the domain, an IP literal `<y@[1.2.3.4]>`, a mixed-case
    domain → all refused, or routed only inside."

    From an untrusted client every one is refused: 554 5.7.1, or 553 when aiosmtpd's own parser
    already finds the address malformed. From a trusted client each trick is refused as bad syntax
    (501/553), except two that are plain addresses: a mixed-case company domain (passed upstream as
    is) and a source route, whose route aiosmtpd drops (RFC 5321 §C: a server may ignore the route and
    send to the final address): upstream sees only ``y@ext.example.org``, which a trusted client may
    send to anyway.
    """
    h = start_relay(policy=DELIVER_ALL, relay={} if trusted else {"client_networks": []})
    with session(h) as c:
        assert c.cmd(f"MAIL FROM:<{'x@ext.example.com' if not trusted else SENDER}>").code == 250
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        if not trusted:
            assert str(r) == replies.RELAY_DENIED or r.code == 553, f"{rcpt!r}: {r}"
        elif rcpt in PLAIN_FOR_TRUSTED:
            assert r.code == 250, f"{rcpt!r}: {r}"
            assert c.data(HEAD + b"hi\r\n.\r\n").code == 250
        else:
            assert r.code in (501, 553), f"{rcpt!r}: {r}"
        assert c.in_sync()
    if trusted and rcpt in PLAIN_FOR_TRUSTED:
        [got] = sink.messages
        assert got.rcpt_tos == [PLAIN_FOR_TRUSTED[rcpt]]
    else:
        assert sink.messages == []


@pytest.mark.parametrize("sender", ["ceo@demo.example.cn", "CEO@Demo.Example.CN"])
def test_hostile_24_outside_client_claims_company_sender(
    start_relay: StartRelay, sink: CaptureSink, caplog: pytest.LogCaptureFixture, sender: str
) -> None:
    """HOSTILE 24: "An external client claiming `MAIL FROM:<ceo@corp.cn>`, or a header `From:` of the
    company domain with an external envelope → reject or annotate as the policy says, and log it."

    Unauthenticated and outside client_networks: a company sender (any case) is 550 5.7.1, logged.
    """
    h = start_relay(policy=DELIVER_ALL, relay={"client_networks": []})
    with session(h) as c:
        r = c.cmd(f"MAIL FROM:<{sender}>")
        assert (r.code, r.text[:5]) == (550, b"5.7.1"), str(r)
        assert c.in_sync()
    assert sink.messages == []
    assert any(sender in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records)


def test_hostile_24_authenticated_user_as_another_address(
    start_relay: StartRelay, sink: CaptureSink, cert: tuple[str, str]
) -> None:
    """HOSTILE 24 (continued): an authenticated user may send only as their own address (Postfix
    ``reject_sender_login_mismatch``): another company address is 553 5.7.1, their own (any case)
    is accepted and delivered."""
    users = {LOGIN: hash_password(PASSWORD, iterations=1000)}
    h = start_relay(
        policy=DELIVER_ALL,
        relay={"tls_cert": cert[0], "tls_key": cert[1], "users": users, "client_networks": []},
    )
    with smtplib.SMTP("127.0.0.1", h.port, timeout=30) as c:
        c.starttls(context=client_tls())
        c.login(LOGIN, PASSWORD)
        code, text = c.mail("wangfang@demo.example.cn")
        assert (code, text[:5]) == (553, b"5.7.1")
        c.rset()
        code, text = c.mail("someone@ext.example.org")
        assert (code, text[:5]) == (553, b"5.7.1")
        c.rset()
        assert c.sendmail(LOGIN.upper(), [RCPT], HEAD + b"mine\r\n") == {}
    [got] = sink.messages
    assert got.mail_from == LOGIN.upper()


def test_hostile_24_header_from_mismatch_is_annotated(
    start_relay: StartRelay, sink: CaptureSink, caplog: pytest.LogCaptureFixture
) -> None:
    """HOSTILE 24 (continued): "a header `From:` of the company domain with an external envelope →
    reject or annotate as the policy says, and log it." From a trusted network the relay delivers
    and annotates: an ``X-Mailgate-Sender-Mismatch`` header and a log line."""
    h = start_relay(policy=DELIVER_ALL)
    with session(h) as c:
        c.envelope("someone@ext.example.org", [RCPT])
        assert c.data(HEAD + b"who am I\r\n.\r\n").code == 250
        assert c.in_sync()
    [got] = sink.messages
    assert re.search(rb"^X-Mailgate-Sender-Mismatch:", got.data, re.M | re.I), got.data[:300]
    assert any("someone@ext.example.org" in r.getMessage() for r in caplog.records)
