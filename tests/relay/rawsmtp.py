"""A raw-socket SMTP client for hostile tests: sends exactly the bytes given (bare LF, bare CR,
pipelined packets, slow trickles), and reads replies without interpreting them.

    with RawSMTP(port) as c:
        assert c.greeting.code == 220
        c.cmd("EHLO t")                  # one line + CRLF, then wait for the (multi-line) reply
        c.send(b"MAIL FROM:<a@b.c>\\n")   # exact bytes, no reply read
        c.reply()                        # the next reply
        assert c.in_sync()               # NOOP → 250, QUIT → 221, EOF, and nothing else was queued
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class Reply:
    code: int
    lines: tuple[bytes, ...]  # text after "NNN-" / "NNN "

    @property
    def text(self) -> bytes:
        return b"\n".join(self.lines)

    def __str__(self) -> str:
        return f"{self.code} {self.text.decode('utf-8', 'replace')}"


class RawSMTP:
    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        *,
        timeout: float = 15.0,
        source: str | None = None,
        greet: bool = True,
    ) -> None:
        self.timeout = timeout
        self.sock: socket.socket = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None
        )
        self.buf = b""
        self.greeting: Reply | None = self.reply() if greet else None
        self.ehlo_reply: Reply | None = None

    def __enter__(self) -> RawSMTP:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    # -- sending --------------------------------------------------------------------------------

    def send(self, data: bytes | str) -> None:
        """Exactly these bytes, in one ``sendall`` (one packet on loopback for anything small)."""
        self.sock.sendall(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)

    def cmd(self, line: bytes | str, eol: bytes = b"\r\n") -> Reply:
        """One command line, then its reply."""
        raw = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
        self.send(raw + eol)
        return self.reply()

    def trickle(self, data: bytes, chunk: int, interval: float) -> float | None:
        """Send ``chunk`` bytes every ``interval`` seconds (a slowloris). Returns the seconds after
        which the peer hung up, or None if it let us send everything; replies land in ``buf``."""
        start = time.monotonic()
        for i in range(0, len(data), chunk):
            try:
                self.sock.sendall(data[i : i + chunk])
            except OSError:
                return time.monotonic() - start
            if self.closed_by_peer(interval):
                return time.monotonic() - start
        return None

    # -- receiving ------------------------------------------------------------------------------

    def _fill(self) -> bool:
        try:
            got = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            got = b""
        self.buf += got
        return bool(got)

    def readline(self) -> bytes:
        """One CRLF-terminated line (without the CRLF); raises EOFError if the peer closed first."""
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise EOFError(f"connection closed; unread: {self.buf!r}")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def reply(self) -> Reply:
        lines: list[bytes] = []
        while True:
            line = self.readline()
            if len(line) < 3 or not line[:3].isdigit():
                raise AssertionError(f"not an SMTP reply line: {line!r}")
            lines.append(line[4:])
            if line[3:4] != b"-":
                return Reply(int(line[:3]), tuple(lines))

    def replies(self) -> list[Reply]:
        """Every reply until the peer closes (for a connection that is expected to end)."""
        out: list[Reply] = []
        while True:
            try:
                out.append(self.reply())
            except EOFError:
                return out

    def closed_by_peer(self, timeout: float | None = None) -> bool:
        """True if the peer closes within ``timeout``; whatever it sent first is kept in ``buf``."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                if not self._fill():
                    return True
            return False
        except TimeoutError:
            return False
        finally:
            self.sock.settimeout(self.timeout)

    def nothing_pending(self, wait: float = 0.2) -> bool:
        """No reply arrives within ``wait`` seconds (the server is still waiting for us)."""
        if self.buf:
            return False
        self.sock.settimeout(wait)
        try:
            self._fill()  # bytes or EOF: either way the server did not wait
            return False
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(self.timeout)

    # -- higher level ---------------------------------------------------------------------------

    def ehlo(self, name: str = "hostile.test") -> Reply:
        self.ehlo_reply = self.cmd(f"EHLO {name}")
        return self.ehlo_reply

    def starttls(self, context: ssl.SSLContext) -> None:
        """Wrap the socket after a ``220`` to STARTTLS; anything buffered in plaintext is dropped."""
        self.buf = b""
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")

    def envelope(self, mail_from: str, rcpts: list[str], mail_params: str = "") -> None:
        """MAIL and each RCPT, one at a time; every reply must be 2xx."""
        for line in (f"MAIL FROM:<{mail_from}>{mail_params}", *(f"RCPT TO:<{r}>" for r in rcpts)):
            r = self.cmd(line)
            assert 200 <= r.code < 300, f"{line}: {r}"

    def data(self, body: bytes) -> Reply:
        """DATA, wait for 354, then ``body`` exactly as given (it must end with CRLF.CRLF)."""
        r = self.cmd("DATA")
        assert r.code == 354, str(r)
        self.send(body)
        return self.reply()

    def in_sync(self) -> bool:
        """NOOP answers 250 as the very next reply, then QUIT 221 and a clean close: no reply was
        queued by smuggled commands and the server still parses our lines as we do. Raises
        AssertionError saying what went wrong; True otherwise (for ``assert c.in_sync()``)."""
        noop = self.cmd("NOOP")
        assert noop.code == 250, f"NOOP answered {noop}: out of sync"
        quit_ = self.cmd("QUIT")
        assert quit_.code == 221, f"QUIT answered {quit_}: out of sync"
        assert self.closed_by_peer(), "the server did not close after QUIT"
        assert self.buf == b"", f"bytes after QUIT: {self.buf!r}"
        return True
