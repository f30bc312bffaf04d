"""Robustness on the real-world corpus (``../shared/corpus/realworld``, SPEC §5).

Every message — each file read as bytes, each message of an mbox folder, and
synthetic messages wrapping the charset body texts under a correct, a wrong
and no charset label — must give a :class:`~mailgate.model.Message` or a typed
:class:`~mailgate.errors.MessageError`, within a time budget of 5 s + 1 s/MB,
with bounded memory and the same outcome twice. The parser is tested alone
(its own contract) and then the whole ``lint_bytes`` run, whose failures name
the check that raised.
"""

from __future__ import annotations

import base64
import re
import signal
import sys
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType, TracebackType
from typing import TypeVar

import pytest

from mailgate.errors import MessageError
from mailgate.lint import lint_bytes
from mailgate.parse import parse_message
from mailgate.parse.headers import parse_address_list
from mailgate.policy import Policy, load_policy

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
REALWORLD = CORPUS / "realworld"

pytestmark = pytest.mark.skipif(
    not REALWORLD.is_dir(), reason=f"real-world corpus not found at {REALWORLD} (../shared is absent)"
)

T = TypeVar("T")

_NOT_MESSAGES = {"README.md", "SOURCES.md", ".gitattributes"}
_MBOX_SPLIT = re.compile(rb"(?:\A|(?<=\n))From [^\n]*\n")
# Body-text folders: (folder, how to find the codec from a file path).
_TEXT_DIRS = ("gmime-charset-text", "chardet-cjk-text")
# A label that is wrong for each real encoding: the confusions Chinese mail actually shows.
_WRONG_LABEL = {
    "big5": "gbk",
    "gb2312": "big5",
    "euc-tw": "gb2312",
    "iso-2022-jp": "gb2312",
    "shift-jis": "gbk",
    "utf-8": "gb2312",
}


def _budget(size: int) -> float:
    return 5.0 + size / 1_000_000


def _is_mbox(rel: str) -> bool:
    return rel.endswith(".mbox") or rel.startswith("mimekit/mbox/") or "/mbox.rlug" in rel


def split_mbox(data: bytes) -> list[bytes]:
    """Messages of an mbox folder, split on ``From `` lines."""
    starts = [m.end() for m in _MBOX_SPLIT.finditer(data)]
    bounds = [m.start() for m in _MBOX_SPLIT.finditer(data)]
    if not starts:
        return [data]
    pieces = []
    if bounds[0] > 0:
        pieces.append(data[: bounds[0]])
    for i, start in enumerate(starts):
        end = bounds[i + 1] if i + 1 < len(bounds) else len(data)
        pieces.append(data[start:end])
    return [p for p in pieces if p.strip()]


def _text_label(rel: str) -> str:
    """The charset of a body-text file, from its folder or file name."""
    parts = rel.split("/")
    if parts[0] == "chardet-cjk-text":
        return parts[1].lower()
    return parts[-1].split(".")[1].lower()  # gmime: <topic>.<charset>.txt


def wrap_text(body: bytes, label: str | None, cte: str = "8bit", subject_label: str | None = None) -> bytes:
    """A synthetic message around a body text (and a Subject encoded from its first bytes)."""
    ctype = "text/plain" + (f"; charset={label}" if label is not None else "")
    head = body[:45]
    subj = base64.b64encode(head).decode()  # may cut a multi-byte character: on purpose
    subject = f"=?{subject_label or label or 'utf-8'}?B?{subj}?="
    payload = base64.encodebytes(body) if cte == "base64" else body
    return (
        b"From: =?utf-8?B?5p2O5aic?= <lina@demo.example.cn>\r\n"
        b"To: wangfang@demo.example.cn\r\n"
        + f"Subject: {subject}\r\n".encode()
        + b"Date: Wed, 18 Nov 2026 10:00:00 +0800\r\nMIME-Version: 1.0\r\n"
        + f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n".encode()
        + payload
    )


def iter_cases() -> Iterator[tuple[str, bytes]]:
    """(name, raw bytes) of every message the corpus yields, in a stable order."""
    for path in sorted(p for p in REALWORLD.rglob("*") if p.is_file()):
        rel = path.relative_to(REALWORLD).as_posix()
        if rel in _NOT_MESSAGES:
            continue
        data = path.read_bytes()
        if rel.split("/")[0] in _TEXT_DIRS:
            if not path.suffix or rel.endswith(("README.md", "LICENSE")):
                continue
            label = _text_label(rel)
            wrong = _WRONG_LABEL.get(label, "utf-8")
            yield f"{rel}#label={label}", wrap_text(data, label)
            yield f"{rel}#label={wrong}", wrap_text(data, wrong, "base64")
            yield f"{rel}#label=x-unknown", wrap_text(data, "x-unknown", "quoted-printable")
            yield f"{rel}#nolabel", wrap_text(data, None, subject_label=wrong)
            continue
        if _is_mbox(rel):
            for i, piece in enumerate(split_mbox(data)):
                yield f"{rel}#{i}", piece
            continue
        yield rel, data


class _Timeout(BaseException):
    """Raised by the alarm inside a run that exceeded its budget (not an Exception on purpose)."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread on POSIX; a no-op elsewhere)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def _fire(_sig: int, _frame: object) -> None:
        raise _Timeout

    old = signal.signal(signal.SIGALRM, _fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _run(fn: Callable[[bytes], T], raw: bytes, budget: float | None = None) -> tuple[str, T | None, float]:
    """('ok' | 'error:<code>' | 'timeout', value, seconds) of ``fn(raw)``; other exceptions propagate."""
    started = time.perf_counter()
    try:
        with _deadline(budget or _budget(len(raw))):
            value = fn(raw)
    except _Timeout:
        return "timeout", None, time.perf_counter() - started
    except MessageError as exc:
        return f"error:{exc.code}", None, time.perf_counter() - started
    return "ok", value, time.perf_counter() - started


@pytest.fixture(scope="module")
def cases() -> list[tuple[str, bytes]]:
    return list(iter_cases())


@pytest.fixture(scope="module")
def corpus_policy() -> Policy:
    config = CORPUS / "mailgate.toml"
    return load_policy(config if config.is_file() else None, env={})


def test_corpus_is_complete(cases: list[tuple[str, bytes]]) -> None:
    names = {n for n, _ in cases}
    # ~1,370 files, the mbox folders split into their messages, four wraps per body text.
    assert len(cases) > 1500
    assert any(n.startswith("spamassassin/nice.mbox#") for n in names)
    assert "flanker/enclosed-endless.eml" in names
    assert any(n.startswith("chardet-cjk-text/GB2312/") and n.endswith("#label=big5") for n in names)


def test_parser_never_crashes_or_hangs(cases: list[tuple[str, bytes]]) -> None:
    """parse_message gives a Message or a typed error for every message, within its budget."""
    crashes: list[str] = []
    for name, raw in cases:
        try:
            outcome, _, _took = _run(parse_message, raw)
        except Exception as exc:  # the contract under test: nothing else may escape
            crashes.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if outcome == "timeout":
            crashes.append(f"{name}: exceeded {_budget(len(raw)):.1f} s")
    assert not crashes, "\n".join(crashes)


def test_parser_outcome_is_stable(cases: list[tuple[str, bytes]]) -> None:
    """The same bytes give the same outcome twice (no hidden state, no randomness)."""
    differ = []
    for name, raw in cases[::7]:
        a = _run(parse_message, raw)
        b = _run(parse_message, raw)
        if a[:2] != b[:2]:
            differ.append(name)
    assert not differ, differ


def test_parser_memory_is_bounded(cases: list[tuple[str, bytes]]) -> None:
    """Peak memory of one parse stays within 20x the input (+ 8 MB) on the largest inputs."""
    large = sorted(cases, key=lambda c: -len(c[1]))[:8]
    over = []
    for name, raw in large:
        tracemalloc.start()
        try:
            _run(parse_message, raw, 4 * _budget(len(raw)))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        if peak > 20 * len(raw) + 8_000_000:
            over.append(f"{name}: {peak / 1e6:.1f} MB for {len(raw) / 1e6:.1f} MB")
    assert not over, over


def test_parser_memory_does_not_grow(cases: list[tuple[str, bytes]]) -> None:
    """A second and third pass over the same messages leave no more memory behind than the first."""
    sample = [c for c in cases[::16] if len(c[1]) < 200_000]
    tracemalloc.start()
    try:
        after = []
        for _ in range(3):
            for _name, raw in sample:
                _run(parse_message, raw)
            after.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert after[2] - after[1] < 1_000_000, after


def test_known_outcomes(cases: list[tuple[str, bytes]]) -> None:
    """Spot checks: the 3,000-part enclosed message is refused; the Chinese messages decode."""
    by_name = dict(cases)
    outcome, _, _ = _run(parse_message, by_name["flanker/enclosed-endless.eml"])
    assert outcome in {"error:too-deep", "error:too-large"}
    msg = parse_message(by_name["kopano-inetmapi/gb2312_18030.eml"])
    assert "\ufffd" not in msg.body
    for name, raw in cases:
        if name.startswith("chardet-cjk-text/GB2312/") and name.endswith("#label=gb2312"):
            text = parse_message(raw).body
            assert sum("\u4e00" <= c <= "\u9fff" for c in text) > 20, name


def test_address_lists() -> None:
    """flanker's own mailbox fixtures: every line parses (valid or not) without raising."""
    for fname in ("mailbox_valid.txt", "mailbox_invalid.txt"):
        path = REALWORLD / "flanker" / fname
        if not path.is_file():
            continue
        lines = path.read_bytes().decode("utf-8", "surrogateescape").splitlines()
        for line in lines:
            _, addrs = parse_address_list(line, "to")
            assert len(addrs) <= max(1, line.count(",") + line.count(";") + 1)
        _text, addrs = parse_address_list(", ".join(lines), "to")
        assert addrs


def _check_codes(policy: Policy) -> dict[CodeType, str]:
    return {spec.run.__code__: spec.id for spec in policy.registry if hasattr(spec.run, "__code__")}


def _raising_check(tb: TracebackType | None, codes: dict[CodeType, str]) -> str:
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            return codes[tb.tb_frame.f_code]
        tb = tb.tb_next
    return "engine"


def test_lint_never_crashes_or_hangs(cases: list[tuple[str, bytes]], corpus_policy: Policy) -> None:
    """The full ``lint_bytes`` gives a report for every message; failures name the check that raised."""
    codes = _check_codes(corpus_policy)
    failures: dict[str, list[str]] = {}
    for name, raw in cases:
        try:
            outcome, report, _ = _run(lambda data: lint_bytes(data, corpus_policy), raw)
        except Exception as exc:
            where = _raising_check(exc.__traceback__, codes)
            last = traceback.extract_tb(exc.__traceback__)[-1]
            failures.setdefault(where, []).append(
                f"{name}: {type(exc).__name__}: {str(exc)[:120]} ({Path(last.filename).name}:{last.lineno})"
            )
            continue
        if outcome == "timeout":
            failures.setdefault("timeout", []).append(f"{name}: exceeded {_budget(len(raw)):.1f} s")
        elif outcome == "ok":
            assert report is not None and report.verdict in {"pass", "warn", "fail", "error"}
    if failures:
        lines = []
        for where, items in sorted(failures.items()):
            lines.append(f"[{where}] {len(items)} message(s)")
            lines.extend(f"    {item}" for item in items[:10])
        pytest.fail("lint_bytes raised or hung:\n" + "\n".join(lines), pytrace=False)


if __name__ == "__main__":  # a quick manual run: python tests/test_realworld.py
    for case_name, case_raw in iter_cases():
        print(case_name, _run(parse_message, case_raw)[0], file=sys.stdout)
