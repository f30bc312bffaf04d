"""STARTTLS and AUTH: AUTH only over TLS, and an authenticated user may relay from anywhere."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from mailgate.relay.auth import hash_password
from mailgate.relay.testing import CaptureSink
from tests.relay.conftest import PASS_EML, PASS_RCPTS, SENDER, Harness, client_tls, example
from tests.relay.test_actions_paths import crlf


def test_ehlo_without_tls_has_no_starttls_or_auth(start_relay: Callable[..., Harness]) -> None:
    h = start_relay()
    with smtplib.SMTP("127.0.0.1", h.port) as c:
        c.ehlo()
        assert {"size", "8bitmime", "smtputf8"} <= set(c.esmtp_features)
        assert "starttls" not in c.esmtp_features and "auth" not in c.esmtp_features


def test_auth_only_over_tls_then_relay_from_outside_networks(
    start_relay: Callable[..., Harness], sink: CaptureSink, cert: tuple[str, str]
) -> None:
    users = {"lina@demo.example.cn": hash_password("s3cret", iterations=1000)}
    h = start_relay(
        relay={"tls_cert": cert[0], "tls_key": cert[1], "users": users, "client_networks": [], "auth_fail_delay": 0.1}
    )
    with smtplib.SMTP("127.0.0.1", h.port) as c:
        c.ehlo()
        assert "starttls" in c.esmtp_features and "auth" not in c.esmtp_features
        assert c.docmd("AUTH", "PLAIN AGxpbmFAZGVtby5leGFtcGxlLmNuAHMzY3JldA==")[0] == 538  # encryption required
        assert c.mail(SENDER)[0] == 550  # a company sender from outside must authenticate (HOSTILE 24)
        c.rset()
        c.mail("someone@example.org")
        assert c.rcpt(PASS_RCPTS[0])[0] == 554  # not in client_networks, not authenticated
        c.rset()
        c.starttls(context=client_tls())
        c.ehlo()
        assert "auth" in c.esmtp_features
        with pytest.raises(smtplib.SMTPAuthenticationError):
            c.login("lina@demo.example.cn", "wrong")
        c.login("lina@demo.example.cn", "s3cret")
        assert c.sendmail(SENDER, PASS_RCPTS, crlf(example(PASS_EML))) == {}
    assert len(sink.messages) == 1
    [audit] = h.audit()
    assert audit.auth_user == "lina@demo.example.cn"
