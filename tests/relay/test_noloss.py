"""No loss (SPEC §3): a ``250`` is a promise that survives ``kill -9``.

A real ``mailgate serve --relay-only`` process takes a bounded load from several smtplib clients
while a capture sink (this process) plays the upstream and answers DATA slowly, so transactions
are in flight there. Once a third of the messages are acknowledged, and while some are still in
the middle of their upstream DATA, the relay gets SIGKILL. It is restarted on the same port and
store; the clients send the rest and re-send what was not acknowledged, as a real client retries.
Then: every message acknowledged before the kill is at the upstream (verdict pass → deliver) or in
the quarantine (verdict warn → hold), the ones cut off at the upstream were not acknowledged, and
in the end every message is where its verdict says. Duplicates (a message stored before the kill
whose 250 never reached the client) are allowed: SMTP is at-least-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import json
import os
import queue
import random
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailgate.relay.testing import CaptureSink
from mailgate.store import Store
from tests.conftest import EXAMPLES
from tests.relay.conftest import PASS_EML, PASS_RCPTS, SENDER, WARN_EML, WARN_RCPTS, example
from tests.relay.test_actions_paths import crlf

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process groups and /proc: Linux only")

MAILGATE = Path(sys.executable).with_name("mailgate")
TOTAL = 200
CLIENTS = 6
SINK_DELAY = 0.5  # seconds the upstream takes to answer DATA: long enough to be caught in flight
MID_RE = re.compile(rb"^Message-ID: <(noloss-\d+)@", re.I | re.M)


# -- the messages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    mid: str
    verdict: str  # "pass" → delivered upstream, "warn" → held in the quarantine
    rcpts: list[str]
    data: bytes


def make_mails() -> list[Mail]:
    mails = []
    for i in range(TOTAL):
        mid = f"noloss-{i:03d}"
        verdict, name, rcpts = ("warn", WARN_EML, WARN_RCPTS) if i % 3 == 0 else ("pass", PASS_EML, PASS_RCPTS)
        data = f"Message-ID: <{mid}@test.demo.example.cn>\r\n".encode() + crlf(example(name))
        mails.append(Mail(mid, verdict, rcpts, data))
    return mails


def message_id(data: bytes) -> str | None:
    m = MID_RE.search(data.split(b"\r\n\r\n", 1)[0])
    return m.group(1).decode() if m else None


# -- the upstream: a capture sink that also knows which DATA it is in the middle of -------------------


class InFlight:
    """Wraps the sink's aiosmtpd handler: messages in DATA now, and those cut off in DATA."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.active: dict[str, float] = {}  # Message-ID -> when its DATA reached the sink
        self.cut: set[str] = set()

    def __getattr__(self, name: str) -> Any:  # every other hook is the sink's own
        return getattr(self.inner, name)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> Any:
        mid = message_id(bytes(envelope.original_content or b""))
        if mid is not None:
            with self.lock:
                self.active[mid] = time.monotonic()
        try:
            return await self.inner.handle_DATA(server, session, envelope)
        except asyncio.CancelledError:  # the relay's connection went away before our reply
            if mid is not None:
                with self.lock:
                    self.cut.add(mid)
            raise
        finally:
            if mid is not None:
                with self.lock:
                    self.active.pop(mid, None)

    def snapshot(self, younger_than: float = float("inf")) -> tuple[set[str], set[str]]:
        """Messages in DATA now (those that got there less than ``younger_than`` s ago), and cut off."""
        now = time.monotonic()
        with self.lock:
            return {mid for mid, t in self.active.items() if now - t < younger_than}, set(self.cut)


@pytest.fixture
def tracked_sink() -> Iterator[tuple[CaptureSink, InFlight]]:
    sink = CaptureSink()
    controller = sink._controller  # no public hook for this yet
    tracker = InFlight(controller.handler)
    controller.handler = tracker
    sink.behaviour.delay = SINK_DELAY
    with sink:
        yield sink, tracker


# -- the relay as a real process -------------------------------------------------------------------------


def write_config(tmp_path: Path, url: str, relay: dict[str, Any], policy: dict[str, Any]) -> Path:
    """The demo organisation's config, with [relay], [policy] and the store at ``url`` (the test's
    ``store_url``: SQLite in tmp_path, or its own PostgreSQL database in the PostgreSQL pass)."""
    demo = tomllib.loads((EXAMPLES / "mailgate.toml").read_text(encoding="utf-8"))
    organization = dict(demo["organization"])
    organization["directory"] = str((EXAMPLES / organization["directory"]).resolve())
    tables = {"organization": organization, "relay": relay, "policy": policy, "storage": {"url": url}}
    lines = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        for key, value in values.items():
            assert isinstance(value, str | int | float | bool | list), (name, key)
            lines.append(f"{key} = {json.dumps(value)}")  # JSON scalars and arrays are valid TOML
    path = tmp_path / "mailgate.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def quiet_port() -> int:
    """A free port outside the kernel's ephemeral range. While the relay warms up (seconds on a busy
    machine) and across its restart, no outgoing connection can take it, as it could a port from
    :func:`free_port`."""
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    candidates = [p for p in range(10_000, 65_536) if not low <= p <= high]
    for port in random.sample(candidates, 50):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port outside the ephemeral range")


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` itself holds the listening socket on ``port`` (not someone else)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{f[9]}]")
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # gone
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(fd) in inodes:
                return True
    return False


class RelayProcesses:
    """Starts ``mailgate serve --relay-only`` in its own process group; kills what is left at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, config: Path, port: int, timeout: float = 90.0) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"relay-{len(self.started)}.log").open("wb")
        proc = subprocess.Popen(
            [str(MAILGATE), "serve", "--relay-only", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: pgid == pid
        )
        log.close()
        self.started.append(proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"relay exited with {proc.returncode}:\n{self.log(proc)}")
            if not listens(proc.pid, port):  # the lint workers warm up before the relay listens
                time.sleep(0.05)
                continue
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.settimeout(30)
                    if s.recv(512).startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return proc
            except OSError:
                pass
            time.sleep(0.05)
        pytest.fail(f"relay not ready on port {port} after {timeout:.0f} s:\n{self.log(proc)}")

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        path = self.tmp_path / f"relay-{self.started.index(proc)}.log"
        return path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def cleanup(self) -> None:
        for proc in self.started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[RelayProcesses]:
    r = RelayProcesses(tmp_path)
    try:
        yield r
    finally:
        r.cleanup()


def live_group_members(pgid: int) -> list[int]:
    """Processes of a process group that are still running (zombies do not count)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


# -- the clients -------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    mid: str
    acked: bool
    detail: str
    ended: float


def send_one(port: int, mail: Mail) -> Outcome:
    """One client transaction. Acknowledged means: the server answered 250 to the end of DATA."""
    try:
        c = smtplib.SMTP("127.0.0.1", port, timeout=60)
    except OSError as exc:
        return Outcome(mail.mid, False, f"connect: {exc!r}", time.monotonic())
    try:
        refused = c.sendmail(SENDER, mail.rcpts, mail.data)
        acked, detail = True, f"250 refused={refused}"
    except (smtplib.SMTPException, OSError) as exc:
        acked, detail = False, repr(exc)
    ended = time.monotonic()
    with contextlib.suppress(smtplib.SMTPException, OSError):
        c.quit()
    c.close()
    return Outcome(mail.mid, acked, detail, ended)


def run_clients(
    port: int, mails: list[Mail], stop: threading.Event, results: dict[str, Outcome]
) -> list[threading.Thread]:
    """CLIENTS threads sending from a shared queue until it is empty or ``stop`` is set."""
    work: queue.Queue[Mail] = queue.Queue()
    for m in mails:
        work.put(m)
    lock = threading.Lock()

    def client() -> None:
        while not stop.is_set():
            try:
                mail = work.get_nowait()
            except queue.Empty:
                return
            outcome = send_one(port, mail)
            with lock:
                results[mail.mid] = outcome

    threads = [threading.Thread(target=client, name=f"client-{i}", daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    return threads


def join(threads: list[threading.Thread], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "clients hung"


# -- where the messages are ----------------------------------------------------------------------------------


def at_upstream(sink: CaptureSink) -> Counter[str]:
    found: Counter[str] = Counter()
    for m in list(sink.messages):
        if email.message_from_bytes(m.data).get("X-Mailgate-Report") is None and (mid := message_id(m.data)):
            found[mid] += 1
    return found


def in_quarantine(url: str) -> Counter[str]:
    store = Store(url)
    try:
        return Counter(mid for e in store.quarantine(status=None, limit=100_000) if (mid := message_id(e.data)))
    finally:
        store.close()


def misplaced(mails: list[Mail], mids: set[str], upstream: Counter[str], held: Counter[str]) -> list[str]:
    """The messages of ``mids`` that are not exactly where their verdict sends them."""
    bad = []
    for mail in mails:
        if mail.mid not in mids:
            continue
        where = (upstream[mail.mid] > 0, held[mail.mid] > 0)
        if where != ((True, False) if mail.verdict == "pass" else (False, True)):
            bad.append(f"{mail.mid} ({mail.verdict}): upstream×{upstream[mail.mid]} quarantine×{held[mail.mid]}")
    return bad


# -- the tests ---------------------------------------------------------------------------------------------


def test_sigkill_mid_load_loses_no_acknowledged_message(
    tmp_path: Path, store_url: str, tracked_sink: tuple[CaptureSink, InFlight], relays: RelayProcesses
) -> None:
    sink, tracker = tracked_sink
    port = quiet_port()
    relay_cfg = {
        "listen": f"127.0.0.1:{port}",
        "upstream": f"127.0.0.1:{sink.port}",
        "upstream_timeout": 30,
        "workers": 1,
        "processes": 1,
    }
    url = store_url
    config = write_config(tmp_path, url, relay_cfg, {"warn": "hold"})
    mails = make_mails()
    by_mid = {m.mid: m for m in mails}

    # Phase 1: load, then SIGKILL once a third is acknowledged and DATA is in flight upstream.
    t0 = time.monotonic()
    first = relays.start(config, port)
    t1 = time.monotonic()
    stop = threading.Event()
    results1: dict[str, Outcome] = {}
    threads = run_clients(port, mails, stop, results1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        acked = sum(1 for o in list(results1.values()) if o.acked)
        fresh, _ = tracker.snapshot(younger_than=SINK_DELAY / 2)  # each still has ≥ SINK_DELAY/2 to go
        if acked >= TOTAL // 3 and len(fresh) >= 2:
            break
        time.sleep(0.002)
    in_flight_at_kill, _ = tracker.snapshot()
    killed_at = time.monotonic()
    stop.set()
    os.kill(first.pid, signal.SIGKILL)
    join(threads)
    first.wait(10)
    assert first.returncode == -signal.SIGKILL
    with contextlib.suppress(ProcessLookupError):
        os.killpg(first.pid, signal.SIGKILL)  # the lint worker it leaves behind (see the next test)
    # The sink notices the dropped connections and cancels the DATA it was answering.
    limit = time.monotonic() + 10
    while tracker.snapshot()[0] and time.monotonic() < limit:
        time.sleep(0.01)
    active_after, cut = tracker.snapshot()
    assert not active_after, "the upstream still answers DATA for a dead relay"

    acked1 = {mid for mid, o in results1.items() if o.acked}
    failed1 = {mid: o for mid, o in results1.items() if not o.acked}
    untried = [m for m in mails if m.mid not in results1]
    early = {mid: o.detail for mid, o in failed1.items() if o.ended < killed_at}
    assert not early, f"failures before the kill: {early}"
    assert len(acked1) >= TOTAL // 3 and failed1 and untried, "the kill did not land mid-way"
    # (A message seen in DATA just before the kill may still have finished in time, hence no
    # "in_flight_at_kill <= cut": the kill races the sink's reply.)
    assert in_flight_at_kill and cut, "no upstream DATA in flight at the kill"
    assert cut <= set(failed1), f"cut off at the upstream yet acknowledged: {sorted(cut - set(failed1))}"

    # Right after the kill, before anything restarts: every 250 is already where it belongs.
    upstream, held = at_upstream(sink), in_quarantine(url)
    assert not misplaced(mails, acked1, upstream, held), misplaced(mails, acked1, upstream, held)
    for mid in acked1:  # delivered unchanged
        if by_mid[mid].verdict == "pass":
            assert all(m.data == by_mid[mid].data for m in sink.messages if message_id(m.data) == mid)

    # Phase 2: restart on the same port and store; send the rest and retry the unacknowledged.
    sink.behaviour.delay = 0.01  # the slow upstream was for catching DATA in flight; now just finish
    t2 = time.monotonic()
    second = relays.start(config, port)
    t3 = time.monotonic()
    retry = [m for m in mails if m.mid not in acked1]
    results2: dict[str, Outcome] = {}
    join(run_clients(port, retry, threading.Event(), results2))
    not_acked = {mid: o.detail for mid, o in results2.items() if not o.acked}
    assert not not_acked and len(results2) == len(retry), not_acked

    upstream, held = at_upstream(sink), in_quarantine(url)
    everything = {m.mid for m in mails}
    assert not misplaced(mails, everything, upstream, held), misplaced(mails, everything, upstream, held)
    duplicates = sum((upstream + held).values()) - TOTAL
    print(
        f"\nkill after {len(acked1)} acks; {len(in_flight_at_kill)} in upstream DATA at the kill, {len(cut)} cut off; "
        f"{len(failed1)} failed by the kill, {len(untried)} not yet sent; {duplicates} duplicate(s) after retry; "
        f"start {t1 - t0:.1f} s, load until kill {t2 - t1:.1f} s, restart {t3 - t2:.1f} s, "
        f"the rest {time.monotonic() - t3:.1f} s"
    )

    second.send_signal(signal.SIGTERM)  # and a clean stop still works after all that
    code = second.wait(30)
    assert code == 0, f"exit status {code} after SIGTERM:\n{relays.log(second)}"


def test_sigkill_of_the_relay_takes_its_lint_workers_down(
    tmp_path: Path, store_url: str, relays: RelayProcesses
) -> None:
    """A relay killed with SIGKILL must not leave lint worker processes (each holding the policy and
    the NLP pipeline) running on their own; without cgroups nobody else would ever stop them."""
    port = quiet_port()
    config = write_config(tmp_path, store_url, {"listen": f"127.0.0.1:{port}", "workers": 1, "processes": 1}, {})
    relay = relays.start(config, port)
    members = live_group_members(relay.pid)
    assert relay.pid in members and len(members) >= 2, members  # the relay and its lint worker(s)
    os.kill(relay.pid, signal.SIGKILL)
    relay.wait(10)
    deadline = time.monotonic() + 10
    while (left := live_group_members(relay.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"still running 10 s after the relay was killed: {left}"
