"""Labelled lines of a body: ``会议时间：…``, ``一、会议地点：…``, ``【参会人员】：…``.

A label counts where it starts a line (after any numbering) or a clause; its value runs to the
next label, a full stop or semicolon, or the end of the line — or, when the line holds only the
label, the next line. The labels come from the ``types`` lexicon (``checks/data/types.toml``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Labelled:
    """``label：value`` in the body; offsets are body offsets."""

    element: str
    start: int  # of the label
    end: int  # of the value
    value_start: int
    value: str


_LINE = re.compile(r"[^\n]+")
_NUMBERING = re.compile(
    r"[ \t\u3000]*(?:(?:\d{1,3}[.、．)）]|[（(]\s*\d{1,3}\s*[)）]|[一二三四五六七八九十]{1,3}\s*[、.．]"
    r"|[（(]\s*[一二三四五六七八九十]{1,3}\s*[)）]|[①-⑳]|[-•·*●▪■◆])[ \t\u3000]*)?"
)
_BOUNDARY_BEFORE = frozenset(" \t\u3000，,；;。、(（)）【】[]|/")
_VALUE_STOP = re.compile(r"[。；;]")
_VALUE_TRIM = " \t\u3000。；;，,.、：:"


@lru_cache(maxsize=64)
def _label_regex(labels: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One regex over every label (longest first) and the map label (casefolded) -> element."""
    owner: dict[str, str] = {}
    for element, label in labels:
        owner.setdefault(label.casefold(), element)
    words = sorted(owner, key=len, reverse=True)
    alt = "|".join(re.escape(w) for w in words) or r"(?!x)x"
    return re.compile(rf"(?:{alt})[ \t\u3000]*[】\]]?[ \t\u3000]*[：:]", re.I), owner


def label_pairs(lex: Mapping[str, tuple[str, ...]], categories: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """(element, label) for every label word of the lexicon categories mapped to elements."""
    return tuple((element, w) for cat, element in categories.items() for w in lex.get(cat, ()) if w)


def find_labelled(text: str, labels: tuple[tuple[str, str], ...], limit: int = 200) -> list[Labelled]:
    """``label：value`` pairs where the label starts a line (after numbering) or a clause.

    At most ``limit`` pairs, in text order: a real message has a handful, and the bound keeps
    a pathological body (a megabyte of labels) linear and cheap.
    """
    regex, owner = _label_regex(labels)
    out: list[Labelled] = []
    for line in _LINE.finditer(text):
        if len(out) >= limit:
            break
        ls, le = line.span()
        num_end = _NUMBERING.match(text, ls, le)
        first = num_end.end() if num_end else ls
        found: list[re.Match[str]] = []
        for m in regex.finditer(text, ls, le):
            s = m.start()
            if s == first or (s > ls and text[s - 1] in _BOUNDARY_BEFORE):
                found.append(m)
                if len(out) + len(found) > limit:
                    break
        for i, m in enumerate(found):
            stop = found[i + 1].start() if i + 1 < len(found) else le
            vs = m.end()
            cut = _VALUE_STOP.search(text, vs, stop)
            ve = cut.start() if cut else stop
            label = text[m.start() : m.end()].rstrip("：: \t\u3000】]").casefold()
            element = owner.get(label)
            if element is None:
                continue
            value = text[vs:ve].strip(_VALUE_TRIM)
            if not value and i + 1 == len(found):  # "会议时间：" with the value on the next line
                vs, ve = _next_line(text, le, regex, num_end[0] if num_end else "")
                value = text[vs:ve].strip(_VALUE_TRIM)
            out.append(Labelled(element, m.start(), ve, vs, value))
    return out


def _scheme(numbering: str) -> str:
    """``4.`` and ``12.`` → ``1.``; ``（2）`` → ``（1）``; ``三、`` → ``一、``: the numbering's scheme."""
    return re.sub(r"[一二三四五六七八九十]+", "一", re.sub(r"\d+", "1", numbering.strip()))


def _next_line(text: str, pos: int, label_re: re.Pattern[str], numbering: str = "") -> tuple[int, int]:
    """Span of the next non-blank line after ``pos`` (at most 200 characters), unless it starts a
    new label or the next item of the label's own list; ``(pos, pos)`` when there is none.

    A numbered line in another scheme than the label's line (``（1）`` under ``4. 会议议程：``, or
    ``1.`` under an unnumbered ``会议议程：``) is the label's value: a list under its label."""
    nxt = _LINE.search(text, pos, pos + 400)
    if nxt is None or not nxt[0].strip():
        return pos, pos
    ls, le = nxt.start(), min(nxt.end(), nxt.start() + 200)
    num = _NUMBERING.match(text, ls, le)
    first = num.end() if num else ls
    if label_re.match(text, first, le):  # a new label
        return pos, pos
    if num is not None and num[0].strip() and numbering.strip() and _scheme(num[0]) == _scheme(numbering):
        return pos, pos  # the next item of the label's own list
    return first, le


def is_given(value: str, tbd: Sequence[str]) -> bool:
    """A label's value states something (not empty, not 待定/另行通知)."""
    v = value.strip(_VALUE_TRIM)
    if not v:
        return False
    low = v.casefold()
    for w in tbd:
        wl = w.casefold()
        if low == wl or (len(wl) >= 2 and low.startswith(wl)):
            return False
    return True
