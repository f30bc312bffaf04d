"""The gallery's render cost, beside the engine's lint of the very same mail in the same run.

Usage: .venv/bin/python bench/gallery_bench.py [--rounds 20] [--write]

For every built-in template, with its own example values (demo organisation):
  baseline  ``lint_bytes`` of the finished .eml (what any lint of that mail costs);
  render    ``Gallery.render``: form checks, the sandboxed render in the worker process, the safe
            fixes (a format pass), and the final lint — what one live-preview keystroke costs.
Median milliseconds per template over ``--rounds`` rounds; the ratio render / baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailgate.lint import lint_bytes  # noqa: E402
from mailgate.policy import load_policy  # noqa: E402
from mailgate.templating.gallery import Gallery  # noqa: E402
from mailgate.templating.spec import example_values  # noqa: E402

CHINA = dt.timezone(dt.timedelta(hours=8))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()
    policy = load_policy(ROOT / "checks" / "examples" / "mailgate.toml", env={})
    gallery = Gallery(None)
    date = dt.datetime(2026, 11, 18, 10, tzinfo=CHINA)
    rows = []
    try:
        for entry in gallery.catalogue():
            spec = entry.spec
            values = example_values(spec, date.date())
            ex = spec.example
            first = gallery.render(spec, values, ex.from_, ex.to, ex.cc, policy, date)  # warm-up
            base, full = [], []
            for _ in range(args.rounds):
                t = time.perf_counter()
                lint_bytes(first.eml, policy)
                base.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                gallery.render(spec, values, ex.from_, ex.to, ex.cc, policy, date)
                full.append((time.perf_counter() - t) * 1000)
            rows.append((spec.id, len(first.eml), statistics.median(base), statistics.median(full)))
    finally:
        gallery.close()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    lines = [
        f"## Template gallery render cost — {dt.date.today().isoformat()}",
        "",
        "Command:",
        "",
        "```sh",
        f".venv/bin/python bench/gallery_bench.py --rounds {args.rounds} --write",
        "```",
        "",
        f"Commit `{commit.stdout.strip()}`, Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}. Each built-in with its own example (demo organisation); "
        "baseline = `lint_bytes` of the finished .eml; render = `Gallery.render` (form checks, sandboxed render "
        "in the worker process, safe fixes, final lint) = one live-preview update. Medians.",
        "",
        "| template | .eml bytes | baseline lint ms | render ms | render / baseline |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for tid, size, b, f in rows:
        lines.append(f"| {tid} | {size:,} | {b:.1f} | {f:.1f} | {f / b:.1f} |")
    mb = statistics.median(r[2] for r in rows)
    mf = statistics.median(r[3] for r in rows)
    lines.append(f"| **median of templates** | | **{mb:.1f}** | **{mf:.1f}** | **{mf / mb:.1f}** |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
