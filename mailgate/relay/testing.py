"""Test doubles that ship with the relay: a capturing SMTP sink and a relay on a background thread.

    with CaptureSink() as sink, RelayThread(relay_factory) as relay:
        smtplib.SMTP("127.0.0.1", relay.port).sendmail(...)
        sink.messages[0].data
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from mailgate.relay.server import Relay


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]


@dataclass
class SinkBehaviour:
    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply
    data_reply: str | None = None  # e.g. "554 5.7.1 spam"
    delay: float = 0.0  # seconds before answering DATA
    no_8bitmime: bool = False  # do not advertise 8BITMIME
    no_smtputf8: bool = False  # do not advertise SMTPUTF8


class _SinkHandler:
    def __init__(self, sink: CaptureSink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.sink.ehlo_count += 1
        b = self.sink.behaviour
        drop = {"8BITMIME"} if b.no_8bitmime else set()
        drop |= {"SMTPUTF8"} if b.no_smtputf8 else set()
        kept = [r for r in responses if r[4:].upper() not in drop]
        # the last line must stay "250 " (not "250-") after filtering
        if kept and responses and kept[-1] != responses[-1]:
            kept[-1] = "250 " + kept[-1][4:]
        return kept

    async def handle_QUIT(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.sink.quit_count += 1
        return "221 Bye"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.sink.behaviour.refuse_rcpt.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        b = self.sink.behaviour
        if b.delay:
            await asyncio.sleep(b.delay)
        if b.data_reply:
            return b.data_reply
        self.sink.messages.append(
            Captured(envelope.mail_from or "", list(envelope.rcpt_tos), bytes(envelope.original_content or b""),
                     list(envelope.mail_options))
        )  # fmt: skip
        return "250 2.0.0 captured"


class CaptureSink:
    """An upstream mail server (aiosmtpd Controller) that records what it accepts."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Captured] = []
        self.ehlo_count = 0  # EHLO commands received (one per session from a well-behaved client)
        self.quit_count = 0  # sessions ended with QUIT (not just dropped)
        self.behaviour = SinkBehaviour()
        self._controller = Controller(_SinkHandler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> CaptureSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def restart(self) -> None:
        """Stop and start again on the same port: every client connection is dropped."""
        self._controller.stop()
        self._controller = Controller(_SinkHandler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()


class RelayThread:
    """Runs a relay (built inside the thread's event loop) until the block ends."""

    def __init__(self, factory: Callable[[], Relay]) -> None:
        self.factory = factory
        self.loop = asyncio.new_event_loop()
        self.relay: Relay | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)

    @property
    def port(self) -> int:
        assert self.relay is not None
        return self.relay.port

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.relay = self.factory()
            self.loop.run_until_complete(self.relay.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.relay.stop())
        self.loop.close()

    def __enter__(self) -> RelayThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._thread.is_alive():
            return  # already stopped (a test may stop the relay itself)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
