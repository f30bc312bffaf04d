"""A bare aiosmtpd pass-through relay with no linting: the baseline for ``bench/relay_bench.py``.

Usage: .venv/bin/python bench/bare_relay.py --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT
       [--processes N] [--upstream-reuse per-transaction|pool]

It has the same shape as mailgate's relay (``mailgate/relay/server.py`` and ``upstream.py``), minus
the policy:

- aiosmtpd's ``SMTP`` with the same options (bytes, SMTPUTF8, 10 MB limit), and, like mailgate, the
  host's FQDN looked up once at start for the greeting and the upstream EHLO (not per connection);
- before-queue: the upstream transaction opens at the first RCPT (connect, EHLO, MAIL), each RCPT
  is passed on as it comes, DATA goes upstream at the end of the client's DATA, and the client gets
  250 only after the upstream said 250;
- upstream connections made with the same aiosmtplib arguments (opportunistic STARTTLS, so
  connect() sends the EHLO; an explicit one only when it did not);
- ``--upstream-reuse pool`` (the default, as mailgate's ``ConnectionPool``): after a clean DATA the
  connection is kept for the next transaction, at most ``--pool-size`` (8) idle ones for
  ``--pool-idle`` (5) seconds; one more, or one that idled too long, gets a QUIT in the background.
  ``per-transaction`` (mailgate before its pool): a new connection per transaction, QUIT in the
  background once the client has its reply;
- ``--processes N``: N server processes on one port (SO_REUSEPORT), like ``[relay] processes``.

Each server process prints ``bare_relay: listening on HOST:PORT pid=PID`` once it accepts
connections. SIGTERM or SIGINT stops all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

MAX_MESSAGE_BYTES = 10_240_000  # as mailgate's default max_message_bytes
TEMPFAIL = "451 4.4.1 Upstream mail server unavailable, please try again later"


@dataclass(frozen=True)
class Options:
    host: str
    port: int
    upstream_host: str
    upstream_port: int
    pool_size: int  # 0: a new connection per transaction
    pool_idle: float = 5.0
    timeout: float = 100.0
    hostname: str = "localhost"  # greeting and upstream EHLO name


def _reply(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 400:
        return f"{exc.code} {exc.message}"
    return TEMPFAIL


class Upstream:
    """aiosmtplib clients to the next hop: a new one per transaction, or a pool of idle ones."""

    def __init__(self, options: Options, spawn: Any) -> None:
        self.options = options
        self.spawn = spawn
        self.idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def _connect(self) -> aiosmtplib.SMTP:
        o = self.options
        client = aiosmtplib.SMTP(
            hostname=o.upstream_host, port=o.upstream_port, timeout=o.timeout, local_hostname=o.hostname
        )
        await client.connect()
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        return client

    async def begin(self, mail_from: str) -> aiosmtplib.SMTP:
        """A client that has sent MAIL FROM; raises aiosmtplib/OS errors."""
        now = time.monotonic()
        while self.idle:
            client, since = self.idle.pop()
            if not client.is_connected or now - since >= self.options.pool_idle:
                self.spawn(self.release(client, clean=False))
                continue
            try:
                await client.mail(mail_from)
                return client
            except (aiosmtplib.SMTPServerDisconnected, OSError):
                client.close()  # the server dropped it while idle: take another one
        client = await self._connect()
        try:
            await client.mail(mail_from)
        except BaseException:
            client.close()
            raise
        return client

    async def release(self, client: aiosmtplib.SMTP, *, clean: bool) -> None:
        """After the transaction: back to the pool when it ended cleanly and there is room, else QUIT."""
        if self.options.pool_size and clean and client.is_connected and len(self.idle) < self.options.pool_size:
            self.idle.append((client, time.monotonic()))
            return
        if not client.is_connected:
            return
        try:
            await asyncio.wait_for(client.quit(), timeout=5)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        await asyncio.gather(*(self.release(c, clean=False) for c, _ in idle), return_exceptions=True)


class BareEnvelope(Envelope):
    def __init__(self) -> None:
        super().__init__()
        self.upstream: aiosmtplib.SMTP | None = None


class BareSMTP(SMTP):
    def _create_envelope(self) -> Envelope:
        return BareEnvelope()

    def connection_lost(self, error: Exception | None) -> None:
        envelope = self.envelope
        if isinstance(envelope, BareEnvelope) and envelope.upstream is not None:
            client, envelope.upstream = envelope.upstream, None
            assert isinstance(self.event_handler, BareHandler)
            self.event_handler.spawn(self.event_handler.upstream.release(client, clean=False))
        super().connection_lost(error)


class BareHandler:
    def __init__(self, options: Options) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.upstream = Upstream(options, self.spawn)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: BareEnvelope, address: str, options: list[str]
    ) -> str:
        try:
            if envelope.upstream is None:
                envelope.upstream = await self.upstream.begin(envelope.mail_from or "")
            resp = await envelope.upstream.rcpt(address)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return _reply(exc)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return f"{resp.code} {resp.message}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: BareEnvelope) -> str:
        client, envelope.upstream = envelope.upstream, None
        if client is None:
            return "503 5.5.1 No valid recipients"
        clean = False
        try:
            resp = await client.data(envelope.original_content or b"")
            clean = True
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return _reply(exc)
        finally:
            self.spawn(self.upstream.release(client, clean=clean))
        return f"{resp.code} {resp.message}"


async def serve(options: Options) -> None:
    loop = asyncio.get_running_loop()
    handler = BareHandler(options)
    upstream = handler.upstream

    def factory() -> BareSMTP:
        return BareSMTP(
            handler,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            decode_data=False,
            ident="bare-relay",
            hostname=options.hostname,
        )

    server = await loop.create_server(factory, host=options.host, port=options.port, reuse_port=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"bare_relay: listening on {options.host}:{options.port} pid={os.getpid()}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()
    await handler.drain()
    await upstream.close()


def _run(options: Options) -> None:
    asyncio.run(serve(options))


def _hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected host:port, not {value!r}")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=_hostport, required=True, help="host:port (a fixed port)")
    parser.add_argument("--upstream", type=_hostport, required=True, help="host:port of the next hop")
    parser.add_argument("--processes", type=int, default=1, help="server processes on the port (SO_REUSEPORT)")
    parser.add_argument("--upstream-reuse", choices=["per-transaction", "pool"], default="pool")
    parser.add_argument("--pool-size", type=int, default=8, help="idle upstream connections kept (pool)")
    parser.add_argument("--pool-idle", type=float, default=5.0, help="seconds an idle connection is kept (pool)")
    args = parser.parse_args(argv)
    (host, port), (up_host, up_port) = args.listen, args.upstream
    if port == 0 and args.processes > 1:
        parser.error("--processes > 1 needs a fixed --listen port")
    pool_size = args.pool_size if args.upstream_reuse == "pool" else 0
    options = Options(
        host, port, up_host, up_port, pool_size=pool_size, pool_idle=args.pool_idle, hostname=socket.getfqdn()
    )
    if args.processes <= 1:
        _run(options)
        return 0
    # Fork the servers before any event loop exists; the parent only waits and passes signals on.
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_run, args=(options,), daemon=True) for _ in range(args.processes)]
    for child in children:
        child.start()

    def forward(signum: int, frame: object) -> None:
        for child in children:
            if child.is_alive() and child.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    return max((c.exitcode or 0) for c in children)


if __name__ == "__main__":
    sys.exit(main())
