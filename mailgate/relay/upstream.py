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
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import aiosmtplib

from mailgate.relay.config import UpstreamSettings
from mailgate.store import Store

log = logging.getLogger("mailgate.relay.upstream")

UNAVAILABLE_TEXT = "4.4.1 Upstream mail server unavailable, please try again later"
TIMEOUT_TEXT = "4.4.2 Upstream mail server timed out, please try again later"
EIGHTBIT_TEXT = "5.6.3 8-bit message content cannot be relayed: the next mail server does not accept 8BITMIME"


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


class ConnectionPool:
    """Idle upstream connections kept for reuse (Postfix's connection cache: a few, for a few seconds).

    A connection goes back only in a clean state: after a finished DATA, or after a successful
    RSET. One that the server closed in the meantime is noticed at the next MAIL and replaced. One
    that is not kept (the pool is full, or it idled too long) gets a QUIT in the background, so the
    server sees a polite end of session rather than a dropped connection.
    """

    def __init__(self, size: int = 8, idle: float = 5.0) -> None:
        self.size, self.idle = size, idle
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._quitting: set[asyncio.Task[None]] = set()

    def checkout(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and now - since < self.idle:
                return client
            self.retire(client)
        return None

    def checkin(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected and len(self._idle) < self.size:
            self._idle.append((client, time.monotonic()))
        else:
            self.retire(client)

    def retire(self, client: aiosmtplib.SMTP) -> None:
        """QUIT (in the background) a connection that is not kept; close one that is already down."""
        if not client.is_connected:
            client.close()
            return
        task = asyncio.ensure_future(_quit(client))
        self._quitting.add(task)
        task.add_done_callback(self._quitting.discard)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(client) for client, _ in idle), *self._quitting, return_exceptions=True)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await asyncio.wait_for(client.quit(), timeout=2)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()


@dataclass
class SmtpTransaction:
    settings: UpstreamSettings
    pool: ConnectionPool | None = None
    local_hostname: str | None = None  # our EHLO name (None: aiosmtplib looks the FQDN up)
    client: aiosmtplib.SMTP | None = None
    utf8: bool = False
    done: bool = False  # DATA finished: the connection is clean for the next transaction
    accepted: list[str] = field(default_factory=list)

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout,
            use_tls=s.tls,
            start_tls=False if s.tls else s.starttls,
            username=s.username,
            password=s.password,
            validate_certs=s.validate_certs,
            local_hostname=self.local_hostname,
        )

    async def _mail(self, client: aiosmtplib.SMTP, mail_from: str, opts: Sequence[str]) -> Reply | None:
        """MAIL FROM on a connected client; a Reply when the transaction cannot go on."""
        if self.utf8 and not client.supports_extension("smtputf8"):
            return Reply(553, "5.6.7 Internationalised address not supported by the next hop")
        forward = []
        for o in opts:
            if o == "SMTPUTF8" or (o.startswith("BODY=") and client.supports_extension("8bitmime")):
                forward.append(o)
        await client.mail(mail_from, options=forward, encoding="utf-8" if self.utf8 else "ascii")
        return None

    async def begin(self, mail_from: str, options: Sequence[str]) -> Reply:
        s = self.settings
        opts = [o.upper() for o in options]
        self.utf8 = "SMTPUTF8" in opts
        reused = self.pool.checkout() if self.pool is not None else None
        if reused is not None:
            self.client = reused
            try:
                refusal = await self._mail(reused, mail_from, opts)
                return refusal or Reply(250, "2.1.0 OK")
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code != 421:
                    return _failure(exc)
            except UnicodeError:
                return Reply(553, "5.6.7 Address cannot be encoded for the next hop")
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                pass  # the server dropped the idle connection: open a fresh one
            reused.close()
        self.client = self._new_client()
        try:
            await self.client.connect()
            if self.client.is_ehlo_or_helo_needed:  # connect() already sent EHLO when STARTTLS may be used
                await self.client.ehlo()
            refusal = await self._mail(self.client, mail_from, opts)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("upstream %s:%s at MAIL: %s", s.host, s.port, exc)
            return _failure(exc)
        except UnicodeError:
            return Reply(553, "5.6.7 Address cannot be encoded for the next hop")
        return refusal or Reply(250, "2.1.0 OK")

    async def add_recipient(self, rcpt: str) -> Reply:
        assert self.client is not None
        try:
            resp = await self.client.rcpt(rcpt, encoding="utf-8" if self.utf8 else "ascii")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.info("upstream refused RCPT %s: %s", rcpt, exc)
            return _failure(exc)
        except UnicodeError:
            return Reply(553, "5.6.7 Address cannot be encoded for the next hop")
        self.accepted.append(rcpt)
        return Reply(resp.code, resp.message)

    async def send(self, data: bytes) -> Reply:
        assert self.client is not None
        if not data.isascii() and not self.client.supports_extension("8bitmime"):
            # HOSTILE 8: never down-convert silently; the sender can resend in 7-bit (base64/QP)
            return Reply(554, EIGHTBIT_TEXT)
        try:
            resp = await self.client.data(data)
        except aiosmtplib.SMTPResponseException as exc:
            self.done = exc.code != 421
            log.warning("upstream %s:%s at DATA: %s", self.settings.host, self.settings.port, exc)
            return _failure(exc)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("upstream %s:%s at DATA: %s", self.settings.host, self.settings.port, exc)
            return _failure(exc)
        self.done = True
        return Reply(resp.code, resp.message)

    async def abort(self) -> None:
        """End the transaction: the connection goes back to the pool when clean, else is closed."""
        client, self.client = self.client, None
        if client is None or not client.is_connected:
            return
        try:
            if self.pool is None:
                await asyncio.wait_for(client.quit(), timeout=5)
                return
            if not self.done:
                await asyncio.wait_for(client.rset(), timeout=5)
            self.pool.checkin(client)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


@dataclass
class SmtpUpstream:
    settings: UpstreamSettings
    pool: ConnectionPool | None = field(default_factory=ConnectionPool)
    local_hostname: str | None = None

    @property
    def description(self) -> str:
        return f"smtp://{self.settings.host}:{self.settings.port}"

    def transaction(self) -> Transaction:
        return SmtpTransaction(self.settings, self.pool, self.local_hostname)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()


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
