"""Numbered lists, bullets and the action-item section of a message's new text.

One linear pass over the lines of ``new_text[:closing_start]`` finds:

- **numbered items** (:class:`ListItem`) in the schemes of SPEC §2: ``1.`` ``1、`` ``1)``
  ``1）`` ``(1)`` ``（1）`` ``一、`` ``（一）`` ``①`` ``第一，`` (plus the variants ``一.``,
  ``(一)``, full-width ``１．``), each with its number and its nesting level;
- **lists** (:class:`NumberedList`): runs of items at one level. Blank lines, continuation lines
  and bullets do not end a list; a heading or a paragraph after a blank line suspends it (the next
  item continues it only when it carries the next number in the same scheme, otherwise a new list
  starts); the action-item heading ends every list. A list nested under an item (``1.`` under
  ``一、``, ``(1)`` under ``1.``, or the same scheme indented deeper) is one level down. An item
  in another scheme that carries the next number of the open list (``1. 2. 3、``) stays at that
  level, so a mixed list is visible as one list with several schemes;
- **bullets** (:class:`Bullet`, ``-`` ``•`` ``·`` ``*`` ``●`` …) and runs of them;
- the **action-item section** (:class:`ActionSection`): the last heading line made of one of the
  ``action_headings`` words of ``checks/data/sections.toml`` (``行动项`` ``Action Items`` ``任务分工``
  …), optionally numbered (``三、行动项``), in 【】, with a qualifier (``本次会议行动项``), a
  parenthesis (``行动项（Action Items）``) and a colon, or followed by an inline item
  (``行动项：请罗毅…``); its items (numbered, bulleted, or plain lines) with continuation
  lines; and the text that follows the items before the closing (``trailing_*``).

All offsets are offsets into ``new_text`` (= offsets into ``Message.body``). Everything is
immutable (per-line values are NamedTuples, the containers frozen dataclasses). Cost is linear
in the text length (about 3 µs per line).

API (stable):

``analyze_sections(new_text, closing_start, headings=None, suffixes=None, prefixes=None)``
    Analyse a text -> :class:`SectionInfo`. ``headings``/``suffixes``/``prefixes`` are the
    ``action_headings``/``heading_suffixes``/``heading_prefixes`` lexicon categories and default
    to the shipped ``checks/data/sections.toml``.
``sections_of(msg, ctx) -> SectionInfo``
    The analysis of ``msg.new_text`` with the policy's (admin-extended) lexicon, cached per
    message in ``ctx.memo`` under ``"sections"``. Checks call this.

``SectionInfo``: ``items`` (every :class:`ListItem`, document order), ``lists``
(:class:`NumberedList`), ``bullets``, ``bullet_runs``, ``headings`` (generic heading lines as
``(start, end)``), ``action`` (:class:`ActionSection` or ``None``), ``closing_start``;
``outside_spans()`` — spans of the text outside the action section and the closing;
``in_action(offset)``; ``lists_outside_action()``.

``ListItem``: ``scheme`` (one of :data:`SCHEMES`), ``number``, ``level`` (0 = outermost),
``marker`` (as written, e.g. ``"3、"``), ``marker_start``/``marker_end`` (``marker_end`` after
the spaces that follow), ``start``/``end`` (continuation lines included), ``line``, ``indent``,
``list_index``, ``text``. ``NumberedList``: ``level``, ``items``, ``start``, ``end``,
``schemes``, ``numbers``. ``Bullet``: ``char``, ``marker_start``/``marker_end``, ``start``/``end``,
``line``, ``indent``, ``text``. ``format_marker(scheme, n)`` writes a marker;
``chinese_numeral("十二") == 12``.

``ActionSection``: ``heading`` (the heading word as written), ``heading_start``/``heading_end``
(the heading line), ``items`` (:class:`ActionItem`: ``text``, ``start``, ``end``,
``content_start``, ``marker``), ``end`` (end of the last item), ``trailing_start``/``trailing_end``
(non-blank text after the items before the closing, ``None``/``None`` when there is none),
``at_end``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from mailgate.context import Context
    from mailgate.model import Message

__all__ = [
    "FAMILY",
    "SCHEMES",
    "ActionItem",
    "ActionSection",
    "Bullet",
    "ListItem",
    "NumberedList",
    "SectionInfo",
    "analyze_sections",
    "chinese_numeral",
    "format_marker",
    "sections_of",
]

DATA = Path(__file__).parent / "data" / "sections.toml"

# Scheme -> family. Items of one family are candidates for one level; other families nest.
FAMILY: dict[str, str] = {
    "1.": "arabic",
    "1、": "arabic",
    "1)": "arabic",
    "1）": "arabic",
    "(1)": "arabic-paren",
    "（1）": "arabic-paren",
    "一、": "chinese",
    "一.": "chinese",
    "(一)": "chinese-paren",
    "（一）": "chinese-paren",
    "①": "circled",
    "第一，": "ordinal",
}
SCHEMES: tuple[str, ...] = tuple(FAMILY)

MAX_DEPTH = 8  # open nesting levels kept; deeper items replace the innermost level

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUM = "一二三四五六七八九十"

_INDENT = re.compile(r"[ \t\u3000\u00a0]*")
# ``lastgroup`` names the scheme family; the match ends after the spaces that follow the marker.
_MARKER = re.compile(
    r"""(?:
      (?P<arn>\d{1,3})(?P<arp>[.．](?!\d)|、|\)|）)
    | (?P<apo>[(（])(?P<apn>\d{1,3})(?P<apc>[)）])
    | (?P<cnn>[一二三四五六七八九十]{1,3})(?P<cnp>、|[.．](?!\d))
    | (?P<cpo>[(（])(?P<cpn>[一二三四五六七八九十]{1,3})(?P<cpc>[)）])
    | (?P<ci>[\u2460-\u2473\u3251-\u325f\u32b1-\u32bf])
    | 第(?P<odn>[一二三四五六七八九十]{1,3})(?P<odp>[，,、：:])
    )[ \t\u3000\u00a0]*""",
    re.X,
)
_ARABIC = re.compile(r"(\d{1,3})([.．](?!\d)|、|\)|）)[ \t\u3000\u00a0]*")
_ARABIC_SCHEME = {".": "1.", "．": "1.", "、": "1、", ")": "1)", "）": "1）"}
_BULLET = re.compile(r"(?:[-–*](?=[ \t\u3000]|[\u3400-\u9fff])|[•·・●○◦▪■□◆◇►▶➢](?![•·・●○◦▪■□◆◇►▶➢]))[ \t\u3000]*")
_SPACES_AFTER = re.compile(r"[ \t\u3000]*")
_GENERIC_HEADING = re.compile(r"(?:#{1,6}\s.*|【[^】]{1,30}】|\*\*[^*]{1,30}\*\*[：:]?)")


def chinese_numeral(text: str) -> int | None:
    """一 -> 1, 十 -> 10, 十二 -> 12, 二十 -> 20, 九十九 -> 99; ``None`` for anything else."""
    if not text or len(text) > 3:
        return None
    if len(text) == 1:
        return 10 if text == "十" else _CN_DIGITS.get(text)
    if "十" not in text:
        return None
    tens_s, _, ones_s = text.partition("十")
    if "十" in ones_s:
        return None
    tens = 1 if tens_s == "" else _CN_DIGITS.get(tens_s)
    ones = 0 if ones_s == "" else _CN_DIGITS.get(ones_s)
    if tens is None or ones is None or len(tens_s) > 1 or len(ones_s) > 1:
        return None
    return tens * 10 + ones


def _to_chinese(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n <= 0 or n >= 100:
        return str(n)
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def _circled(n: int) -> str | None:
    if 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if 21 <= n <= 35:
        return chr(0x3251 + n - 21)
    if 36 <= n <= 50:
        return chr(0x32B1 + n - 36)
    return None


def _circled_value(ch: str) -> int:
    cp = ord(ch)
    if 0x2460 <= cp <= 0x2473:
        return cp - 0x2460 + 1
    if 0x3251 <= cp <= 0x325F:
        return cp - 0x3251 + 21
    return cp - 0x32B1 + 36


def format_marker(scheme: str, n: int) -> str:
    """The marker of number ``n`` in ``scheme``: ``format_marker("（一）", 3) == "（三）"``."""
    if scheme in {"1.", "1、", "1)", "1）"}:
        return f"{n}{scheme[1:]}"
    if scheme == "(1)":
        return f"({n})"
    if scheme == "（1）":
        return f"（{n}）"
    if scheme in {"一、", "一."}:
        return _to_chinese(n) + scheme[1:]
    if scheme == "(一)":
        return f"({_to_chinese(n)})"
    if scheme == "（一）":
        return f"（{_to_chinese(n)}）"
    if scheme == "①":
        return _circled(n) or f"({n})"
    if scheme == "第一，":
        return f"第{_to_chinese(n)}，"
    raise ValueError(f"unknown scheme {scheme!r}")


class ListItem(NamedTuple):
    """One numbered item. ``start == marker_start``; ``end`` covers its continuation lines."""

    scheme: str
    number: int
    level: int
    marker: str  # the marker as written, e.g. "3、"
    marker_start: int
    marker_end: int  # after the marker and the spaces that follow it
    start: int
    end: int
    line: int  # 0-based line number of the marker line
    indent: int
    list_index: int  # index in SectionInfo.lists
    text: str  # content after the marker, continuation lines included

    @property
    def family(self) -> str:
        return FAMILY[self.scheme]


@dataclass(frozen=True, slots=True)
class NumberedList:
    """A run of items at one level (SPEC §2 body-numbered)."""

    level: int
    items: tuple[ListItem, ...]

    @property
    def start(self) -> int:
        return self.items[0].start

    @property
    def end(self) -> int:
        return self.items[-1].end

    @property
    def schemes(self) -> tuple[str, ...]:
        """Distinct schemes in order of first use."""
        return tuple(dict.fromkeys(i.scheme for i in self.items))

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(i.number for i in self.items)


class Bullet(NamedTuple):
    char: str
    marker_start: int
    marker_end: int  # after the bullet character and the spaces that follow it
    start: int
    end: int
    line: int
    indent: int
    text: str


class ActionItem(NamedTuple):
    text: str  # without the marker; continuation lines joined by a space, stripped
    start: int  # the item's first character (its marker when it has one)
    end: int
    content_start: int  # after the marker
    marker: str  # "1." / "-" / "" for a plain line


@dataclass(frozen=True, slots=True)
class ActionSection:
    heading: str  # the heading word as written, e.g. "行动项" or "Action Items"
    heading_start: int
    heading_end: int  # end of the heading line (before its newline)
    items: tuple[ActionItem, ...]
    end: int  # end of the last item (heading_end when there is none)
    trailing_start: int | None  # non-blank text after the items, before the closing
    trailing_end: int | None

    @property
    def at_end(self) -> bool:
        """Only the closing follows the items."""
        return self.trailing_start is None


@dataclass(frozen=True, slots=True)
class SectionInfo:
    items: tuple[ListItem, ...]
    lists: tuple[NumberedList, ...]
    bullets: tuple[Bullet, ...]
    bullet_runs: tuple[tuple[Bullet, ...], ...]
    headings: tuple[tuple[int, int], ...]
    action: ActionSection | None
    closing_start: int

    def outside_spans(self) -> tuple[tuple[int, int], ...]:
        """Spans of the text before the closing that are not in the action section."""
        a = self.action
        if a is None:
            return ((0, self.closing_start),)
        spans = [(0, a.heading_start)]
        if a.trailing_start is not None and a.trailing_end is not None:
            spans.append((a.trailing_start, a.trailing_end))
        return tuple(spans)

    def in_action(self, offset: int) -> bool:
        a = self.action
        if a is None or offset < a.heading_start:
            return False
        return offset < (a.trailing_start if a.trailing_start is not None else self.closing_start)

    def lists_outside_action(self) -> tuple[NumberedList, ...]:
        return tuple(lst for lst in self.lists if not self.in_action(lst.start))


# ---------------------------------------------------------------------------
# lexicon


@lru_cache(maxsize=1)
def _shipped() -> dict[str, tuple[str, ...]]:
    data = tomllib.loads(DATA.read_text(encoding="utf-8")).get("categories", {})
    return {k: tuple(str(w) for w in v) for k, v in data.items() if isinstance(v, list)}


def _word_pattern(word: str) -> str:
    parts = word.split()
    if word.isascii():
        # "Action Items" == "ActionItems" == "action  items"; "ActionItems" == "Action Items".
        chunks = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])|[^\sA-Za-z0-9]+", word) or parts
        return r"[ \t]*".join(re.escape(c) for c in chunks)
    return re.escape(word)


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted({w for w in words if w}, key=len, reverse=True)) or "(?!)"


@lru_cache(maxsize=16)
def _heading_regex(
    words: tuple[str, ...], prefixes: tuple[str, ...], suffixes: tuple[str, ...]
) -> re.Pattern[str] | None:
    alts = sorted({_word_pattern(w) for w in words if w.strip()}, key=len, reverse=True)
    if not alts:
        return None
    return re.compile(
        r"(?P<pfx>(?:\d{1,3}[.．、)）]|[(（]\d{1,3}[)）]|[一二三四五六七八九十]{1,3}[、.．]"
        r"|[(（][一二三四五六七八九十]{1,3}[)）]|[\u2460-\u2473]|#{1,6}|[-•·*])?[ \t\u3000]*)"
        r"(?P<open>[【\[［〔*]{0,2})[ \t\u3000]*"
        r"(?P<pre>" + _alternation(prefixes) + r")?"
        r"(?P<word>" + "|".join(alts) + r")"
        r"(?P<paren>[ \t\u3000]*[(（][^()（）\n]{0,30}[)）])?"
        r"(?P<suf>" + _alternation(suffixes) + r")?"
        r"[ \t\u3000]*(?P<close>[】\]］〕*]{0,2})[ \t\u3000]*"
        r"(?P<colon>[：:])?[ \t\u3000]*(?P<rest>.*)",
        re.I,
    )


def _match_action_heading(pattern: re.Pattern[str], text: str, pos: int, end: int) -> tuple[str, int] | None:
    """(heading word, offset of inline content or -1) when ``text[pos:end]`` is a heading line."""
    m = pattern.match(text, pos, end)
    if m is None:
        return None
    if m.end("rest") > m.start("rest"):
        # Inline item: "行动项：请罗毅…" — a heading without a list marker, then a colon.
        if m.group("pfx").strip() or not m.group("colon"):
            return None
        return m.group("word"), m.start("rest")
    return m.group("word"), -1


# ---------------------------------------------------------------------------
# analysis

_BLANK, _ITEM, _BULLET_K, _HEADING, _ACTION, _TEXT = range(6)
_WS = " \t\u3000\u00a0"
_WS_CR = _WS + "\r"
_MARKER_FIRST = (
    frozenset("0123456789(（第" + _CN_NUM)
    | {chr(c) for c in range(0x2460, 0x2474)}
    | {chr(c) for c in [*range(0x3251, 0x3260), *range(0x32B1, 0x32C0)]}
)
_BULLET_FIRST = frozenset("-–*•·・●○◦▪■□◆◇►▶➢")
_HEADING_WINDOW = 24  # a heading word starts within this many characters of the line start


@dataclass(slots=True)
class _Open:
    scheme: str
    family: str
    indent: int
    last: int
    list_index: int
    item: int  # index of the current (last) item of this list
    soft: bool = False


@lru_cache(maxsize=16)
def _probe_regex(words: tuple[str, ...]) -> re.Pattern[str] | None:
    alts = sorted({_word_pattern(w) for w in words if w.strip()}, key=len, reverse=True)
    return re.compile("|".join(alts), re.I) if alts else None


def _indent_width(s: str) -> int:
    return sum(4 if c == "\t" else 2 if c == "\u3000" else 1 for c in s)


def _marker_of(line: str) -> tuple[str, int, int, int] | None:
    """(scheme, number, marker length, content offset) when ``line`` starts with a list marker."""
    if line[0] in "0123456789":
        m = _ARABIC.match(line)
        if m is None:
            return None
        return _ARABIC_SCHEME[m.group(2)], int(m.group(1)), m.end(2), m.end()
    m = _MARKER.match(line)
    if m is None:
        return None
    parsed = _parse_marker(m)
    if parsed is None:
        return None
    return parsed[0], parsed[1], m.end(m.lastgroup or 0), m.end()


def _parse_marker(m: re.Match[str]) -> tuple[str, int] | None:
    """(scheme, number) of a ``_MARKER`` match."""
    g = m.lastgroup
    if g == "arp":
        p = m.group("arp")
        return ("1." if p in ".．" else "1" + p), int(m.group("arn"))
    if g == "apc":
        return ("(1)" if m.group("apo") == "(" else "（1）"), int(m.group("apn"))
    if g == "cnp":
        n = chinese_numeral(m.group("cnn"))
        return None if n is None else ("一、" if m.group("cnp") == "、" else "一.", n)
    if g == "cpc":
        n = chinese_numeral(m.group("cpn"))
        return None if n is None else ("(一)" if m.group("cpo") == "(" else "（一）", n)
    if g == "ci":
        return "①", _circled_value(m.group("ci"))
    n = chinese_numeral(m.group("odn"))
    return None if n is None else ("第一，", n)


def analyze_sections(
    new_text: str,
    closing_start: int,
    headings: Sequence[str] | None = None,
    suffixes: Sequence[str] | None = None,
    prefixes: Sequence[str] | None = None,
) -> SectionInfo:
    """Lists, bullets and the action-item section of ``new_text[:closing_start]``.

    ``headings``/``prefixes``/``suffixes`` are the ``action_headings``/``heading_prefixes``/
    ``heading_suffixes`` of the lexicon (default: the shipped ``checks/data/sections.toml``).
    """
    shipped = _shipped()
    words = tuple(headings) if headings is not None else shipped.get("action_headings", ())
    pattern = _heading_regex(
        words,
        tuple(prefixes) if prefixes is not None else shipped.get("heading_prefixes", ()),
        tuple(suffixes) if suffixes is not None else shipped.get("heading_suffixes", ()),
    )
    probe = _probe_regex(words)
    closing_start = max(0, min(closing_start, len(new_text)))
    text = new_text[:closing_start]
    # Where a heading word occurs: only lines with one near their start are tried as headings.
    hits = [m.start() for m in probe.finditer(text)] if probe is not None else []
    n_hits = len(hits)
    hit_i = 0

    # Per line: (kind, start of its text, end, indent, start of the content after a marker).
    # Builders are tuples and lists of ints, which keeps the cyclic GC out of long texts.
    lines_info: list[tuple[int, int, int, int, int]] = []
    add_line = lines_info.append
    action_lines: list[tuple[int, str, int]] = []  # (line index, word, inline content offset or -1)
    # (scheme, number, level, marker, marker_start, marker_end, line, indent, list_index) per item
    items: list[tuple[str, int, int, str, int, int, int, int, int]] = []
    item_ends: list[int] = []
    lists: list[list[int]] = []  # list index -> item indices
    list_levels: list[int] = []
    bullets: list[Bullet] = []
    bullet_runs: list[list[int]] = []
    generic_headings: list[tuple[int, int]] = []

    stack: list[_Open] = []
    blank_since = False
    cont_owner = False  # the previous non-blank line belongs to an item or a bullet
    owner_indent = 0
    run_open = False
    run_indent = -1
    run_char = ""

    pos = 0
    for line_no, line in enumerate(text.split("\n")):
        lstart = pos
        pos += len(line) + 1
        body = line.rstrip(_WS_CR)
        if not body:
            add_line((_BLANK, lstart, lstart, 0, lstart))
            blank_since = True
            continue
        ls = body.lstrip(_WS)
        lead = len(body) - len(ls)
        cpos = lstart + lead
        tend = lstart + len(body)
        indent = _indent_width(body[:lead]) if lead else 0
        c0 = ls[0]

        # --- the action-item heading
        if hit_i < n_hits:
            while hit_i < n_hits and hits[hit_i] < cpos:
                hit_i += 1
            if hit_i < n_hits and hits[hit_i] < tend and hits[hit_i] - cpos < _HEADING_WINDOW:
                assert pattern is not None
                heading = _match_action_heading(pattern, text, cpos, tend)
                if heading is not None:
                    add_line((_ACTION, cpos, tend, indent, cpos))
                    action_lines.append((line_no, heading[0], heading[1]))
                    stack.clear()
                    cont_owner = run_open = blank_since = False
                    continue

        # --- a numbered item
        if c0 in _MARKER_FIRST:
            parsed = _marker_of(ls)
            if parsed is not None:
                scheme, number, mlen, clen = parsed
                mend = cpos + clen
                add_line((_ITEM, cpos, tend, indent, mend))
                top = stack[-1] if stack else None
                if (
                    top is not None
                    and top.scheme == scheme
                    and not top.soft
                    and top.indent <= indent + 1
                    and (number != 1 or indent < top.indent + 2)
                ):
                    # Fast path of _place: the innermost open list continues.
                    level, list_index = len(stack) - 1, top.list_index
                    top.last = number
                    top.item = len(items)
                    lists[list_index].append(top.item)
                else:
                    level, list_index = _place(scheme, number, indent, stack, len(items), lists, list_levels)
                items.append((scheme, number, level, ls[:mlen], cpos, mend, line_no, indent, list_index))
                item_ends.append(tend)
                cont_owner = True
                owner_indent = indent
                run_open = blank_since = False
                continue

        # --- a bullet
        if c0 in _BULLET_FIRST:
            bm = _BULLET.match(ls)
            if bm is not None:
                mend = cpos + bm.end()
                add_line((_BULLET_K, cpos, tend, indent, mend))
                bullets.append(Bullet(c0, cpos, mend, cpos, tend, line_no, indent, ls[bm.end() :]))
                if run_open and indent == run_indent and c0 == run_char:
                    bullet_runs[-1].append(len(bullets) - 1)
                else:
                    bullet_runs.append([len(bullets) - 1])
                    run_open, run_indent, run_char = True, indent, c0
                for entry in stack:
                    if not entry.soft:
                        item_ends[entry.item] = tend
                cont_owner = True
                owner_indent = indent
                blank_since = False
                continue

        # --- a heading or a text line
        kind = _TEXT
        if len(ls) <= 40 and (ls[-1] in "：:" or _GENERIC_HEADING.fullmatch(ls)):
            kind = _HEADING
        add_line((kind, cpos, tend, indent, cpos))
        if cont_owner and (indent > owner_indent or (kind == _TEXT and not blank_since)):
            for entry in stack:  # a continuation line
                if not entry.soft:
                    item_ends[entry.item] = tend
            if run_open and bullets:
                b = bullets[-1]
                bullets[-1] = b._replace(end=tend, text=text[b.marker_end : tend])
        else:
            for entry in stack:
                entry.soft = True
            cont_owner = run_open = False
            if kind == _HEADING:
                generic_headings.append((cpos, tend))
        blank_since = False

    frozen_items = [
        ListItem(sc, nu, lv, mk, ms, me, ms, en, li, ind, lx, text[me:en])
        for (sc, nu, lv, mk, ms, me, li, ind, lx), en in zip(items, item_ends, strict=True)
    ]
    frozen_lists = tuple(
        NumberedList(level=list_levels[i], items=tuple(frozen_items[j] for j in idxs)) for i, idxs in enumerate(lists)
    )
    action = _action_section(text, lines_info, action_lines[-1]) if action_lines else None
    return SectionInfo(
        items=tuple(frozen_items),
        lists=frozen_lists,
        bullets=tuple(bullets),
        bullet_runs=tuple(tuple(bullets[i] for i in run) for run in bullet_runs),
        headings=tuple(generic_headings),
        action=action,
        closing_start=closing_start,
    )


def _place(
    scheme: str, number: int, indent: int, stack: list[_Open], index: int, lists: list[list[int]], levels: list[int]
) -> tuple[int, int]:
    """Put item ``index`` on a level: continue an open list or open a new (possibly nested) one.

    Returns (level, list index).
    """
    family = FAMILY[scheme]
    # 1. The same scheme at a compatible indentation: continue it (or restart after a break).
    for k in range(len(stack) - 1, -1, -1):
        entry = stack[k]
        if entry.indent > indent + 1 or entry.scheme != scheme:
            continue
        if indent >= entry.indent + 2 and number == 1:
            break  # a deeper-indented new list in the same scheme: nested
        if entry.soft and number != entry.last + 1:
            return _open_list(stack, k, scheme, family, number, indent, index, lists, levels)
        return _continue(stack, k, number, index, lists)
    if number != 1:
        # 2. The next number of an open list (any scheme): same level, mixed schemes.
        for k in range(len(stack) - 1, -1, -1):
            entry = stack[k]
            if not entry.soft and entry.last + 1 == number and abs(entry.indent - indent) <= 1:
                return _continue(stack, k, number, index, lists)
        # 3. An open list of the same family at the same indentation: same level (skip or repeat).
        for k in range(len(stack) - 1, -1, -1):
            entry = stack[k]
            if not entry.soft and entry.family == family and abs(entry.indent - indent) <= 1:
                return _continue(stack, k, number, index, lists)
    # 4. A new list, nested under the innermost open item that is not indented deeper.
    at = len(stack)
    while at > 0 and stack[at - 1].indent > indent + 1:
        at -= 1
    return _open_list(stack, at, scheme, family, number, indent, index, lists, levels)


def _continue(stack: list[_Open], k: int, number: int, index: int, lists: list[list[int]]) -> tuple[int, int]:
    entry = stack[k]
    del stack[k + 1 :]
    entry.soft = False
    entry.last = number
    entry.item = index
    lists[entry.list_index].append(index)
    return k, entry.list_index


def _open_list(
    stack: list[_Open],
    at: int,
    scheme: str,
    family: str,
    number: int,
    indent: int,
    index: int,
    lists: list[list[int]],
    levels: list[int],
) -> tuple[int, int]:
    del stack[min(at, MAX_DEPTH - 1) :]
    level = len(stack)
    lists.append([index])
    levels.append(level)
    stack.append(_Open(scheme, family, indent, number, len(lists) - 1, index))
    return level, len(lists) - 1


def _action_section(
    text: str, lines_info: list[tuple[int, int, int, int, int]], heading: tuple[int, str, int]
) -> ActionSection:
    h, word, inline = heading
    _, heading_start, heading_end, heading_indent, _ = lines_info[h]
    found: list[ActionItem] = []
    add = found.append
    mode = "inline" if inline >= 0 else ""  # "" (not decided) | "inline" | "marker" | "line"
    if inline >= 0:
        add(ActionItem(text[inline:heading_end], inline, heading_end, inline, ""))
    base_indent = 0
    blank = False
    trailing: int | None = None
    stale: set[int] = set()  # items that grew continuation lines: their text is joined once, after the loop
    for i in range(h + 1, len(lines_info)):
        kind, s, e, ind, c = lines_info[i]
        if kind == _BLANK:
            blank = True
            continue
        marked = kind in (_ITEM, _BULLET_K)
        if marked and (mode == "" or mode == "inline"):
            mode, base_indent = "marker", ind
        if mode == "marker":
            if marked and ind <= base_indent + 1:
                add(ActionItem(text[c:e], s, e, c, text[s:c].rstrip(_WS)))
            elif found and (ind > base_indent or not (blank or kind == _HEADING)):
                found[-1] = found[-1]._replace(end=e)
                stale.add(len(found) - 1)
            else:
                trailing = s
                break
        elif mode == "":
            mode = "line"
            add(ActionItem(text[s:e], s, e, s, ""))
        elif not blank:  # a plain line directly below an inline or plain item
            if mode == "inline" and ind > heading_indent:
                found[-1] = found[-1]._replace(end=e)
                stale.add(len(found) - 1)
            else:
                add(ActionItem(text[s:e], s, e, s, ""))
        else:
            trailing = s
            break
        blank = False
    for idx in stale:
        item = found[idx]
        found[idx] = item._replace(text=_joined(text, item.content_start, item.end))
    trailing_end: int | None = None
    if trailing is not None:
        trailing_end = next(e for kind, _, e, _, _ in reversed(lines_info) if kind != _BLANK)
    return ActionSection(
        heading=word,
        heading_start=heading_start,
        heading_end=heading_end,
        items=tuple(found),
        end=found[-1].end if found else heading_end,
        trailing_start=trailing,
        trailing_end=trailing_end,
    )


def _joined(text: str, start: int, end: int) -> str:
    chunk = text[start:end]
    if "\n" not in chunk:
        return chunk.strip()
    return " ".join(p.strip() for p in chunk.split("\n") if p.strip())


def sections_of(msg: Message, ctx: Context) -> SectionInfo:
    """The analysis of ``msg.new_text`` under the policy's lexicon, built once per message."""

    def build() -> SectionInfo:
        lex = ctx.lexicon("sections")
        return analyze_sections(
            msg.new_text,
            msg.closing_start,
            headings=lex.get("action_headings"),
            suffixes=lex.get("heading_suffixes"),
            prefixes=lex.get("heading_prefixes"),
        )

    return ctx.memo.get("sections", build)
