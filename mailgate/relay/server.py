"""The SMTP side: an aiosmtpd ``SMTP`` subclass with limits, and the handler that runs the policy.

Per transaction (SPEC §3, before-queue):

    MAIL    syntax checked (no CR/LF/NUL, no relay tricks)
    RCPT    client must be in ``client_networks`` or authenticated (else 554 5.7.1); recipient
            limit (452 4.5.3); the upstream sees MAIL at the first accepted RCPT and each RCPT as
            it comes, so its per-recipient refusals go straight back to the client
    DATA    line endings normalised once → lint in a worker → decide → act; 250 only once the
            upstream said 250 for every accepted recipient, or the message is in the quarantine

A lint crash or any bug of ours answers ``451 4.3.0`` and is logged; nothing internal reaches the
client.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import ssl
from collections import Counter
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP, Envelope, Session

from mailgate.relay import replies
from mailgate.relay.auth import Authenticator
from mailgate.relay.config import RelaySettings
from mailgate.relay.pipeline import Pipeline
from mailgate.relay.upstream import Delivery, Reply, Transaction

log = logging.getLogger("mailgate.relay")

_LOCAL_ATOM = re.compile(r"^[^\s@%!\"\\()<>\[\]:;,]+$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[^\s.@%!\"\\()<>\[\]:;,]{1,63}(?<!-)$")


def address_ok(address: str) -> bool:
    """A plain ``local@domain``: refuses relay tricks (``%``, ``!``, source routes, quoted ``@``,
    two ``@``, IP literals, a trailing dot), control characters and over-long addresses (HOSTILE 10, 23)."""
    if len(address) > 254 or any(c in address for c in "\r\n\x00"):
        return False
    try:
        address.encode("utf-8")  # 8-bit bytes that are not UTF-8 arrive as lone surrogates
    except UnicodeEncodeError:
        return False
    local, sep, domain = address.rpartition("@")
    if not sep or not local or not domain or not _LOCAL_ATOM.match(local):
        return False
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(_DOMAIN_LABEL.match(label) for label in labels)


class ConnectionLimits:
    """Counts open connections, in total and per client address."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total_limit, self.per_client_limit = total, per_client
        self.by_client: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.by_client.values())

    def admit(self, client: str) -> bool:
        if self.total_limit and self.total >= self.total_limit:
            return False
        if self.per_client_limit and self.by_client[client] >= self.per_client_limit:
            return False
        self.by_client[client] += 1
        return True

    def release(self, client: str) -> None:
        self.by_client[client] -= 1
        if self.by_client[client] <= 0:
            del self.by_client[client]


RETAINED_PURGE_INTERVAL = 3600.0  # seconds

_AIOSMTPD_REPLIES = {  # aiosmtpd's own texts, with enhanced status codes
    "552 Error: Too much mail data": replies.TOO_BIG,
    "500 Line too long (see RFC5321 4.5.3.1.6)": "500 5.5.2 Line too long (RFC 5321 4.5.3.1.6)",
}


class AuthGuard:
    """Failed AUTH per client: a delay that grows with each failure, then a lockout (HOSTILE 18)."""

    MAX_DELAY = 10.0

    def __init__(self, delay: float, max_failures: int, lockout: float) -> None:
        self.delay, self.max_failures, self.lockout = delay, max_failures, lockout
        self.failures: dict[str, list[float]] = {}

    def _recent(self, client: str, now: float) -> list[float]:
        recent = [t for t in self.failures.get(client, []) if now - t < self.lockout]
        if recent:
            self.failures[client] = recent
        else:
            self.failures.pop(client, None)
        return recent

    def locked(self, client: str, now: float) -> bool:
        return bool(self.max_failures) and len(self._recent(client, now)) >= self.max_failures

    def failed(self, client: str, now: float) -> float:
        """Record a failure; the seconds to wait before answering it."""
        recent = self._recent(client, now)
        recent.append(now)
        self.failures[client] = recent
        if len(self.failures) > 10_000:  # bounded memory under a distributed attack
            self.failures.pop(next(iter(self.failures)))
        return min(self.delay * len(recent), self.MAX_DELAY)

    def succeeded(self, client: str) -> None:
        self.failures.pop(client, None)


class RelayEnvelope(Envelope):
    def __init__(self) -> None:
        super().__init__()
        self.upstream: Transaction | None = None
        self.upstream_refusal: Reply | None = None


class RelaySMTP(SMTP):
    """aiosmtpd's SMTP with connection caps, a DATA deadline and our envelope."""

    def __init__(
        self,
        handler: RelayHandler,
        *,
        settings: RelaySettings,
        limits: ConnectionLimits,
        auth_guard: AuthGuard,
        **kw: Any,
    ):
        super().__init__(handler, **kw)
        self.settings = settings
        self.limits = limits
        self.auth_guard = auth_guard
        self._admitted: str | None = None
        self._refused = False
        self._last_read = 0.0
        self._idle_handle: asyncio.TimerHandle | None = None

    def _create_envelope(self) -> Envelope:
        return RelayEnvelope()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None and self._admitted is None:  # not the STARTTLS re-entry
            peer = transport.get_extra_info("peername")
            client = str(peer[0]) if peer else "?"
            if not self.limits.admit(client):
                log.warning("%s refused: too many connections", client)
                self._refused = True
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(replies.TOO_MANY_CONNECTIONS.encode() + b"\r\n")
                transport.close()
                return
            self._admitted = client
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._last_read = self.loop.time()
        super().data_received(data)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        self._stop_idle_watch()
        if self._admitted is not None:
            self.limits.release(self._admitted)
            self._admitted = None
        envelope = self.envelope
        if isinstance(envelope, RelayEnvelope) and envelope.upstream is not None:
            txn, envelope.upstream = envelope.upstream, None
            self.event_handler.spawn(txn.abort())
        super().connection_lost(error)

    # -- improper pipelining (HOSTILE 16) ----------------------------------------------------------
    # PIPELINING is not advertised, so a client must wait for each reply. Bytes already buffered
    # when one of these commands is read mean it did not (a whole transaction in one packet, sent
    # before the greeting or before 354): answer 503 and hang up rather than risk a desync.

    async def _improper_pipelining(self) -> bool:
        if not self._reader._buffer:  # type: ignore[attr-defined]
            return False
        log.warning("%s improper pipelining", self.session.peer if self.session else "?")
        await self.push(replies.IMPROPER_PIPELINING)
        if self.transport is not None:
            self.transport.close()
        return True

    async def smtp_HELO(self, arg: str) -> None:
        if not await self._improper_pipelining():
            await super().smtp_HELO(arg)

    async def smtp_EHLO(self, arg: str) -> None:
        if not await self._improper_pipelining():
            await super().smtp_EHLO(arg)

    async def smtp_MAIL(self, arg: str) -> None:
        if not await self._improper_pipelining():
            await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str) -> None:
        if not await self._improper_pipelining():
            await super().smtp_RCPT(arg)

    # -- AUTH: growing delay and lockout per client (HOSTILE 18) ------------------------------------

    async def smtp_AUTH(self, arg: str) -> None:
        if await self._improper_pipelining():
            return
        if self._admitted is not None and self.auth_guard.locked(self._admitted, self.loop.time()):
            log.warning("%s AUTH refused: locked out after repeated failures", self._admitted)
            await self.push(replies.AUTH_LOCKED)
            return
        await super().smtp_AUTH(arg)

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str) and status in _AIOSMTPD_REPLIES:
            status = _AIOSMTPD_REPLIES[status]
        if self._admitted is not None and isinstance(status, str):
            if status.startswith("535"):
                await asyncio.sleep(self.auth_guard.failed(self._admitted, self.loop.time()))
            elif status.startswith("235"):
                self.auth_guard.succeeded(self._admitted)
        await super().push(status)

    # -- DATA: an idle timeout per read and a deadline for the whole upload (HOSTILE 15) -------------

    def _set_post_data_state(self) -> None:
        # RSET, HELO/EHLO and a refused DATA all start a new envelope: end the old one's upstream
        # transaction too, so its connection goes back to the pool instead of lingering.
        old = getattr(self, "envelope", None)
        if isinstance(old, RelayEnvelope) and old.upstream is not None:
            txn, old.upstream = old.upstream, None
            self.event_handler.spawn(txn.abort())
        super()._set_post_data_state()

    async def smtp_DATA(self, arg: str) -> None:
        if await self._improper_pipelining():
            return
        # aiosmtpd does not reset its timer per DATA line: one deadline for the whole upload, sized
        # so that a full-size message at the minimum rate fits, plus a watchdog for silence.
        s = self.settings
        self._reset_timeout(max(s.data_timeout, s.max_message_bytes / max(s.min_data_rate, 1)))
        self._last_read = self.loop.time()
        self._idle_handle = self.loop.call_later(s.data_idle_timeout, self._idle_check)
        # aiosmtpd keeps every piece of an over-long line until its CRLF (HOSTILE 6): such a
        # message is refused anyway (500), so drain those pieces instead of keeping them.
        reader = self._reader
        keep_read = reader.read

        async def drain(n: int = -1) -> bytes:
            await keep_read(n)
            return b""

        reader.read = drain  # type: ignore[method-assign]
        try:
            await super().smtp_DATA(arg)
        finally:
            reader.read = keep_read  # type: ignore[method-assign]
            self._stop_idle_watch()
            if self.transport is not None:
                self._reset_timeout(self.settings.command_timeout)

    def _idle_check(self) -> None:
        self._idle_handle = None
        if self.transport is None:
            return
        idle = self.loop.time() - self._last_read
        limit = self.settings.data_idle_timeout
        if idle < limit:
            self._idle_handle = self.loop.call_later(limit - idle, self._idle_check)
            return
        log.warning("%s DATA idle for %.0f s: closing, nothing forwarded", self._admitted, idle)
        transport = self.transport
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(replies.DATA_IDLE.encode() + b"\r\n")
        transport.close()

    def _stop_idle_watch(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    def extend_timeout(self, seconds: float) -> None:
        """The message is in: stop the DATA watchdogs and allow time for lint and the upstream."""
        self._stop_idle_watch()
        self._reset_timeout(seconds)


class RelayHandler:
    """aiosmtpd handler hooks: who may send, where the transaction goes, what the policy says."""

    def __init__(self, settings: RelaySettings, delivery: Delivery, pipeline: Pipeline) -> None:
        self.settings = settings
        self.delivery = delivery
        self.pipeline = pipeline
        self.internal_domains = frozenset(d.lower() for d in pipeline.policy.internal_domains)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._trusted: dict[str, bool] = {}  # client address -> in client_networks

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def may_relay(self, session: Session) -> bool:
        return bool(session.authenticated) or self.trusted_network(session)

    def trusted_network(self, session: Session) -> bool:
        peer = session.peer
        if not peer:
            return False
        host = str(peer[0] if isinstance(peer, tuple) else peer)
        trusted = self._trusted.get(host)
        if trusted is None:  # parsed once per client address, not at every MAIL and RCPT
            trusted = self._in_client_networks(host)
            if len(self._trusted) >= 4096:
                self._trusted.clear()
            self._trusted[host] = trusted
        return trusted

    def _in_client_networks(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.settings.client_networks)

    def is_internal(self, address: str) -> bool:
        domain = address.rpartition("@")[2].lower()
        return domain in self.internal_domains

    async def handle_MAIL(
        self, server: RelaySMTP, session: Session, envelope: RelayEnvelope, address: str, options: list[str]
    ) -> str:
        if address and not address_ok(address):
            return replies.BAD_SENDER
        if not address.isascii() and "SMTPUTF8" not in (o.upper() for o in options):
            return replies.NEEDS_SMTPUTF8
        # HOSTILE 24: who may use which sender address (Postfix reject_sender_login_mismatch).
        if session.authenticated:
            login = str(session.auth_data or "")
            if "@" in login and address.lower() != login.lower():
                log.warning("%s user %r sent as %r: refused", session.peer, login, address)
                return replies.SENDER_NOT_OWNED
        elif address and self.is_internal(address) and not self.trusted_network(session):
            log.warning("%s unauthenticated client claimed sender %r: refused", session.peer, address)
            return replies.SENDER_NEEDS_AUTH
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: RelaySMTP, session: Session, envelope: RelayEnvelope, address: str, options: list[str]
    ) -> str:
        if not self.may_relay(session):
            log.warning("%s relay denied for %s", session.peer, address)
            return replies.RELAY_DENIED
        if not address_ok(address):
            return replies.BAD_ADDRESS
        if not address.isascii() and not envelope.smtp_utf8:
            return replies.NEEDS_SMTPUTF8
        if len(envelope.rcpt_tos) >= self.settings.max_recipients:
            return replies.TOO_MANY_RCPTS
        if envelope.upstream_refusal is not None:
            r = envelope.upstream_refusal
            return replies.passed_back(r.code, r.text)
        if envelope.upstream is None:
            txn = self.delivery.transaction()
            began = await txn.begin(envelope.mail_from or "", envelope.mail_options)
            if not began.ok:
                await txn.abort()
                envelope.upstream_refusal = began
                return replies.passed_back(began.code, began.text)
            envelope.upstream = txn
        reply = await envelope.upstream.add_recipient(address)
        if not reply.ok:
            return replies.passed_back(reply.code, reply.text)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_RSET(self, server: RelaySMTP, session: Session, envelope: RelayEnvelope) -> str:
        # aiosmtpd already gave the session a fresh envelope; the old transaction died with it.
        return "250 2.0.0 OK"

    async def handle_DATA(self, server: RelaySMTP, session: Session, envelope: RelayEnvelope) -> str:
        server.extend_timeout(self.pipeline.processing_timeout(len(envelope.original_content or b"")))
        txn = envelope.upstream
        try:
            return await self.pipeline.process(session, envelope, txn)
        except Exception:
            log.exception("%s relay failure", session.peer)
            return replies.TEMPFAIL_LINT
        finally:
            envelope.upstream = None
            if txn is not None:
                self.spawn(txn.abort())

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error", exc_info=error)
        return replies.TEMPFAIL_LINT


def tls_context(settings: RelaySettings) -> ssl.SSLContext | None:
    if not settings.tls_cert or not settings.tls_key:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
    return ctx


def make_protocol_factory(
    settings: RelaySettings, handler: RelayHandler, limits: ConnectionLimits, auth_guard: AuthGuard
) -> Any:
    ctx = tls_context(settings)
    authenticator = Authenticator(settings.users) if ctx is not None and settings.users else None
    hostname = settings.smtp_hostname  # once, not per connection
    junk = settings.junk_command_limit
    call_limit = {"NOOP": junk, "RSET": junk, "VRFY": junk, "EXPN": junk, "HELP": junk, "*": 100_000}

    def factory() -> RelaySMTP:
        return RelaySMTP(
            handler,
            settings=settings,
            limits=limits,
            auth_guard=auth_guard,
            data_size_limit=settings.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=hostname,
            ident="mailgate",
            tls_context=ctx,
            timeout=settings.command_timeout,
            auth_require_tls=True,
            authenticator=authenticator,
            command_call_limit=call_limit,
        )

    return factory


class Relay:
    """A running relay: ``await relay.start()``, ``relay.port``, ``await relay.stop()``."""

    def __init__(self, settings: RelaySettings, delivery: Delivery, pipeline: Pipeline) -> None:
        self.settings = settings
        self.handler = RelayHandler(settings, delivery, pipeline)
        self.pipeline = pipeline
        self.limits = ConnectionLimits(settings.max_connections, settings.max_connections_per_client)
        self.auth_guard = AuthGuard(settings.auth_fail_delay, settings.auth_max_failures, settings.auth_lockout)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
        self._server: asyncio.AbstractServer | None = None
        self._poller: asyncio.Future[None] | None = None
        self.port = settings.port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        factory = make_protocol_factory(self.settings, self.handler, self.limits, self.auth_guard)
        self._server = await loop.create_server(
            factory, host=self.settings.host, port=self.settings.port, reuse_port=self.settings.process_count > 1
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._poller = asyncio.ensure_future(self._poll_policy())
        log.info("relay listening on %s:%s, delivering to %s", self.settings.host, self.port,
                 self.handler.delivery.description)  # fmt: skip

    async def _poll_policy(self) -> None:
        """Adopt a new policy version (an admin change on any instance) within ``policy_poll`` seconds."""
        state = self.pipeline.state
        loop = asyncio.get_running_loop()
        next_purge = loop.time()  # expired retained messages: at start, then hourly
        while True:
            await asyncio.sleep(self.settings.policy_poll)
            try:
                await asyncio.to_thread(state.refresh)
                if self.pipeline.retain_days and loop.time() >= next_purge:
                    await asyncio.to_thread(self.pipeline.store.purge_retained)
                    next_purge = loop.time() + RETAINED_PURGE_INTERVAL
            except Exception:  # the database is briefly unreachable: keep the policy we have
                log.warning("policy refresh failed; keeping version %d", state.version, exc_info=True)

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self.handler.drain()
        await self.pipeline.drain()
        await asyncio.to_thread(self.pipeline.audit_log.close)  # a clean stop loses no audit row
        for delivery in (self.handler.delivery, self.pipeline.report_delivery):
            close = getattr(delivery, "close", None)
            if close is not None:
                await close()
