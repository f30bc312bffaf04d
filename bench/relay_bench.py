"""SMTP relay throughput and latency, side by side in one run, with Postfix's test tools.

Usage: .venv/bin/python bench/relay_bench.py [--seconds 8] [--repeat 3] [--sessions 20]
       [--bare 1,2] [--mailgate 1:1,1:2,2:1] [--rate 100] [--latency-seconds 15]
       [--wait-idle LOAD] [--write]

Everything goes to ``smtp-sink`` on a free loopback port (the upstream), through:

  (a) nothing: smtp-source → smtp-sink directly;
  (b) ``bench/bare_relay.py``: a bare aiosmtpd pass-through relay without linting (before-queue,
      aiosmtplib upstream), per process count, with a new upstream connection per transaction (as
      mailgate did before its connection pool) and with pooled ones (as mailgate's pool: 8 idle, 5 s,
      QUIT for the surplus); like mailgate it looks its host name up once, not per connection;
  (c) ``mailgate serve --relay-only`` with every check on, the demo organisation
      (``checks/examples/mailgate.toml`` + ``directory.csv``), per ``processes:workers`` pair.

The message is ``checks/examples/action-items/good.eml`` (a compliant Chinese notice from
lina@demo.example.cn; verdict pass, so mailgate delivers it). Throughput: ``smtp-source -s S -m M
-F good.eml`` (one connection per message, HELO/MAIL/RCPT/DATA/QUIT), M tuned by a pilot run so a
timed run lasts about ``--seconds``; msg/s = messages smtp-sink received during the run / wall
time of smtp-source. Runs go round-robin over the targets, ``--repeat`` times; the table shows the
median. Latency: an open-loop client in this script sends ``--rate`` msg/s for
``--latency-seconds`` (after one second of warm-up), one connection and transaction per message
(EHLO, MAIL, RCPT zhaoqiang + wangfang, DATA), and times each from its scheduled start to the
final reply. ``--write`` puts the result into bench/RESULTS.md as the section
"## SMTP relay throughput and latency" (replacing an earlier one).

All servers run in their own process groups and are stopped on exit, Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "checks" / "examples"
MESSAGE = EXAMPLES / "action-items" / "good.eml"
SENDER = "lina@demo.example.cn"
RCPT = "zhaoqiang@demo.example.cn"  # smtp-source sends one recipient
LATENCY_RCPTS = ("zhaoqiang@demo.example.cn", "wangfang@demo.example.cn")  # To + Cc of the message
SECTION = "## SMTP relay throughput and latency"
MARKER = "<!-- end of relay_bench.py output; notes below this line are kept by --write -->"
RESULTS = ROOT / "bench" / "RESULTS.md"
SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
READY_TIMEOUT = 180.0  # mailgate's workers load the NLP pipeline before the port opens


# -- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_sockets(port: int) -> int:
    """How many sockets listen on the port (one per process with SO_REUSEPORT)."""
    needle = f":{port:04X}"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[1].endswith(needle) and fields[3] == "0A":
                    inodes.add(fields[9])
    return len(inodes)


@dataclasses.dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


class Servers:
    """Processes started here, each in its own process group; ``stop_all`` ends every group."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: list[Server] = []

    def start(self, name: str, argv: Sequence[str], *, stdout: Path | None = None) -> Server:
        log = self.workdir / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}.log"
        out = open(stdout or log, "wb")  # noqa: SIM115 - the child keeps it
        err = out if stdout is None else open(log, "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=self.workdir, start_new_session=True
        )
        out.close()
        if err is not out:
            err.close()
        server = Server(name, proc, log)
        self.running.append(server)
        return server

    def wait_listening(self, server: Server, port: int, sockets: int, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{server.tail()}")
            if listening_sockets(port) >= sockets:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{server.name} not listening on {port} after {timeout:.0f} s:\n{server.tail()}")

    def stop(self, server: Server, timeout: float = 20.0) -> None:
        proc = server.proc
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        # Whatever is left in the group (lint workers, forkserver): gone now.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if server in self.running:
            self.running.remove(server)

    def stop_all(self) -> None:
        for server in reversed(list(self.running)):
            self.stop(server)


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        found.extend(frontier)
    return found


def cpu_seconds(root: int) -> dict[str, float]:
    """CPU time (user + system) of a process tree, split into lint workers and the rest."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"relay": 0.0, "lint": 0.0}
    for pid in descendants(root):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ppid, used = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
            parent_cmd = Path(f"/proc/{ppid}/cmdline").read_bytes()
            totals["lint" if b"forkserver" in parent_cmd else "relay"] += used
    return totals


# -- the upstream --------------------------------------------------------------------------------------


class Sink:
    """smtp-sink with running counters (``-c``) written to a file; ``received()`` reads the last one."""

    def __init__(self, servers: Servers) -> None:
        self.port = free_port()
        self.counters = servers.workdir / "smtp-sink.counters"
        argv = [SMTP_SINK, "-c"]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]  # required when run as root
        argv += ["-m", "1000", f"127.0.0.1:{self.port}", "1000"]
        self.argv = argv
        self.server = servers.start("smtp-sink", argv, stdout=self.counters)
        servers.wait_listening(self.server, self.port, 1, timeout=10)

    def received(self) -> int:
        return self.counter("mesg")

    def counter(self, name: str) -> int:
        """The last value of one of smtp-sink's counters: mesg (messages), sess (sessions ended)."""
        text = self.counters.read_bytes()[-4096:].decode("ascii", "replace")
        counts = re.findall(name + r"=(\d+)", text)
        return int(counts[-1]) if counts else 0

    def settle(self, timeout: float = 5.0) -> int:
        """The count once it stopped moving (the last '.' may still be on its way)."""
        last, stable_since = self.received(), time.monotonic()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.received()
            if now != last:
                last, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since >= 0.3:
                break
        return last


# -- the targets ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Target:
    name: str
    kind: str  # direct | bare | mailgate
    port: int
    processes: int = 0
    workers: int = 0
    pool: bool = False
    server: Server | None = None
    db: Path | None = None
    throughput: list[float] = dataclasses.field(default_factory=list)
    short: list[str] = dataclasses.field(default_factory=list)  # runs where the sink got fewer than sent
    cpu_ms: list[dict[str, float]] = dataclasses.field(default_factory=list)
    sink_sessions: list[float] = dataclasses.field(default_factory=list)  # upstream sessions ended per message
    latency: dict[float, LatencyResult] = dataclasses.field(default_factory=dict)  # by msg/s


def mailgate_supports_processes() -> bool:
    from mailgate.relay.config import RelaySettings

    return "processes" in {f.name for f in dataclasses.fields(RelaySettings)}


def mailgate_pools() -> bool:
    """Whether mailgate keeps upstream connections for reuse (its ConnectionPool)."""
    from mailgate.relay import upstream

    return hasattr(upstream, "ConnectionPool")


def mailgate_config(workdir: Path, name: str, port: int, upstream: int, processes: int, workers: int) -> Path:
    """The demo organisation's config with a [relay] and a [storage] of its own."""
    folder = workdir / name
    folder.mkdir()
    shutil.copy(EXAMPLES / "directory.csv", folder / "directory.csv")
    demo = (EXAMPLES / "mailgate.toml").read_text(encoding="utf-8")
    if re.search(r"^\[(relay|storage|policy)\]", demo, re.M):
        raise RuntimeError("checks/examples/mailgate.toml grew a [relay]/[storage]/[policy] table: update the bench")
    relay = [f'listen = "127.0.0.1:{port}"', f'upstream = "127.0.0.1:{upstream}"', f"workers = {workers}"]
    if processes != 1:
        relay.append(f"processes = {processes}")
    text = (
        demo.rstrip()
        + "\n\n[relay]\n"
        + "\n".join(relay)
        + f'\n\n[storage]\nurl = "sqlite:///{folder / "mailgate.db"}"\n'
    )
    path = folder / "mailgate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start_targets(servers: Servers, sink: Sink, args: argparse.Namespace) -> list[Target]:
    targets = [Target("direct to smtp-sink", "direct", sink.port)]
    for processes in args.bare:
        for pool in (True, False) if args.bare_upstream == "both" else (args.bare_upstream == "pool",):
            port = free_port()
            argv = [sys.executable, str(ROOT / "bench" / "bare_relay.py"), "--listen", f"127.0.0.1:{port}"]
            argv += ["--upstream", f"127.0.0.1:{sink.port}", "--processes", str(processes)]
            argv += ["--upstream-reuse", "pool" if pool else "per-transaction"]
            name = f"bare relay, {processes} proc, " + ("pooled upstream" if pool else "upstream per transaction")
            t = Target(name, "bare", port, processes=processes, pool=pool)
            t.server = servers.start(name, argv)
            targets.append(t)
    mailgate = shutil.which("mailgate", path=str(Path(sys.executable).parent)) or "mailgate"
    for processes, workers in args.mailgate:
        port = free_port()
        name = f"mailgate, {processes} proc × {workers} lint workers"
        config = mailgate_config(
            servers.workdir, f"mailgate-{processes}x{workers}", port, sink.port, processes, workers
        )
        t = Target(name, "mailgate", port, processes=processes, workers=workers, db=config.parent / "mailgate.db")
        t.server = servers.start(name, [mailgate, "serve", "--relay-only", "--config", str(config)])
        targets.append(t)
    for t in targets[1:]:
        assert t.server is not None
        servers.wait_listening(t.server, t.port, t.processes)
    return targets


# -- throughput: smtp-source ----------------------------------------------------------------------------


def smtp_source(port: int, sessions: int, messages: int) -> list[str]:
    return [
        SMTP_SOURCE, "-A", "-s", str(sessions), "-m", str(messages), "-f", SENDER, "-t", RCPT,
        "-F", str(MESSAGE), f"127.0.0.1:{port}",
    ]  # fmt: skip


def run_source(target: Target, sink: Sink, sessions: int, messages: int) -> tuple[int, float, str]:
    """(messages the sink received, wall seconds, smtp-source's stderr)."""
    before, sessions_before = sink.settle(), sink.counter("sess")
    started = time.monotonic()
    done = subprocess.run(smtp_source(target.port, sessions, messages), capture_output=True, timeout=600)
    wall = time.monotonic() - started
    got = sink.settle() - before
    target.sink_sessions.append((sink.counter("sess") - sessions_before) / max(got, 1))
    return got, wall, done.stderr.decode(errors="replace").strip()


def measure_throughput(targets: list[Target], sink: Sink, args: argparse.Namespace) -> None:
    sizes: dict[str, int] = {}
    for t in targets:  # pilot: warms every path up and sizes the timed runs
        pilot = max(args.sessions * 10, 200)
        got, wall, err = run_source(t, sink, args.sessions, pilot)
        if got < pilot:
            raise RuntimeError(f"{t.name}: the sink got {got} of {pilot} pilot messages\n{err[-2000:]}")
        sizes[t.name] = max(args.sessions * 20, int(round(got / wall * args.seconds, -2)))
        t.sink_sessions.clear()
        print(f"  pilot {t.name}: {got / wall:,.0f} msg/s → {sizes[t.name]} messages per run", file=sys.stderr)
    for run in range(args.repeat):
        for t in targets:
            m = sizes[t.name]
            cpu0 = cpu_seconds(t.server.proc.pid) if t.server else None
            got, wall, err = run_source(t, sink, args.sessions, m)
            if t.server and cpu0 is not None:
                cpu1 = cpu_seconds(t.server.proc.pid)
                t.cpu_ms.append({k: (cpu1[k] - cpu0[k]) * 1000 / max(got, 1) for k in cpu1})
            t.throughput.append(got / wall)
            if got < m:
                t.short.append(f"run {run + 1}: {got}/{m} received; smtp-source said: {err[-300:]!r}")
            print(f"  run {run + 1} {t.name}: {got}/{m} in {wall:.2f} s = {got / wall:,.0f} msg/s", file=sys.stderr)


# -- latency: an open-loop client -------------------------------------------------------------------


@dataclasses.dataclass
class LatencyResult:
    sent: int
    ok: int
    errors: Counter[str]
    p50: float
    p95: float
    p99: float
    max: float
    late_ms: float  # how far behind its schedule the client started its worst message


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class SmtpError(Exception):
    pass


async def _reply(reader: asyncio.StreamReader) -> tuple[int, str]:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise SmtpError("connection closed")
        lines.append(line.decode("utf-8", "replace").rstrip())
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), "\n".join(lines)


async def _expect(reader: asyncio.StreamReader, code: int) -> None:
    got, text = await _reply(reader)
    if got != code:
        raise SmtpError(text[:200])


def wire_data(raw: bytes) -> bytes:
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines) + b".\r\n"


async def one_transaction(port: int, data: bytes) -> tuple[int, str]:
    """EHLO, MAIL, RCPT…, DATA on a new connection: the final reply. QUIT is left to the caller."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await _expect(reader, 220)
        writer.write(b"EHLO bench.demo.example.cn\r\n")
        await _expect(reader, 250)
        writer.write(f"MAIL FROM:<{SENDER}>\r\n".encode())
        await _expect(reader, 250)
        for rcpt in LATENCY_RCPTS:
            writer.write(f"RCPT TO:<{rcpt}>\r\n".encode())
            await _expect(reader, 250)
        writer.write(b"DATA\r\n")
        await _expect(reader, 354)
        writer.write(data)
        code, text = await _reply(reader)
        writer.write(b"QUIT\r\n")
        with contextlib.suppress(SmtpError, OSError):
            await asyncio.wait_for(_reply(reader), 5)
        return code, text
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def open_loop(port: int, rate: float, seconds: float, warmup: float = 1.0) -> LatencyResult:
    data = wire_data(MESSAGE.read_bytes())
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    late = 0.0
    tasks: set[asyncio.Task[None]] = set()

    async def one(scheduled: float, record: bool) -> None:
        nonlocal late
        late = max(late, loop.time() - scheduled)
        try:
            code, text = await asyncio.wait_for(one_transaction(port, data), 60)
        except (SmtpError, OSError, TimeoutError) as exc:
            if record:
                errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
            return
        if record:
            if code == 250:
                latencies.append(loop.time() - scheduled)
            else:
                errors[text.splitlines()[-1][:80]] += 1

    start = loop.time() + 0.05
    total = round(rate * (warmup + seconds))
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.ensure_future(one(scheduled, record=i >= rate * warmup))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    ordered = sorted(latencies)
    ms = [x * 1000 for x in ordered]
    return LatencyResult(
        sent=total - round(rate * warmup),
        ok=len(ms),
        errors=errors,
        p50=percentile(ms, 50),
        p95=percentile(ms, 95),
        p99=percentile(ms, 99),
        max=ms[-1] if ms else math.nan,
        late_ms=late * 1000,
    )


def measure_latency(targets: list[Target], sink: Sink, args: argparse.Namespace) -> None:
    for rate, t in ((rate, t) for rate in args.rate for t in targets):
        before = sink.settle()
        r = t.latency[rate] = asyncio.run(open_loop(t.port, rate, args.latency_seconds))
        got = sink.settle() - before
        print(f"  latency {rate:g}/s {t.name}: p50 {r.p50:.1f} p95 {r.p95:.1f} p99 {r.p99:.1f} max {r.max:.1f} ms, "
              f"{r.ok}/{r.sent} ok, sink +{got}, errors {dict(r.errors)}", file=sys.stderr)  # fmt: skip


# -- checks on what happened -------------------------------------------------------------------------------


def preflight(targets: list[Target], sink: Sink) -> None:
    """One message through each target must come back 250 and reach the sink."""
    data = wire_data(MESSAGE.read_bytes())
    for t in targets:
        before = sink.settle()
        code, text = asyncio.run(one_transaction(t.port, data))
        got = sink.settle() - before
        # each recipient is one RCPT of the same transaction: the sink counts one message
        if code != 250 or got != 1:
            raise RuntimeError(f"{t.name}: preflight answered {text!r}, the sink received {got}")


def audit_summary(db: Path) -> str:
    """verdict/action/smtp code counts from mailgate's audit table (several processes: one SQLite file)."""
    if not db.exists():
        return "no audit store"
    with contextlib.closing(sqlite3.connect(db)) as con:
        rows = con.execute(
            "SELECT verdict, action, smtp_code, COUNT(*), AVG(latency_ms) FROM audit GROUP BY 1, 2, 3"
        ).fetchall()
    return "; ".join(f"{v}/{a}/{c}: {n:,} (mean {lat:.1f} ms in the relay)" for v, a, c, n, lat in rows)


def log_problems(server: Server) -> Counter[str]:
    """WARNING/ERROR lines and tracebacks in a server's log, by their text without ids and numbers."""
    found: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in server.log.read_text(errors="replace").splitlines():
            text = ""
            if line.startswith("{"):  # mailgate's JSON log lines
                with contextlib.suppress(ValueError, AttributeError):
                    record = json.loads(line)
                    level = str(record.get("level") or record.get("levelname") or "")
                    if level.upper() in ("WARNING", "ERROR", "CRITICAL"):
                        text = f"{level} {record.get('logger', '')} {record.get('msg') or record.get('message') or ''}"
            elif re.search(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback", line):
                text = line if line.startswith("Traceback") else line.split(" ", 2)[-1]
            if text:
                found[re.sub(r"\d+", "N", text)[:160]] += 1
    return found


# -- the report ----------------------------------------------------------------------------------------------


def fmt_rate(values: Sequence[float]) -> str:
    return f"{statistics.median(values):,.0f}" if values else "—"


def baselines(targets: list[Target], pooled: bool) -> tuple[dict[int, Target], dict[int, Target]]:
    """Bare relays by process count: with mailgate's kind of upstream reuse, and with the other kind."""
    same = {t.processes: t for t in targets if t.kind == "bare" and t.pool == pooled}
    other = {t.processes: t for t in targets if t.kind == "bare" and t.pool != pooled}
    return same, other


def throughput_table(targets: list[Target], pooled: bool) -> list[str]:
    bare, others = baselines(targets, pooled)
    out = [
        "| target | accepted msg/s (median) | runs | relay CPU ms/msg | lint CPU ms/msg "
        "| upstream sessions/msg | mailgate / bare relay (same processes and upstream reuse) |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for t in targets:
        runs = ", ".join(f"{x:,.0f}" for x in t.throughput)
        relay = fmt_cpu(t, "relay")
        lint = fmt_cpu(t, "lint") if t.kind == "mailgate" else "—"
        ratio = "—"
        base = bare.get(t.processes)
        if t.kind == "mailgate" and base and base.throughput and t.throughput:
            r = statistics.median(t.throughput) / statistics.median(base.throughput)
            ratio = f"**{r:.2f}** (target ≥ 0.50)"
            other = others.get(t.processes)
            if other and other.throughput:
                r = statistics.median(t.throughput) / statistics.median(other.throughput)
                ratio += f"; {r:.2f} vs {'pooled' if other.pool else 'per-transaction'} upstream"
        name = f"**{t.name}**" if t.kind == "mailgate" else t.name
        upstream = f"{statistics.median(t.sink_sessions):.2f}" if t.sink_sessions else "—"
        out.append(f"| {name} | {fmt_rate(t.throughput)} | {runs} | {relay} | {lint} | {upstream} | {ratio} |")
    return out


def fmt_cpu(t: Target, key: str) -> str:
    values = [c[key] for c in t.cpu_ms]
    return f"{statistics.median(values):.2f}" if values else "—"


def latency_table(targets: list[Target], rate: float, pooled: bool) -> list[str]:
    direct = next((t.latency.get(rate) for t in targets if t.kind == "direct"), None)
    bare = {p: t.latency.get(rate) for p, t in baselines(targets, pooled)[0].items()}
    out = [
        f"| target ({rate:g} msg/s) | ok / sent | p50 ms | p95 ms | p99 ms | max ms | added p99 vs direct | "
        "added p99 vs bare, same processes |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in targets:
        r = t.latency.get(rate)
        if r is None:
            continue
        vs_direct = f"{r.p99 - direct.p99:+.1f}" if direct and t.kind != "direct" else "—"
        b = bare.get(t.processes)
        vs_bare = f"{r.p99 - b.p99:+.1f}" if b is not None and t.kind == "mailgate" else "—"
        if t.kind == "mailgate":
            vs_direct = f"**{vs_direct}** (target ≤ 50)"
        name = f"**{t.name}**" if t.kind == "mailgate" else t.name
        out.append(
            f"| {name} | {r.ok:,} / {r.sent:,} | {r.p50:.1f} | {r.p95:.1f} | {r.p99:.1f} | {r.max:.1f} | "
            f"{vs_direct} | {vs_bare} |"
        )
    return out


def git_head() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
        )
    except OSError:
        return "an unknown commit"
    return f"commit `{head.stdout.strip()}`" if head.returncode == 0 else "an unknown commit"


def render(
    targets: list[Target], args: argparse.Namespace, command: str, notes: list[str], load: tuple[float, float]
) -> str:
    today = dt.date.today().isoformat()
    lines = [
        f"{SECTION} — {today}",
        "",
        "Command:",
        "",
        "```sh",
        command,
        "```",
        "",
        f"mailgate at {git_head()}. Machine: {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; smtp-source, "
        f"smtp-sink and this script's latency client run on the same cores as the relays; load average "
        f"(1 min) {load[0]:.2f} at the start, {load[1]:.2f} at the end.",
        "",
        f"The message: `checks/examples/action-items/good.eml` ({MESSAGE.stat().st_size:,} bytes, a compliant "
        "Chinese notice; verdict pass, delivered), envelope from lina@demo.example.cn. mailgate runs "
        "`serve --relay-only` with every check on and the demo organisation, upstream = smtp-sink; the "
        "bare relay is `bench/bare_relay.py` (aiosmtpd → aiosmtplib, before-queue, no linting). mailgate "
        + (
            "keeps idle upstream connections for reuse (up to 8, 5 s; the surplus gets a QUIT), and so "
            "does the pooled bare relay."
            if mailgate_pools()
            else "opens one upstream connection per transaction."
        )
        + " Both look the host name up once at start (greeting and upstream EHLO) and send one EHLO "
        "per new upstream connection.",
        "",
        f"Throughput: `smtp-source -A -s {args.sessions} -m M -F good.eml` (one connection per message, one "
        f"recipient), M sized so a run lasts about {args.seconds:g} s; accepted = messages smtp-sink "
        f"received; {args.repeat} runs per target, round-robin; CPU per accepted message summed over the "
        'target\'s process tree ("lint" = the lint worker processes).',
        "",
        *throughput_table(targets, mailgate_pools()),
    ]
    if args.latency:
        lines += [
            "",
            f"Latency: open-loop client, {' and '.join(f'{r:g}' for r in args.rate)} msg/s, "
            f"{args.latency_seconds:g} s each after 1 s of "
            "warm-up, a new connection per message (EHLO, MAIL, two RCPT, DATA), timed from the scheduled "
            'start to the final reply; "added" = difference of the p99s.',
            *(line for rate in args.rate for line in ["", *latency_table(targets, rate, mailgate_pools())]),
        ]
    if notes:
        lines += ["", *notes]
    return "\n".join([*lines, "", MARKER]) + "\n"


def write_section(text: str) -> None:
    """Replace the generated part of the section (up to MARKER) and keep the notes written after it."""
    current = RESULTS.read_text(encoding="utf-8")
    start = current.find("\n" + SECTION)
    if start < 0:
        RESULTS.write_text(current.rstrip("\n") + "\n\n" + text, encoding="utf-8")
        return
    end = current.find("\n## ", start + 1)
    end = len(current) if end < 0 else end
    old = current[start + 1 : end]
    kept = old.split(MARKER, 1)[1] if MARKER in old else ""
    head, tail = current[: start + 1].rstrip("\n"), current[end:]
    body = text.rstrip("\n") + ("\n\n" + kept.strip("\n") if kept.strip() else "") + "\n"
    RESULTS.write_text(head + "\n\n" + body + tail, encoding="utf-8")


# -- main --------------------------------------------------------------------------------------------------


def _ints(value: str) -> list[int]:
    return [int(x) for x in value.split(",") if x.strip()]


def _floats(value: str) -> list[float]:
    return [float(x) for x in value.split(",") if x.strip()]


def _pairs(value: str) -> list[tuple[int, int]]:
    pairs = []
    for item in value.split(","):
        if item.strip():
            p, _, w = item.partition(":")
            pairs.append((int(p), int(w or 1)))
    return pairs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="target length of a throughput run")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs per target")
    parser.add_argument("--sessions", type=int, default=20, help="smtp-source parallel sessions")
    parser.add_argument("--bare", type=_ints, default=[1, 2], help="bare relay process counts, e.g. 1,2")
    parser.add_argument(
        "--bare-upstream", choices=["both", "pool", "per-transaction"], default="both", help="bare relay variants"
    )
    parser.add_argument(
        "--mailgate", type=_pairs, default=[(1, 1), (1, 2), (2, 1)], help="processes:workers pairs, e.g. 1:2,2:1"
    )
    parser.add_argument("--rate", type=_floats, default=[100.0], help="latency client msg/s, e.g. 50,100")
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument("--no-latency", dest="latency", action="store_false")
    parser.add_argument(
        "--wait-idle", type=float, metavar="LOAD", help="first wait (≤ 15 min) for a 1-minute load average below LOAD"
    )
    parser.add_argument("--write", action="store_true", help=f"put the result into {RESULTS.relative_to(ROOT)}")
    return parser.parse_args(argv)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def running(workdir: Path) -> Iterator[Servers]:
    servers = Servers(workdir)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        yield servers
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # no second interrupt half-way through the cleanup
        servers.stop_all()
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in (SMTP_SOURCE, SMTP_SINK):
        if not os.access(tool, os.X_OK):
            print(f"relay_bench: {tool} is missing (Debian package postfix)", file=sys.stderr)
            return 2
    notes: list[str] = []
    if args.wait_idle is not None:
        deadline = time.monotonic() + 900
        while os.getloadavg()[0] >= args.wait_idle and time.monotonic() < deadline:
            time.sleep(5)
    load = os.getloadavg()[0]
    if any(p != 1 for p, _ in args.mailgate) and not mailgate_supports_processes():
        notes.append("mailgate has no `[relay] processes` yet: only its 1-process rows were measured.")
        args.mailgate = [(p, w) for p, w in args.mailgate if p == 1]
    command = " ".join(
        [".venv/bin/python bench/relay_bench.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]
    )
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp, running(Path(tmp)) as servers:
        os.chmod(tmp, 0o755)
        sink = Sink(servers)
        print("starting the relays…", file=sys.stderr)
        targets = start_targets(servers, sink, args)
        preflight(targets, sink)
        print("throughput (smtp-source):", file=sys.stderr)
        measure_throughput(targets, sink, args)
        if args.latency:
            print("latency (open loop):", file=sys.stderr)
            measure_latency(targets, sink, args)
        for t in targets:
            if t.short:
                notes.append(f"{t.name}: " + "; ".join(t.short))
            for rate, r in t.latency.items():
                if r.errors or r.ok < r.sent:
                    notes.append(f"{t.name}, latency at {rate:g}/s: {r.ok}/{r.sent} ok, {dict(r.errors)}")
                if r.late_ms > 20:
                    notes.append(
                        f"{t.name}, latency at {rate:g}/s: the client started a message {r.late_ms:.0f} ms late"
                    )
            if t.db is not None:
                notes.append(f"{t.name}, audit store: {audit_summary(t.db)}")
            if t.server is not None:
                for line, n in log_problems(t.server).most_common(5):
                    notes.append(f"{t.name}, log ×{n}: `{line}`")
    text = render(targets, args, command, [f"- {n}" for n in notes], (load, os.getloadavg()[0]))
    print(text)
    if args.write:
        write_section(text)
        print(f"written to {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("relay_bench: interrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
