"""``POST /v1/lint`` throughput and latency, beside the engine's own throughput in the same run.

Usage: .venv/bin/python bench/api_bench.py [--n 600] [--concurrency 4] [--write]

1. engine: ``lint_bytes`` over the message mix of ``lint_throughput.py`` in this process (one core);
2. API: ``mailgate serve --api-only`` in a subprocess (uvicorn, ``[api] lint_workers`` threads),
   the same messages POSTed as message/rfc822 by ``--concurrency`` client threads over keep-alive
   connections; msg/s over the whole run and per-request latency percentiles;
3. API at a fixed 50 requests/s (open loop): latency percentiles — what a mail-client add-in sees.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import queue
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lint_throughput import make_message  # noqa: E402
from mailgate.lint import lint_bytes  # noqa: E402
from mailgate.policy import load_policy  # noqa: E402

DEMO = ROOT / "checks" / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def engine_rate(messages: list[bytes]) -> float:
    policy = load_policy(DEMO / "mailgate.toml", env={})
    lint_bytes(messages[0], policy)
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for m in messages:
            lint_bytes(m, policy)
        best = max(best, len(messages) / (time.perf_counter() - t))
    return best


def start_api(tmp: Path, lint_workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cfg = tmp / "mailgate.toml"
    cfg.write_text(
        f'[organization]\ninternal_domains = ["demo.example.cn"]\ndirectory = "{DEMO / "directory.csv"}"\n'
        f'[api]\nlisten = "127.0.0.1:{port}"\npublic_lint = true\nlint_workers = {lint_workers}\n'
        f'[storage]\nurl = "sqlite:///{tmp / "bench.db"}"\n',
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailgate.cli", "serve", "--api-only", "--config", str(cfg)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the API did not start")


def post(client: httpx.Client, base: str, data: bytes) -> float:
    t = time.perf_counter()
    r = client.post(f"{base}/v1/lint", content=data, headers={"content-type": "message/rfc822"})
    r.raise_for_status()
    return time.perf_counter() - t


def closed_loop(base: str, messages: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    work: queue.Queue[bytes] = queue.Queue()
    for m in messages:
        work.put(m)
    latencies: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                try:
                    m = work.get_nowait()
                except queue.Empty:
                    return
                took = post(client, base, m)
                with lock:
                    latencies.append(took)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return len(messages) / (time.perf_counter() - t), latencies


def open_loop(base: str, messages: list[bytes], rate: float, seconds: float) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    clients = [httpx.Client(timeout=60) for _ in range(8)]
    start = time.perf_counter()
    threads = []
    for i in range(int(rate * seconds)):
        due = start + i / rate
        time.sleep(max(0.0, due - time.perf_counter()))

        def one(i: int = i) -> None:
            took = post(clients[i % len(clients)], base, messages[i % len(messages)])
            with lock:
                latencies.append(took)

        th = threading.Thread(target=one)
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    for c in clients:
        c.close()
    return latencies


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--lint-workers", type=int, default=2)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()
    rng = random.Random(7)
    messages = [make_message(rng, i) for i in range(args.n)]
    engine = engine_rate(messages)
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_api(Path(tmp), args.lint_workers)
        try:
            with httpx.Client() as c:
                for m in messages[:20]:
                    post(c, base, m)  # warm the NLP pipeline
            api_rate, lat = closed_loop(base, messages, args.concurrency)
            fixed = open_loop(base, messages, args.rate, args.seconds)
        finally:
            proc.terminate()
            proc.wait(30)
    ms = [x * 1000 for x in lat]
    fixed_ms = [x * 1000 for x in fixed]
    rows = [
        ("engine, in process, one core (msg/s)", f"{engine:,.0f}"),
        (f"POST /v1/lint, {args.concurrency} clients, {args.lint_workers} lint threads (msg/s)", f"{api_rate:,.0f}"),
        ("API / engine", f"{api_rate / engine:.2f}"),
        ("latency under that load p50 / p95 / p99 (ms)",
         f"{pct(ms, 50):.1f} / {pct(ms, 95):.1f} / {pct(ms, 99):.1f}"),
        (f"latency at a fixed {args.rate:.0f} req/s p50 / p95 / p99 (ms)",
         f"{pct(fixed_ms, 50):.1f} / {pct(fixed_ms, 95):.1f} / {pct(fixed_ms, 99):.1f}"),
        ("mean latency at the fixed rate (ms)", f"{statistics.fmean(fixed_ms):.1f}"),
    ]  # fmt: skip
    table = "| measure | result |\n| --- | --- |\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    print(table)
    if args.write:
        cmd = "python bench/api_bench.py " + " ".join(sys.argv[1:]).replace("--write", "").strip()
        section = (
            f"\n## Lint over HTTP (`POST /v1/lint`) — {dt.date.today().isoformat()}\n\n"
            f"Command: `.venv/bin/{cmd.strip()}`\n\nMachine: {os.cpu_count()} cores, Python "
            f"{platform.python_version()}. Same {args.n}-message mix as the lint throughput section; the engine "
            "figure is measured first in the same run. The API runs in its own process (uvicorn, one event loop, "
            "lint in threads — the GIL makes the API one core's worth of linting).\n\n" + table + "\n"
        )
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
