"""The upstream side: connections are reused, dropped ones replaced, 8-bit never down-converted."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from mailgate.relay.testing import CaptureSink
from tests.relay.conftest import PASS_EML, PASS_RCPTS, SENDER, Harness, example
from tests.relay.test_actions_paths import crlf, send


def test_upstream_connections_are_reused(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    for _ in range(6):
        assert send(h.port, example(PASS_EML), PASS_RCPTS) == {}
    assert len(sink.messages) == 6
    assert sink.ehlo_count <= 2  # one connection, or two if a return raced the next MAIL


def test_one_ehlo_per_upstream_connection_and_quit_for_the_surplus(
    start_relay: Callable[..., Harness], sink: CaptureSink
) -> None:
    """Ten transactions at once need ten upstream connections; the pool keeps 8 and QUITs the rest."""
    h = start_relay()
    clients = [smtplib.SMTP("127.0.0.1", h.port, timeout=30) for _ in range(10)]
    try:
        data = crlf(example(PASS_EML))
        for c in clients:  # each holds an upstream connection from its first RCPT on
            c.ehlo()
            assert c.mail(SENDER)[0] == 250
            assert c.rcpt(PASS_RCPTS[0])[0] == 250
        for c in clients:
            assert c.data(data)[0] == 250
    finally:
        for c in clients:
            c.quit()
    assert len(sink.messages) == 10
    assert sink.ehlo_count == 10  # one EHLO per connection, not a second one after connect()
    assert h.wait_for(lambda: sink.quit_count == 2)  # the two the pool (8) could not keep


def test_a_rejected_transaction_leaves_the_connection_clean(
    start_relay: Callable[..., Harness], sink: CaptureSink
) -> None:
    h = start_relay()
    with pytest.raises(smtplib.SMTPDataError):
        send(h.port, example("action-items/bad.eml"), ["zhaoqiang@demo.example.cn"])
    assert send(h.port, example(PASS_EML), PASS_RCPTS) == {}
    [got] = sink.messages
    assert got.rcpt_tos == PASS_RCPTS  # the aborted transaction's recipient did not leak into this one


def test_a_dropped_idle_connection_is_replaced(start_relay: Callable[..., Harness], sink: CaptureSink) -> None:
    h = start_relay()
    assert send(h.port, example(PASS_EML), PASS_RCPTS) == {}
    sink.restart()  # the pooled connection is dead
    assert send(h.port, example(PASS_EML), PASS_RCPTS) == {}
    assert len(sink.messages) == 2


def test_8bit_is_not_sent_to_an_upstream_without_8bitmime(
    start_relay: Callable[..., Harness], sink: CaptureSink
) -> None:
    """HOSTILE 8: forward 8-bit only if the next hop advertises 8BITMIME; never re-encode."""
    sink.behaviour.no_8bitmime = True
    h = start_relay(policy={"fail": "deliver", "warn": "deliver"})
    raw = example(PASS_EML)
    assert not raw.isascii()
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(h.port, raw, PASS_RCPTS)
    assert err.value.smtp_code == 554 and err.value.smtp_error.startswith(b"5.6.3")
    assert sink.messages == []
    seven_bit = (
        b"From: lina@demo.example.cn\r\nTo: zhaoqiang@demo.example.cn\r\nSubject: =?utf-8?b?5rWL6K+V?=\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n5rWL6K+V\r\n"
    )
    with smtplib.SMTP("127.0.0.1", h.port, timeout=30) as c:
        c.sendmail("lina@demo.example.cn", ["zhaoqiang@demo.example.cn"], seven_bit)
    assert len(sink.messages) == 1 and sink.messages[0].data.endswith(b"5rWL6K+V\r\n")


def test_8bit_body_without_declaration_is_forwarded_unchanged(
    start_relay: Callable[..., Harness], sink: CaptureSink
) -> None:
    """HOSTILE 8: a GBK body with NUL bytes and no BODY=8BITMIME: the bytes arrive unchanged."""
    h = start_relay(policy={"fail": "deliver", "warn": "deliver"})
    body = "各位好：\r\n1. 测试\r\n".encode("gbk") + b"nul:\x00end\r\n"
    raw = (
        b"From: lina@demo.example.cn\r\nTo: zhaoqiang@demo.example.cn\r\nSubject: test\r\n"
        b"Content-Type: text/plain; charset=gbk\r\n\r\n" + body
    )
    with smtplib.SMTP("127.0.0.1", h.port, timeout=30) as c:
        c.sendmail("lina@demo.example.cn", ["zhaoqiang@demo.example.cn"], raw)
    [got] = sink.messages
    assert got.data == raw
