"""Where a language check must not look or edit: URLs, addresses, code and key blocks.

Protected spans are found from literal anchors (``://`` ``www.`` ``@`` backticks), so a 1 MB
body costs a few ``str.find`` scans, not a regex attempt at every position.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from itertools import islice

from mailgate.context import Context

_URL_TAIL = re.compile(r"[^\s<>\"'，。；、）》」]{1,2000}")
_URL_SCHEME = re.compile(r"(?:https?|ftp)$", re.I)
_WWW_TAIL = re.compile(r"[A-Za-z0-9.-]{1,253}[^\s<>\"'，。；、）》」]{0,2000}")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+-]{1,64}$")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}")
_BACKTICKS = re.compile(r"`[^`\n]{1,2000}`")
_INDENTED = re.compile(r"^(?:    |\t)[^\n]{0,5000}$", re.M)


MAX_ANCHORS = 20_000  # URLs/addresses looked at per text: enough for mail, bounded for garbage


def occurrences(text: str, needle: str) -> Iterator[int]:
    """Offsets of ``needle`` in ``text`` (str.find, so C speed)."""
    i = text.find(needle)
    while i >= 0:
        yield i
        i = text.find(needle, i + 1)


def _fences(text: str) -> list[tuple[int, int]]:
    """Fenced code blocks: lines starting with ``` pair up in order (linear, unlike a lazy regex)."""
    marks = [i for i in occurrences(text, "```") if i == 0 or text[i - 1] == "\n"]
    out: list[tuple[int, int]] = []
    for a, b in zip(marks[::2], marks[1::2], strict=False):
        end = text.find("\n", b)
        out.append((a, len(text) if end < 0 else end))
    return out


def _armored_blocks(text: str) -> list[tuple[int, int]]:
    """PEM / PGP armour: from a ``-----BEGIN …-----`` line to its ``-----END …-----`` line."""
    out: list[tuple[int, int]] = []
    for i in islice(occurrences(text, "-----BEGIN "), MAX_ANCHORS):
        if out and i < out[-1][1]:
            continue
        j = text.find("-----END ", i)
        k = text.find("-----", j + 9) if j >= 0 else -1
        out.append((i, len(text) if k < 0 else k + 5))
    return out


def protected_spans(text: str) -> list[tuple[int, int]]:
    """URLs, e-mail addresses, code (backticks, fenced blocks, indented lines) and key blocks, sorted."""
    spans: list[tuple[int, int]] = []
    last = -1
    for i in islice(occurrences(text, "://"), MAX_ANCHORS):
        if i < last:
            continue  # inside the previous URL: each character is scanned once
        scheme = _URL_SCHEME.search(text, max(0, i - 5), i)
        tail = _URL_TAIL.match(text, i + 3) if scheme else None
        if scheme and tail:
            spans.append((scheme.start(), tail.end()))
            last = tail.end()
    for needle in ("www.", "WWW."):
        last = -1
        for i in islice(occurrences(text, needle), MAX_ANCHORS):
            if i < last:
                continue
            tail = _WWW_TAIL.match(text, i + 4)
            if tail:
                spans.append((i, tail.end()))
                last = tail.end()
    for i in islice(occurrences(text, "@"), MAX_ANCHORS):
        domain = _EMAIL_DOMAIN.match(text, i + 1)
        local = _EMAIL_LOCAL.search(text, max(0, i - 64), i) if domain else None
        if local and domain:
            spans.append((local.start(), domain.end()))
    if "`" in text:
        spans.extend(m.span() for m in _BACKTICKS.finditer(text))
        if "```" in text:
            spans.extend(_fences(text))
    if "-----BEGIN " in text:
        spans.extend(_armored_blocks(text))
    if "\n    " in text or "\n\t" in text or text.startswith(("    ", "\t")):
        spans.extend(m.span() for m in _INDENTED.finditer(text))
    spans.sort()
    return spans


def cached_protected_spans(ctx: Context, text: str) -> list[tuple[int, int]]:
    """``protected_spans`` of the new text, computed once per message."""
    if text is ctx.message.new_text:
        return ctx.memo.get("language:protected", lambda: protected_spans(text))
    return protected_spans(text)


class Spans:
    """Membership test of offsets against sorted, possibly overlapping spans."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]

    def inside(self, pos: int) -> bool:
        """True when ``pos`` falls strictly inside a span (an insertion there would split it)."""
        i = bisect.bisect_right(self._starts, pos) - 1
        return i >= 0 and self._starts[i] < pos < self._ends[i]

    def hits(self, start: int, end: int) -> bool:
        """True when ``[start, end)`` overlaps a span."""
        i = bisect.bisect_right(self._starts, max(start, end - 1)) - 1
        return i >= 0 and self._ends[i] > start
