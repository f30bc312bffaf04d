"""Where accepted mail goes: the real mail server (aiosmtplib) or the local outbox.

A :class:`Transaction` mirrors the client's SMTP transaction step by step (Postfix
``smtpd_proxy_filter`` style): the upstream sees MAIL FROM when our client's first recipient is
accepted, each RCPT as the client sends it (so a per-recipient refusal goes straight back to the
client), and DATA only once the policy decided to deliver. Failures never raise: they come back
as a :class:`Reply` (``451 4.4.x`` for down or slow, the upstream's own ``4xx``/``5xx`` otherwise),
and nothing internal is ever put in the reply text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import aiosmtplib

from mailgate.relay.config import UpstreamSettings
from mailgate.store import Store

log = logging.getLogger("mailgate.relay.upstream")

UNAVAILABLE_TEXT = "4.4.1 Upstream mail server unavailable, please try again later"
TIMEOUT_TEXT = "4.4.2 Upstream mail server timed out, please try again later"


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def permanent(self) -> bool:
        return self.code >= 500


class Transaction(Protocol):
    async def begin(self, mail_from: str, options: Sequence[str]) -> Reply: ...
    async def add_recipient(self, rcpt: str) -> Reply: ...
    async def send(self, data: bytes) -> Reply: ...
    async def abort(self) -> None: ...


class Delivery(Protocol):
    @property
    def description(self) -> str: ...

    def transaction(self) -> Transaction: ...


async def deliver_once(
    delivery: Delivery, mail_from: str, rcpts: Sequence[str], data: bytes, options: Sequence[str] = ()
) -> tuple[Reply, dict[str, Reply]]:
    """One whole transaction (report mails, quarantine release): final reply and refused recipients."""
    txn = delivery.transaction()
    try:
        first = await txn.begin(mail_from, options)
        if not first.ok:
            return first, {}
        refused = {}
        for r in rcpts:
            reply = await txn.add_recipient(r)
            if not reply.ok:
                refused[r] = reply
        if len(refused) == len(rcpts):
            worst = max(refused.values(), key=lambda x: x.code)
            return worst, refused
        return await txn.send(data), refused
    finally:
        await txn.abort()


# -- the real mail server -----------------------------------------------------------------------


def _failure(exc: BaseException) -> Reply:
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 400:
        return Reply(exc.code, exc.message)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return Reply(451, TIMEOUT_TEXT)
    return Reply(451, UNAVAILABLE_TEXT)


@dataclass
class SmtpTransaction:
    settings: UpstreamSettings
    client: aiosmtplib.SMTP | None = None
    utf8: bool = False
    accepted: list[str] = field(default_factory=list)

    async def begin(self, mail_from: str, options: Sequence[str]) -> Reply:
        s = self.settings
        self.client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout,
            use_tls=s.tls,
            start_tls=False if s.tls else s.starttls,
            username=s.username,
            password=s.password,
            validate_certs=s.validate_certs,
        )
        opts = [o.upper() for o in options]
        self.utf8 = "SMTPUTF8" in opts
        try:
            await self.client.connect()
            await self.client.ehlo()
            if self.utf8 and not self.client.supports_extension("smtputf8"):
                return Reply(553, "5.6.7 Internationalised address not supported by the next hop")
            forward = []
            for o in opts:
                if o == "SMTPUTF8" or (o.startswith("BODY=") and self.client.supports_extension("8bitmime")):
                    forward.append(o)
            await self.client.mail(mail_from, options=forward, encoding="utf-8" if self.utf8 else "ascii")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("upstream %s:%s at MAIL: %s", s.host, s.port, exc)
            return _failure(exc)
        return Reply(250, "2.1.0 OK")

    async def add_recipient(self, rcpt: str) -> Reply:
        assert self.client is not None
        try:
            resp = await self.client.rcpt(rcpt, encoding="utf-8" if self.utf8 else "ascii")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.info("upstream refused RCPT %s: %s", rcpt, exc)
            return _failure(exc)
        self.accepted.append(rcpt)
        return Reply(resp.code, resp.message)

    async def send(self, data: bytes) -> Reply:
        assert self.client is not None
        try:
            resp = await self.client.data(data)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("upstream %s:%s at DATA: %s", self.settings.host, self.settings.port, exc)
            return _failure(exc)
        return Reply(resp.code, resp.message)

    async def abort(self) -> None:
        client, self.client = self.client, None
        if client is None or not client.is_connected:
            return
        try:
            await asyncio.wait_for(client.quit(), timeout=5)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


@dataclass
class SmtpUpstream:
    settings: UpstreamSettings

    @property
    def description(self) -> str:
        return f"smtp://{self.settings.host}:{self.settings.port}"

    def transaction(self) -> Transaction:
        return SmtpTransaction(self.settings)


# -- the local outbox -----------------------------------------------------------------------------


@dataclass
class OutboxTransaction:
    store: Store
    kind: str = "mail"
    mail_from: str = ""
    rcpts: list[str] = field(default_factory=list)

    async def begin(self, mail_from: str, options: Sequence[str]) -> Reply:
        self.mail_from = mail_from
        return Reply(250, "2.1.0 OK")

    async def add_recipient(self, rcpt: str) -> Reply:
        self.rcpts.append(rcpt)
        return Reply(250, "2.1.5 OK")

    async def send(self, data: bytes) -> Reply:
        try:
            entry = await asyncio.to_thread(self.store.add_outbox, self.mail_from, self.rcpts, data, kind=self.kind)
        except Exception:
            log.exception("outbox write failed")
            return Reply(451, "4.3.0 Temporary storage problem, please try again later")
        return Reply(250, f"2.0.0 OK: queued in the local outbox as {entry.id}")

    async def abort(self) -> None:
        return None


@dataclass
class OutboxDelivery:
    store: Store
    kind: str = "mail"

    @property
    def description(self) -> str:
        return "the local outbox"

    def transaction(self) -> Transaction:
        return OutboxTransaction(self.store, self.kind)
