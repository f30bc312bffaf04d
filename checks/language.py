"""Checks of the language family (SPEC §2 Language): wording, civility, claims, data, secrets, typography.

Body rules look only at the new text (``msg.new_text``: quoted earlier messages are cut or
blanked, offsets are body offsets); ``wording-civility`` also reads the subject. Word lists are
data (``checks/data/vague.toml``, ``civility.toml``, ``unverified.toml``, ``datasource.toml``,
``vague_rewrites.toml``); formats (numbers, keys, punctuation) are the precompiled patterns below,
all linear: no nested quantifiers over overlapping classes, bounded spans.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

from mailgate.context import Context
from mailgate.model import Applicability, Edit, Finding, Fix, Message, Text
from mailgate.model import Field as FieldName
from mailgate.nlp import Analysis, Match, analyze
from mailgate.registry import CheckSpec, Params, check

CHECKS: list[CheckSpec] = []

DATA = Path(__file__).parent / "data"
_WEEKDAYS_ZH = "一二三四五六日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# --------------------------------------------------------------------------- shared helpers

# Protected spans are found from literal anchors (``://`` ``www.`` ``@`` backticks), so a 1 MB
# body costs a few str.find scans, not a regex attempt at every position.
_URL_TAIL = re.compile(r"[^\s<>\"'，。；、）》」]{1,2000}")
_URL_SCHEME = re.compile(r"(?:https?|ftp)$", re.I)
_WWW_TAIL = re.compile(r"[A-Za-z0-9.-]{1,253}[^\s<>\"'，。；、）》」]{0,2000}")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+-]{1,64}$")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}")
_BACKTICKS = re.compile(r"`[^`\n]{1,2000}`")
_INDENTED = re.compile(r"^(?:    |\t)[^\n]{0,5000}$", re.M)


_MAX_ANCHORS = 20_000  # URLs/addresses looked at per text: enough for mail, bounded for garbage


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
    for i in islice(occurrences(text, "-----BEGIN "), _MAX_ANCHORS):
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
    for i in islice(occurrences(text, "://"), _MAX_ANCHORS):
        if i < last:
            continue  # inside the previous URL: each character is scanned once
        scheme = _URL_SCHEME.search(text, max(0, i - 5), i)
        tail = _URL_TAIL.match(text, i + 3) if scheme else None
        if scheme and tail:
            spans.append((scheme.start(), tail.end()))
            last = tail.end()
    for needle in ("www.", "WWW."):
        last = -1
        for i in islice(occurrences(text, needle), _MAX_ANCHORS):
            if i < last:
                continue
            tail = _WWW_TAIL.match(text, i + 4)
            if tail:
                spans.append((i, tail.end()))
                last = tail.end()
    for i in islice(occurrences(text, "@"), _MAX_ANCHORS):
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


def _protected(ctx: Context, text: str) -> list[tuple[int, int]]:
    """``protected_spans`` of the new text, computed once per message."""
    if text is ctx.message.new_text:
        return ctx.memo.get("language:protected", lambda: protected_spans(text))
    return protected_spans(text)


class _Spans:
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


def _excerpt(text: str, start: int, end: int, width: int = 12) -> str:
    a = max(0, start - width)
    b = min(len(text), end + width)
    out = text[a:b].replace("\n", " ").strip()
    return ("…" if a > 0 else "") + out + ("…" if b < len(text) else "")


def _working_days_after(day: dt.date, n: int) -> dt.date:
    while n > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _date_words(msg: Message) -> dict[str, str]:
    """Concrete dates for rewrite suggestions, computed from the Date header (today if none)."""
    base = (msg.date or dt.datetime.now().astimezone()).date()
    soon = _working_days_after(base, 2)
    week = _working_days_after(base, 5)
    return {
        "deadline": f"{soon.month}月{soon.day}日（周{_WEEKDAYS_ZH[soon.weekday()]}）18:00",
        "deadline_en": f"{_WEEKDAYS_EN[soon.weekday()]} {soon.day} {_MONTHS_EN[soon.month - 1]} 18:00",
        "next_week": f"{week.month}月{week.day}日（周{_WEEKDAYS_ZH[week.weekday()]}）",
        "next_week_en": f"{_WEEKDAYS_EN[week.weekday()]} {week.day} {_MONTHS_EN[week.month - 1]}",
    }


def _subject_analysis(msg: Message, ctx: Context) -> Analysis:
    return ctx.memo.get("nlp:subject", lambda: analyze(msg.subject_base, ctx.policy))


@lru_cache(maxsize=4)
def _lower(text: str) -> str:
    return text.lower()


class WordSearch:
    """Substring search for many words at once: CJK words by first character, ASCII words as whole words.

    Built once per lexicon (see :func:`by_identity`); a text is scanned with one ``str.find``
    loop per word whose first character occurs in it, so the cost tracks the words present.
    """

    def __init__(self, words: Mapping[str, tuple[str, ...]]) -> None:
        self.by_first: dict[str, list[tuple[str, str]]] = {}
        ascii_cat: dict[str, str] = {}
        for cat, ws in words.items():
            for w in ws:
                w = w.strip()
                if not w:
                    continue
                if w.isascii():
                    ascii_cat.setdefault(w.lower(), cat)
                else:
                    self.by_first.setdefault(w[0], []).append((w, cat))
        self.ascii_cat = ascii_cat
        alt = "|".join(re.escape(w) for w in sorted(ascii_cat, key=len, reverse=True))
        self.ascii_rx = re.compile(rf"(?<![A-Za-z0-9_])(?:{alt})(?![A-Za-z0-9_])", re.I) if alt else None

    def find(self, text: str, limit: int = 100_000, present: set[str] | None = None) -> list[Match]:
        """Occurrences (overlapping, unsorted); at most the first ``limit`` of each word.

        ``present`` (the set of the text's characters, if the caller has it) skips words whose
        first character does not occur.
        """
        out: list[Match] = []
        if self.by_first:
            if present is None and len(text) < 200_000:
                present = set(text)
            for first, entries in self.by_first.items():
                if present is not None and first not in present:
                    continue
                for w, cat in entries:
                    out.extend(Match(cat, w, i, i + len(w)) for i in islice(occurrences(text, w), limit))
        if self.ascii_rx is not None:
            low = _lower(text)
            if any(w in low for w in self.ascii_cat):
                for m in islice(self.ascii_rx.finditer(text), limit):
                    out.append(Match(self.ascii_cat.get(m.group(0).lower(), ""), m.group(0), m.start(), m.end()))
        return out


T = TypeVar("T")


def by_identity(store: dict[int, tuple[object, Any]], key: object, build: Callable[[], T]) -> T:
    """``build()`` once per ``key`` object (lexicon mappings live as long as their policy)."""
    hit = store.get(id(key))
    if hit is not None and hit[0] is key:
        return cast(T, hit[1])
    if len(store) > 32:
        store.clear()
    value = build()
    store[id(key)] = (key, value)
    return value


# --------------------------------------------------------------------------- wording-vague

_CATEGORY_NAMES: dict[str, Text] = {
    "hedge": Text("含糊推测", "hedge"),
    "time": Text("时间不明确", "vague time"),
    "quantity": Text("数量不明确", "vague quantity"),
    "reference": Text("指代不明", "unclear reference"),
    "commitment": Text("承诺不明确", "non-committal"),
}

# A number, optionally a unit, then 左右/上下/多: 30左右 30人左右 10多个 三个多月. Found from the
# approximation word backwards (a literal scan), so long texts stay cheap.
# 多 after a date/place unit is not an approximation (2026年多个部门, 3楼多功能厅).
# Only after a digit, a numeral or the last character of a unit can 左右/上下/多 approximate.
_APPROX_WORD = re.compile(
    r"(?<=[0-9零一二两三四五六七八九十百千万个人名位次天周元家件条项台张笔起份本篇页单户岁倍米斤吨%年月日号点楼层室时钟里])"
    r"(?:左右|上下|多)"
)
_APPROX_BEFORE = re.compile(
    r"(?<![0-9A-Za-z.,:：/\-])(?P<num>\d{1,9}(?:\.\d{1,4})?|[零一二两三四五六七八九十百千万]{1,6})"
    r"(?P<unit>个月|小时|分钟|万元|公里|公斤|个|人|名|位|次|天|周|元|万|千|百|家|件|条|项|台|张|"
    r"笔|起|份|本|篇|页|单|户|岁|倍|米|斤|吨|%|年|月|日|号|点|楼|层|室)?$"
)
_AFTER_DUO = frozenset("个人名位次天家件条项台张笔起份本篇页单户万千百元年月周")


class ApproxNumber(NamedTuple):
    start: int
    end: int
    num: str
    unit: str
    approx: str  # 左右 | 上下 | 多

    @property
    def text(self) -> str:
        return f"{self.num}{self.unit}{self.approx}"


_DATE_UNITS = frozenset({"年", "月", "日", "号", "点", "楼", "层", "室"})
_PLACE_UNITS = frozenset({"楼", "层", "室", "号"})


@lru_cache(maxsize=4)
def _rewrites(path: Path = DATA / "vague_rewrites.toml") -> dict[str, dict[str, dict[str, str]]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {"words": {}, "categories": {}}
    return {
        "words": {k: v for k, v in data.get("words", {}).items() if isinstance(v, dict)},
        "categories": {k: v for k, v in data.get("categories", {}).items() if isinstance(v, dict)},
    }


def _rewrite(word: str, category: str, dates: Mapping[str, str]) -> Text:
    table = _rewrites()
    entry = table["words"].get(word) or table["words"].get(word.upper()) or table["categories"].get(category)
    if not entry:
        return Text("改用具体、可核对的表述", "use a concrete, checkable statement")
    values = {**dates, "word": word}
    try:
        return Text(str(entry.get("zh", "")).format(**values), str(entry.get("en", "")).format(**values))
    except (KeyError, IndexError, ValueError):
        return Text(str(entry.get("zh", "")), str(entry.get("en", "")))


def _approx_suggestion(num: str, unit: str) -> Text:
    if num.replace(".", "", 1).isdigit():
        value = float(num)
        spread = max(1.0, round(value * 0.1))
        lo, hi = value - spread, value + spread
        fmt = (lambda x: f"{x:g}") if "." in num else (lambda x: f"{int(x)}")
        return Text(
            f"写出确切数字（如“{num}{unit}”），或写明区间（如“{fmt(lo)}–{fmt(hi)}{unit}”）并注明统计时间",
            f'give the exact figure (e.g. "{num}{unit}") or an explicit range '
            f'(e.g. "{fmt(lo)}–{fmt(hi)}{unit}") with its date',
        )
    return Text(
        f"写出确切数字（如“{num}{unit}”），或写明区间",
        f'give the exact figure (e.g. "{num}{unit}") or an explicit range',
    )


def approximate_numbers(text: str, nlp: Analysis | None = None) -> Iterator[ApproxNumber]:
    """``30左右`` ``30人左右`` ``10多个`` … that start and end on word boundaries."""
    if "左右" not in text and "上下" not in text and "多" not in text:
        return
    for w in _APPROX_WORD.finditer(text):
        i, approx = w.start(), w.group(0)
        if approx == "多":
            nxt = text[i + 1 : i + 2]
            if nxt and nxt not in _AFTER_DUO and "\u4e00" <= nxt <= "\u9fff":
                continue  # 多功能, 多云
        m = _APPROX_BEFORE.search(text, max(0, i - 16), i)
        if m is None:
            continue
        unit = m.group("unit") or ""
        if approx == "多" and unit in _DATE_UNITS:
            continue
        if approx != "多" and unit in _PLACE_UNITS:
            continue
        if m.group("num")[0] not in "0123456789" and nlp is not None and not nlp.is_boundary(m.start()):
            continue  # 统一多个: the numeral is part of a word
        if nlp is not None and approx != "多" and not nlp.is_boundary(w.end()):
            continue  # 上下班, 左右手
        yield ApproxNumber(m.start(), w.end(), m.group("num"), unit, approx)


_NOT_VAGUE: dict[int, tuple[object, Any]] = {}


def _not_vague(vague: Mapping[str, tuple[str, ...]]) -> WordSearch:
    return by_identity(_NOT_VAGUE, vague, lambda: WordSearch({"not_vague": tuple(vague.get("not_vague", ()))}))


class VagueParams(Params):
    categories: tuple[str, ...] = ("hedge", "time", "quantity", "reference", "commitment")
    """Lexicon categories (of the `vague` lexicon) that are checked."""
    approximate_numbers: bool = True
    """Also flag a number followed by 左右/上下/多 (`30左右`, `30人左右`, `10多个`)."""
    max_findings: int = 30
    """At most this many findings per message."""


@check("wording-vague", family="language", severity="warning", params=VagueParams, needs_nlp=True)
def wording_vague(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Vague or ambiguous wording in the new text, each with a concrete rewrite.

    ## What it checks
    Words of the `vague` lexicon, matched on word tokens of the segmented new text (not on
    substrings: `可能` fires, `可能性` does not; `近期内` is 近期 + 内 and fires), by category:
    - hedge: 可能 也许 大概 或许 似乎 估计 差不多 基本上 好像 应该是 应该会
    - time: 尽快 尽早 近期 稍后 晚点 改天 过段时间 有空时 适当时候 ASAP soon
    - quantity: 一些 若干 大量 很多 不少 几个 好几, and a number followed by 左右/上下/多
      (`30左右`, `30人左右`, `10多个`; not `2026年多个部门`, not `3楼多功能厅`)
    - reference: 相关人员 相关部门 相关事宜 有关方面 等等 之类 这个事 那件事 上次说的
    - commitment: 原则上 尽量 争取 看情况 再说 研究一下 酌情 视情况

    A match inside a `not_vague` phrase of the lexicon (不可能 尽可能 不少于 …) is precise and
    does not fire. Each finding names the word and category and suggests a concrete rewrite from
    `checks/data/vague_rewrites.toml`; time words get a date computed from the `Date` header
    (尽快 → “11月20日（周五）18:00前”).

    ## Why
    运营管理沟通规定 二(一)2(2): “使用清晰、简洁的语言，避免使用模糊或可能引起歧义的表述”; seed 001
    三(一)1: “避免使用模糊、歧義或容易引起誤解的語言”. A reader cannot act on “尽快” or “相关部门”.

    ## Bad
    ```
    检修期间可能出现短时告警。
    请相关部门按需开通。
    本周末加班人数在30左右。
    ```

    ## Good
    ```
    检修期间UPS切换会出现约1分钟告警。
    请技术部（对接人：何涛）在11月20日前开通。
    本周末加班人数为32人（11月18日报名表）。
    已完成“手机拦截短信”的可能性排查。
    ```

    ## Fix safety
    No automatic fix: only the sender knows the exact date, number or person.

    ## Params
    - `categories` (list): lexicon categories checked. Default: all five.
    - `approximate_numbers` (bool): flag `30左右`-style numbers. Default: true.
    - `max_findings` (int): cap per message. Default: 30.
    Admins extend the words with `[lexicons.vague] hedge = { add = ["兴许"] }`.
    """
    params = ctx.p(VagueParams)
    text = msg.new_text
    if not text.strip():
        return
    vague = ctx.lexicon("vague")
    lexicon = {c: ws for c, ws in vague.items() if c in params.categories and c != "not_vague"}
    nlp = ctx.nlp
    found: list[tuple[int, int, str, str, ApproxNumber | None]] = []
    precise = _Spans(sorted((m.start, m.end) for m in _not_vague(vague).find(text)))
    cap = max(1, params.max_findings)
    for m in nlp.find(lexicon, limit=cap * 4):  # the first matches are the ones reported
        if not precise.hits(m.start, m.end):
            found.append((m.start, m.end, m.category, m.word, None))
    if params.approximate_numbers and "quantity" in params.categories:
        taken = _Spans([(s, e) for s, e, *_ in found])
        for am in islice(approximate_numbers(text, nlp), cap * 2):
            if not taken.hits(am.start, am.end):
                found.append((am.start, am.end, "quantity", am.text, am))
    found.sort(key=lambda f: (f[0], f[1]))
    dates = _date_words(msg) if found else {}
    for start, end, category, word, approx in found[: params.max_findings]:
        name = _CATEGORY_NAMES.get(category, Text(category, category))
        yield ctx.finding(
            message=Text(
                f"模糊表述“{word}”（{name.zh}）：{_excerpt(text, start, end)}",
                f'vague wording "{word}" ({name.en}): {_excerpt(text, start, end)}',
            ),
            suggestion=_approx_suggestion(approx.num, approx.unit) if approx else _rewrite(word, category, dates),
            field="body",
            start=start,
            end=end,
        )


CHECKS.append(wording_vague)


# --------------------------------------------------------------------------- wording-civility

_REPEATED_PUNCT = re.compile(r"[！!]{2,}|[？?]{2,}|[！!？?]{3,}")
_PUNCT_PAIRS = tuple(a + b for a in "！!？?" for b in "！!？?")
_CIVILITY_CATEGORIES = ("insult", "profanity", "aggressive")


def civility_matches(
    text: str, nlp: Callable[[], Analysis], lexicon: Mapping[str, tuple[str, ...]], limit: int = 100_000
) -> list[Match]:
    """Insults, profanity and aggressive phrases in ``text``, minus those inside a neutral compound.

    CJK words of 3+ characters match as substrings, shorter ones on word tokens (so 垃圾 in
    垃圾邮件 is one token, not the insult), ASCII words as whole words. ``nlp`` gives the
    analysis of ``text``; it is only asked for when a short word may occur.
    """
    parts = _civility_parts(lexicon)
    present = set(text) if len(text) < 200_000 else None
    found: list[Match] = []
    if parts.short and (present is None or not parts.short_firsts.isdisjoint(present)):
        found = nlp().find(parts.short, overlapping=True, limit=limit)
    found += parts.long.find(text, limit, present)
    neutral_found = parts.neutral.find(text, present=present) if found else []
    neutral = _Spans(sorted((m.start, m.end) for m in neutral_found)) if neutral_found else None
    if neutral is not None:
        found = [m for m in found if not neutral.hits(m.start, m.end)]
    kept: list[Match] = []
    last_end = -1
    for m in sorted(found, key=lambda m: (m.start, -m.end)):
        if m.start < last_end:
            continue
        kept.append(m)
        last_end = m.end
    return kept


class _CivilityParts(NamedTuple):
    short: dict[str, tuple[str, ...]]  # CJK words under 3 characters: matched on tokens
    short_firsts: frozenset[str]
    long: WordSearch  # longer CJK words and ASCII words: substrings / whole words
    neutral: WordSearch


_CIVILITY_PARTS: dict[int, tuple[object, Any]] = {}


def _civility_parts(lexicon: Mapping[str, tuple[str, ...]]) -> _CivilityParts:
    def build() -> _CivilityParts:
        short = {
            cat: ws
            for cat in _CIVILITY_CATEGORIES
            if (ws := tuple(w for w in lexicon.get(cat, ()) if w and not w.isascii() and len(w) < 3))
        }
        long = WordSearch({
            cat: tuple(w for w in lexicon.get(cat, ()) if w and (w.isascii() or len(w) >= 3))
            for cat in _CIVILITY_CATEGORIES
        })
        firsts = frozenset(w[0] for ws in short.values() for w in ws)
        return _CivilityParts(short, firsts, long, WordSearch({"neutral": tuple(lexicon.get("neutral", ()))}))

    return by_identity(_CIVILITY_PARTS, lexicon, build)


class CivilityParams(Params):
    caps_min_letters: int = 5
    """An all-capitals word this long or longer is shouting (API, HTTP, SLA are fine)."""
    check_subject: bool = True
    """Also check the subject."""
    max_findings: int = 20
    """At most this many findings per message."""


@check("wording-civility", family="language", severity="error", params=CivilityParams, external=True, needs_nlp=True)
def wording_civility(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Insults and profanity (error); aggressive phrasing, repeated ！！/？？ and shouting (warning).

    ## What it checks
    In the subject and the new text:
    - insults and profanity from the `civility` lexicon (error). Context-aware: a word inside a
      `neutral` compound is not an insult — 垃圾邮件, 垃圾分类, 垃圾桶, 反垃圾 are fine;
    - aggressive phrasing: 说了多少遍 你们到底有没有 是不是傻 别找借口 … (warning);
    - repeated exclamation or question marks: `！！` `？？` `!!` `??` (warning, safe fix: keep one);
    - shouted ALL-CAPS words of 5+ letters such as `PLEASE` (warning). Acronyms of up to 4
      letters (API HTTP SLA) and the lexicon's `acronyms` (HTTPS OAUTH …) are fine; so are
      URLs, addresses and code.

    ## Why
    运营管理沟通规定: 文明用语; seed 001 四(二)1: “不得在群內進行人身攻擊、辱罵、詆毀等不文明行為”,
    四(二)3: “注意語言表達的禮貌性”. Mail is a written record; hostility makes the request itself
    less likely to be acted on.

    ## Bad
    ```
    同样的错误10月已经出现过一次，是不是傻？
    安卓端登录页面白屏的问题又出现了！！
    PLEASE NOTE：升级后工牌需重新激活。
    ```

    ## Good
    ```
    同样的配置错误10月已出现过一次，请在上线检查清单中增加接口地址核对项。
    合作方邮件被误判为垃圾邮件；HTTP链接与API发信均正常。
    ```

    ## Fix safety
    Collapsing repeated `！！`/`？？` to one mark is safe. Lower-casing a shouted word is offered
    as an unsafe fix (it may be a name). Insults and aggressive phrasing need a human rewrite.

    ## Params
    - `caps_min_letters` (int): shortest all-capitals word that counts as shouting. Default: 5.
    - `check_subject` (bool): also check the subject. Default: true.
    - `max_findings` (int): cap per message. Default: 20.
    """
    params = ctx.p(CivilityParams)
    lexicon = ctx.lexicon("civility")
    acronyms = frozenset(w.upper() for w in lexicon.get("acronyms", ()))
    sources: list[tuple[FieldName, str, int]] = []
    if params.check_subject and msg.subject_base.strip():
        sources.append(("subject", msg.subject_base, msg.topic_start))
    if msg.new_text.strip():
        sources.append(("body", msg.new_text, 0))
    count = 0
    for field, text, base in sources:
        def nlp(field: FieldName = field) -> Analysis:
            return ctx.nlp if field == "body" else _subject_analysis(msg, ctx)

        cap = params.max_findings * 4  # only the first findings are reported
        spots = [(m.start, m.end, m.category) for m in civility_matches(text, nlp, lexicon, cap)]
        spots += [(s, e, "punct") for s, e in islice(repeated_punctuation(text), cap)]
        spots += [(s, e, "caps") for s, e in islice(shouted_words(text, params.caps_min_letters, acronyms), cap)]
        if any(kind in ("punct", "caps") for *_, kind in spots):
            protected = _Spans(_protected(ctx, text))
            spots = [t for t in spots if t[2] not in ("punct", "caps") or not protected.hits(t[0], t[1])]
        spots.sort()
        for start, end, kind in spots:
            if count >= params.max_findings:
                return
            count += 1
            yield _civility_finding(ctx, field, text, base, start, end, kind)


def repeated_punctuation(text: str) -> Iterator[tuple[int, int]]:
    """Runs of ！！ ？？ !! ?? (and mixes of three or more)."""
    if any(pair in text for pair in _PUNCT_PAIRS):
        for m in _REPEATED_PUNCT.finditer(text):
            yield m.span()


def shouted_words(text: str, min_letters: int, acronyms: frozenset[str]) -> Iterator[tuple[int, int]]:
    """All-capitals words of ``min_letters``+ letters, not part of an identifier, path or address."""
    for m in _caps_regex(max(2, min_letters)).finditer(text):
        s, e = m.span()
        before = text[s - 1] if s else ""
        after = text[e : e + 2]
        if before and (before.isascii() and (before.isalnum() or before in "_@.-/\\#=$%&<")):
            continue  # part of an identifier, path, colour code (#FFFFFF) or markup
        if after[:1] and after[0].isascii() and (after[0].isalnum() or after[0] in "_@"):
            continue
        if len(after) == 2 and after[0] in ".-/\\" and after[1].isascii() and after[1].isalnum():
            continue
        if m.group(0) not in acronyms:
            yield s, e


@lru_cache(maxsize=8)
def _caps_regex(n: int) -> re.Pattern[str]:
    return re.compile(rf"[A-Z]{{{n},}}")


def _civility_finding(ctx: Context, field: FieldName, text: str, base: int, start: int, end: int, kind: str) -> Finding:
    word = text[start:end]
    excerpt = _excerpt(text, start, end)
    if kind == "aggressive":
        return ctx.finding(
            message=Text(f"攻击性措辞“{word}”：{excerpt}", f"aggressive phrasing \"{word}\": {excerpt}"),
            suggestion=Text(
                "改为中性表述，写清事实和期望，如“该问题已于11月13日反馈过，请在11月20日前给出修复计划”",
                "state the facts and what you need, e.g. "
                "\"this was reported on 13 Nov; please send a fix plan by 20 Nov\"",
            ),
            field=field, start=base + start, end=base + end, shift=-1,
        )
    if kind == "punct":
        one = word[-1]
        one = {"!": "！", "?": "？"}.get(one, one) if _cjk_near(text, start) else one
        return ctx.finding(
            message=Text(f"重复标点“{word}”显得情绪化", f"repeated punctuation \"{word}\" reads as emotional"),
            suggestion=Text(f"只保留一个“{one}”", f"keep a single \"{one}\""),
            field=field, start=base + start, end=base + end, shift=-1,
            fix=Fix(
                Text(f"将“{word}”改为“{one}”", f"replace \"{word}\" by \"{one}\""),
                (Edit(field, base + start, base + end, one),),
                Applicability.SAFE,
            ),
        )
    if kind == "caps":
        nice = word.capitalize()
        return ctx.finding(
            message=Text(f"全大写单词“{word}”像是在喊叫", f"the all-capitals word \"{word}\" reads as shouting"),
            suggestion=Text(
                f"改为“{nice}”；需要强调时用【】标出要点", f"write \"{nice}\"; mark what matters with 【】 instead"
            ),
            field=field, start=base + start, end=base + end, shift=-1,
            fix=Fix(
                Text(f"将“{word}”改为“{nice}”", f"rewrite \"{word}\" as \"{nice}\""),
                (Edit(field, base + start, base + end, nice),),
                Applicability.UNSAFE,
            ),
        )
    return ctx.finding(
        message=Text(f"不文明用语“{word}”：{excerpt}", f"uncivil wording \"{word}\": {excerpt}"),
        suggestion=Text(
            f"删除“{word}”，就事论事地描述问题和需要对方做的事",
            f"remove \"{word}\" and describe the problem and the action you need",
        ),
        field=field, start=base + start, end=base + end,
    )


def _cjk_near(text: str, pos: int) -> bool:
    before = text[max(0, pos - 1) : pos]
    return bool(before) and "\u3400" <= before <= "\u9fff"


CHECKS.append(wording_civility)


# --------------------------------------------------------------------------- content-unverified

_CLAUSE_BREAK = re.compile(r"[，。；！？,;!?\n]")


class UnverifiedParams(Params):
    max_findings: int = 20
    """At most this many findings per message."""


@check(
    "content-unverified",
    family="language",
    severity="warning",
    params=UnverifiedParams,
    external=True,
    needs_nlp=True,
)
def content_unverified(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Unverified claims passed on as news: 据说 听说 网传 传言 小道消息 道听途说 有人说.

    ## What it checks
    Hearsay markers of the `unverified` lexicon, matched on word tokens of the new text
    (`有传言说` fires; `根据说明` is 根据 + 说明 and does not). A marker the sender dismisses in the
    same clause (`请勿轻信网传消息`, `网传消息不属实`) or negates (`没听说过`) does not fire.

    ## Why
    运营管理沟通规定: 不得发布未经证实的消息; seed 001 三(一)1: “嚴禁在群內發布未經證實的消息、謠言、
    虛假信息”. Hearsay in a work mail gets forwarded as fact.

    ## Bad
    ```
    听说技术部下周要调整测试环境，联调时间待定。
    有人说是因为奖品采购流程没走完。
    ```

    ## Good
    ```
    技术部马振11月17日确认：测试环境将于11月24日调整，联调改至11月25日。
    奖品延误原因待运营部赵磊核实，11月17日18:00前回复。
    ```

    ## Fix safety
    No automatic fix: the sender must verify the claim (name the source and date) or drop it.

    ## Params
    - `max_findings` (int): cap per message. Default: 20.
    """
    params = ctx.p(UnverifiedParams)
    text = msg.new_text
    if not text.strip():
        return
    lexicon = ctx.lexicon("unverified")
    markers = {c: ws for c, ws in lexicon.items() if c not in ("dismissal", "refuted", "negation")}
    dismissal = tuple(w for w in lexicon.get("dismissal", ()) if w)
    refuted = tuple(w for w in lexicon.get("refuted", ()) if w)
    negation = tuple(w for w in lexicon.get("negation", ()) if w)
    count = 0
    for m in ctx.nlp.find(markers):
        before = text[max(0, m.start - 12) : m.start]
        before = _CLAUSE_BREAK.split(before)[-1]
        after = text[m.end : m.end + 16]
        after = _CLAUSE_BREAK.split(after)[0]
        if any(w in before for w in dismissal) or any(w in after for w in refuted) or before.endswith(negation):
            continue
        if count >= params.max_findings:
            return
        count += 1
        yield ctx.finding(
            message=Text(
                f"未经证实的消息“{m.word}”：{_excerpt(text, m.start, m.end)}",
                f"unverified claim (\"{m.word}\"): {_excerpt(text, m.start, m.end)}",
            ),
            suggestion=Text(
                "核实后写明信息来源和确认人，如“技术部马振11月17日确认：……”；无法核实的删除或写“待××核实，××前回复”",
                "verify it and name the source, e.g. \"confirmed by Ma Zhen (Tech) on 17 Nov: …\"; "
                "otherwise drop it or write \"to be verified by X by <date>\"",
            ),
            field="body",
            start=m.start,
            end=m.end,
        )


CHECKS.append(content_unverified)


# --------------------------------------------------------------------------- data-source

_NUM = r"\d{1,15}(?:[,，]\d{3}){0,5}(?:\.\d{1,6})?"
# A number that does not continue a word or another number; the first digit comes first so the
# regex engine can skip ahead to digits.
_LEAD_NUM = r"\d(?<![0-9A-Za-z.]\d)\d{0,14}(?:[,，]\d{3}){0,5}(?:\.\d{1,6})?"
_NOT_DATE = r"(?![\d.,年月日号点时:：/\-])"
_FIGURE_UNIT = r"(?:\s?(?:[%％]|个百分点|倍|成))?"
# (kind, literals one of which must occur for the pattern to match at all, pattern)
_DATA_PATTERNS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    ("growth", ("同比", "环比"), re.compile(rf"(?:同比|环比)[^\n，。；,;\d]{{0,8}}{_NUM}{_NOT_DATE}{_FIGURE_UNIT}")),
    ("growth", ("增长", "下降", "增幅", "降幅", "涨幅"),
     re.compile(rf"(?:增长|下降|增幅|降幅|涨幅)(?:了|为|至|到|约|达)?\s?{_NUM}{_NOT_DATE}{_FIGURE_UNIT}")),
    ("money", ("¥", "￥", "$"), re.compile(rf"[¥￥$]\s?{_NUM}")),
    ("money", ("RMB", "CNY", "USD", "HKD"), re.compile(rf"(?:RMB|CNY|USD|HKD)(?<![A-Za-z][A-Z]{{3}})\s?{_NUM}")),
    ("money", ("元", "块钱", "人民币", "RMB", "CNY"), re.compile(
        rf"{_LEAD_NUM}\s?(?:[万千百]|百万|千万)?\s?(?:元|块钱|美元|港元|欧元|人民币|RMB|CNY)(?![A-Za-z])")),
    ("money", ("亿",), re.compile(rf"{_LEAD_NUM}\s?亿")),
    ("percent", ("%", "％", "‰", "百分点"), re.compile(rf"{_LEAD_NUM}\s?(?:[%％‰]|个百分点)")),
    ("percent", ("百分之",), re.compile(r"百分之[零一二两三四五六七八九十百点]{1,8}")),
)
_SOURCE_PATTERNS = re.compile(
    r"数据由[^。\n]{1,30}?提供|(?:据|根据)[^，。；\n]{0,20}?统计|数据(?:来自|取自|引自|出自)"
)


def data_mentions(
    text: str, protected: list[tuple[int, int]] | None = None, limit: int = 1000
) -> list[tuple[int, int, str]]:
    """(start, end, kind) of percentages, money amounts and growth figures, outside URLs/code.

    At most the first ``limit`` figures of each kind are looked at.
    """
    found: list[tuple[int, int, str]] = []
    for kind, needles, rx in _DATA_PATTERNS:
        if any(n in text for n in needles):
            found.extend((m.start(), m.end(), kind) for m in islice(rx.finditer(text), limit))
    if not found:
        return []
    spans = _Spans(protected_spans(text) if protected is None else protected)
    found.sort(key=lambda t: (t[0], -t[1]))
    out: list[tuple[int, int, str]] = []
    for item in found:  # 环比增长2.4个百分点 is one figure, not a growth and a percentage
        if (out and item[0] < out[-1][1]) or spans.hits(item[0], item[1]):
            continue
        out.append(item)
    return out


def has_source(text: str, markers: tuple[str, ...]) -> bool:
    low = text.lower()
    return any(w.lower() in low for w in markers if w) or _SOURCE_PATTERNS.search(text) is not None


class DataSourceParams(Params):
    kinds: tuple[str, ...] = ("percent", "money", "growth")
    """Which figures need a source: percentages, money amounts, growth figures."""


@check("data-source", family="language", severity="warning", params=DataSourceParams)
def data_source(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Figures (percentages, money, growth) in the new text without a source statement.

    ## What it checks
    The new text states a percentage (`12.6%`, `2.4个百分点`, `百分之五`), a money amount (`150元`,
    `286.4万元`, `1.2亿`, `¥150,000`, `RMB 500`) or a growth figure (同比/环比/增长/下降 + number)
    but nowhere says where the figures come from: no marker of the `datasource` lexicon
    (数据来源 来源： 数据口径 统计口径 Source: …) and no `数据由…提供` / `据…统计`. Dates, clock
    times, phone numbers, room numbers, counts and list numbers are not data (`单元测试` is no
    money either).

    ## Why
    运营管理沟通规定 二(一)2(1): “发送前需经过内容核对，涉及数据的信息必须由数据源部门双重确认”.
    A stated source lets the reader check the figure with the department that owns it.

    ## Bad
    ```
    1. “会员日”活动页的访问转化率为12.6%，环比增长2.4个百分点。
    ```

    ## Good
    ```
    1. “会员日”活动页的访问转化率为12.6%，环比增长2.4个百分点。
    数据来源：数据部用户行为分析平台，统计周期为11月16日-11月22日。
    ```

    ## Fix safety
    No automatic fix: only the sender knows the source.

    ## Params
    - `kinds` (list): `percent`, `money`, `growth` — the figures that need a source. Default: all.
    """
    params = ctx.p(DataSourceParams)
    text = msg.new_text
    if not text.strip():
        return
    mentions = [m for m in data_mentions(text, _protected(ctx, text)) if m[2] in params.kinds]
    if not mentions:
        return
    markers = tuple(w for ws in ctx.lexicon("datasource").values() for w in ws)
    if has_source(text, markers):
        return
    start, end, _ = mentions[0]
    shown = "、".join(dict.fromkeys(text[s:e] for s, e, _ in mentions[:3]))
    more = len(mentions) > 3
    yield ctx.finding(
        message=Text(
            f"正文含数据（“{shown}”{'等' if more else ''}共{len(mentions)}处）但没有注明数据来源",
            f"the text states figures ({shown}{', …' if more else ''}; {len(mentions)} in all) but not their source",
        ),
        suggestion=Text(
            "在数据后或正文末尾注明“数据来源：<部门/系统>，统计口径：<统计时间范围>”，并请数据源部门确认",
            "add \"数据来源：<department/system>, 统计口径：<period>\" after the figures or at the end, "
            "confirmed by the department that owns the data",
        ),
        field="body",
        start=start,
        end=end,
    )


CHECKS.append(data_source)


# --------------------------------------------------------------------------- sensitive-data

# Digit-led patterns put their "not inside a longer token" look-behind after the first digit, so
# the regex engine can skip to digits; keyword patterns run only when a literal needle occurs.
_ID_NUMBER = re.compile(
    r"[1-9](?<![0-9A-Za-z][1-9])\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"(?![0-9A-Za-z])"
)
_CARD_NUMBER = re.compile(
    r"\d(?<![0-9A-Za-z_\-]\d)(?:\d{12,18}|\d{3}(?:[ \-]\d{4}){2,3}(?:[ \-]\d{1,3})?|\d{5}[ \-]\d{7,13})"
    r"(?![0-9A-Za-z_])"
)
_NOT_CARD_CONTEXT = re.compile(
    r"(?:订单|单号|工单|编号|流水|批次|序列|运单|快递|order|ticket|No\.?|#)\s?[:：]?\s?$", re.I
)
_PASSWORD_KEYS = ("密码", "口令", "password", "passwd", "passcode", "pwd")
_PASSWORD_VALUE = re.compile(r"\s{0,3}(?:[：:=]|为|是)\s{0,3}([!-~]{4,64})(?![!-~])")
_PASSWORD_PLACEHOLDER = re.compile(
    r"^(?:[*xX•·.\-_]+|<[^>]*>|\{[^}]*\}|\$\{?\w+\}?|https?://\S*|null|none|n/a|tbd|\*+\w{0,3})$", re.I
)
_SECRETS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    ("private key", ("PRIVATE KEY",), re.compile(r"-----BEGIN (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----")),
    ("GitHub token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), re.compile(
        r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})")),
    ("AWS access key", ("AKIA", "ASIA"), re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])")),
    ("API key", ("sk-", "sk_live_", "rk_live_"), re.compile(
        r"(?<![A-Za-z0-9_\-])sk-[A-Za-z0-9_\-]{20,255}|(?<![A-Za-z0-9])(?:sk|rk)_live_[A-Za-z0-9]{16,255}")),
    ("Slack token", ("xox",), re.compile(r"(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9\-]{10,255}")),
    ("Google API key", ("AIza",), re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])")),
)
# api_key=… style assignments: found from the lower-cased key name, then the value is matched.
_SECRET_KEYS = tuple(
    f"{a}{sep}{b}"
    for a, b in (("api", "key"), ("secret", "key"), ("access", "token"), ("client", "secret"), ("auth", "token"))
    for sep in ("_", "-", "")
)
_SECRET_VALUE = re.compile(r"\s{0,3}[:=]\s{0,3}[\"']?[A-Za-z0-9_\-+/=]{16,255}")
_MOBILE = re.compile(r"1[3-9]\d[ \-]?\d{4}[ \-]?\d{4}(?![0-9A-Za-z])")


def _case_variants(word: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((word, word.upper(), word.capitalize())))


def mobile_numbers(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, digits) of mainland mobile numbers (optionally +86), not inside longer numbers."""
    for m in _MOBILE.finditer(text):
        s = m.start()
        before = text[s - 1] if s else ""
        if before.isascii() and before.isalnum():
            lead = text[max(0, s - 3) : s].lstrip("+")
            if not lead.endswith("86") or (s >= 3 and text[s - 3].isascii() and text[s - 3].isalnum()):
                continue  # inside a longer number, unless it is the +86 country code
        yield s, m.end(), re.sub(r"[ \-]", "", m.group(0))


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_id_number(value: str) -> bool:
    """A mainland resident ID number (18 characters) with a valid birth date and check digit."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if not dt.date(1900, 1, 1) <= born <= dt.date.today():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == value[17].upper()


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _mask(value: str, kind: str) -> str:
    """The value with its middle starred: 6222***********0128; passwords entirely."""
    if kind == "password" or len(value) < 10:
        return "*" * len(value)
    chars = list(value)
    idx = [i for i, c in enumerate(chars) if c.isalnum()]
    for i in idx[4:-4]:
        chars[i] = "*"
    return "".join(chars)


def sensitive_items(text: str, limit: int = 1000) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, value) of ID numbers, card numbers, passwords and secret keys.

    At most the first ``limit`` items of each kind (and 10 × ``limit`` candidates) are looked at.
    """
    out: list[tuple[int, int, str, str]] = []
    taken: list[tuple[int, int]] = []
    scan = limit * 10
    for m in islice(_ID_NUMBER.finditer(text), scan):
        if valid_id_number(m.group(0)):
            out.append((m.start(), m.end(), "id", m.group(0)))
            taken.append(m.span())
            if len(taken) >= limit:
                break
    taken_spans = _Spans(sorted(taken))
    cards = 0
    for m in islice(_CARD_NUMBER.finditer(text), scan):
        digits = re.sub(r"[ \-]", "", m.group(0))
        if not 13 <= len(digits) <= 19 or digits[0] not in "3456" or len(set(digits)) < 3:
            continue
        if taken_spans.hits(m.start(), m.end()) or not luhn_valid(digits):
            continue
        if _NOT_CARD_CONTEXT.search(text[max(0, m.start() - 8) : m.start()]):
            continue
        out.append((m.start(), m.end(), "card", m.group(0)))
        cards += 1
        if cards >= limit:
            break
    seen_values: set[int] = set()
    for key in _PASSWORD_KEYS:
        for variant in _case_variants(key):
            for i in islice(occurrences(text, variant), scan):
                pm = _PASSWORD_VALUE.match(text, i + len(variant))
                if pm is None or pm.start(1) in seen_values:
                    continue
                value = pm.group(1).rstrip(".,;:!?)]}'\"")
                if len(value) < 4 or _PASSWORD_PLACEHOLDER.match(value):
                    continue
                seen_values.add(pm.start(1))
                out.append((pm.start(1), pm.start(1) + len(value), "password", value))
                if len(seen_values) >= limit:
                    break
    for name, needles, rx in _SECRETS:
        if any(n in text for n in needles):
            out.extend((m.start(), m.end(), "secret:" + name, m.group(0)) for m in islice(rx.finditer(text), limit))
    low = _lower(text)
    if len(low) == len(text):
        for key in _SECRET_KEYS:
            for i in islice(occurrences(low, key), scan):
                if i and low[i - 1].isascii() and low[i - 1].isalnum():
                    continue
                sm = _SECRET_VALUE.match(text, i + len(key))
                if sm is not None:
                    out.append((i, sm.end(), "secret:secret", text[i : sm.end()]))
    out.sort()
    return out


class SensitiveParams(Params):
    min_mobiles: int = 3
    """This many distinct mobile numbers in one message count as a personal-data list."""
    max_findings: int = 20
    """At most this many findings per message."""


_KIND_NAMES = {
    "id": Text("身份证号", "a resident ID number"),
    "card": Text("银行卡号", "a bank card number"),
    "password": Text("明文密码", "a plain-text password"),
}


@check("sensitive-data", family="language", severity="error", params=SensitiveParams, external=True)
def sensitive_data(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Personal data and secrets in the new text: ID numbers, card numbers, passwords, keys, phone lists.

    ## What it checks
    - a mainland resident ID number (18 characters, valid birth date and check digit);
    - a bank card number: 13–19 digits, optionally in groups separated by spaces or dashes,
      that passes the Luhn check (not after 订单号/工单/编号 …);
    - a password: `密码：…` `口令为…` `password=…` with a real value (not `******`);
    - a secret key: a PEM private key block, GitHub tokens (`ghp_…`, `github_pat_…`), AWS access
      keys (`AKIA…`), `sk-…` API keys, Slack and Google keys, `api_key=…`-style assignments;
    - 3 or more distinct mobile numbers (a contact list).
    Error on mail to external recipients, warning on internal mail.

    ## Why
    运营管理沟通规定: 涉及公司机密的信息不得外传; seed 000 二(二)1 注意事项: “禁止……讨论敏感话题”;
    seed 002: “规范数据和信息的存储、传输和使用”. Mail is copied, forwarded and archived: a
    password or ID number in it is leaked for good.

    ## Bad
    ```
    请使用联调账号mall_test登录，密码：Mall@2026test。
    员工的身份证号为110105199003072311。
    ```

    ## Good
    ```
    联调账号mall_test的密码已通过企业微信单独发送。
    员工的身份证信息已录入人事系统。
    ```

    ## Fix safety
    Masking the value (`6222****0128`) is offered as an unsafe fix: it changes what the
    recipient receives, so the sender decides.

    ## Params
    - `min_mobiles` (int): distinct mobile numbers that make a contact list. Default: 3.
    - `max_findings` (int): cap on ID/card/password/key findings per message. Default: 20.
    """
    params = ctx.p(SensitiveParams)
    text = msg.new_text
    if not text.strip():
        return
    shift = -1 if ctx.scope == "internal" else 0
    for start, end, kind, value in sensitive_items(text, max(1, params.max_findings))[: params.max_findings]:
        if kind.startswith("secret:"):
            name = kind.split(":", 1)[1]
            what = Text(f"密钥（{name}）", f"a secret ({name})")
        else:
            what = _KIND_NAMES[kind]
        masked = _mask(value, kind)
        yield ctx.finding(
            message=Text(f"正文含{what.zh}：{masked}", f"the text contains {what.en}: {masked}"),
            suggestion=Text(
                f"删除{what.zh}，改用安全渠道（如企业微信单独发送、密码管理系统）传递；若已发出，请立即更换或吊销",
                f"remove {what.en} and share it through a secure channel (a password manager, a direct message); "
                "if it was already sent, rotate or revoke it",
            ),
            field="body",
            start=start,
            end=end,
            shift=shift,
            fix=Fix(
                Text(f"将{what.zh}遮盖为“{masked}”", f"mask {what.en} as {masked!r}"),
                (Edit("body", start, end, masked),),
                Applicability.UNSAFE,
            ),
        )
    if params.min_mobiles > 0:
        seen: dict[str, tuple[int, int]] = {}
        for start, end, digits in mobile_numbers(text):
            seen.setdefault(digits, (start, end))
            if len(seen) >= 1000:
                break
        if len(seen) >= params.min_mobiles:
            spans = list(seen.values())
            yield ctx.finding(
                message=Text(
                    f"正文列出了{len(seen)}个手机号码（个人信息）",
                    f"the text lists {len(seen)} mobile numbers (personal data)",
                ),
                suggestion=Text(
                    "不要在邮件中群发个人手机号，改为引用通讯录或值班系统中的联系方式",
                    "do not mail lists of personal phone numbers; refer to the directory or the on-call system",
                ),
                field="body",
                start=spans[0][0],
                end=spans[-1][1],
                shift=shift,
            )


CHECKS.append(sensitive_data)


# --------------------------------------------------------------------------- typography

_HALF_TO_FULL = {",": "，", ".": "。", "!": "！", "?": "？", ";": "；", ":": "：", "(": "（", ")": "）"}
_FULL_TO_HALF = {v: k for k, v in _HALF_TO_FULL.items()}
_CJK_CHAR = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_FULLWIDTH_ALNUM = re.compile(r"[０-９Ａ-Ｚａ-ｚ]")
_HALF_PARENS = re.compile(r"\(([^()\n]{1,160})\)")
_LINE_END_DOT = re.compile(r"\.(?<=[\u3400-\u9fff]\.)$", re.M)
_DOUBLED = re.compile(r"([，。、；：])\1+")
_MAX_LINE = 20_000  # longer lines are data, not prose: left alone
_WHOLE_TEXT_MAX = 100_000  # characters of whole lines corrected by one autocorrect call
_TYPO_MAX_CHARS = 200_000  # autocorrect costs ~2 µs per character on short lines: bound it
_MAX_EDITS = 5_000  # a message needing more is not prose; the first edits are still offered
_KIND_ORDER = ("spacing", "punctuation", "fullwidth", "doubled")
_KIND_LABEL = ("fullwidth", "punctuation", "doubled", "spacing")  # an edit that does several: the rarer names it
_KIND_TEXT = {
    "spacing": Text("中文与英文、数字之间应有空格", "put a space between Chinese and Latin letters or digits"),
    "punctuation": Text("中文句中应使用全角标点", "use full-width punctuation inside Chinese sentences"),
    "fullwidth": Text("英文字母和数字应使用半角", "write Latin letters and digits half-width"),
    "doubled": Text("标点重复", "doubled punctuation"),
}


def _autocorrect(line: str) -> str:
    try:
        import autocorrect_py
    except ImportError:  # pragma: no cover - a declared dependency
        return line
    return str(autocorrect_py.format(line))


def _full_parens(m: re.Match[str]) -> str:
    """(…) -> （…） after a Chinese character, or around Chinese text followed by Chinese."""
    text, (s, e), inner = m.string, m.span(), m.group(1)
    before = text[s - 1 : s]
    after = text[e : e + 1]
    followed = bool(_CJK_CHAR.match(after)) or after in ("，", "。", "；", "：")
    if _CJK_CHAR.match(before) or (followed and _CJK_CHAR.search(inner)):
        return f"（{inner}）"
    return m.group(0)


def _align(a: str, b: str) -> list[tuple[int, int, str, str]] | None:
    """Edits (start, end, replacement, kind) turning ``a`` into ``b``; None when they diverge.

    Linear two-pointer walk: the fixes above only insert or delete blanks, swap a character for
    its full/half-width twin, and drop repeated punctuation.
    """
    ops: list[tuple[int, int, str, str]] = []
    i = j = 0
    na, nb = len(a), len(b)
    while i < na or j < nb:
        ca = a[i] if i < na else ""
        cb = b[j] if j < nb else ""
        if ca and ca == cb:
            i += 1
            j += 1
        elif cb == " " and ca != " ":
            ops.append((i, i, " ", "spacing"))
            j += 1
        elif ca in (" ", "\t") and ca and cb not in (" ", "\t"):
            ops.append((i, i + 1, "", "spacing"))
            i += 1
        elif ca and cb and (_HALF_TO_FULL.get(ca) == cb or _FULL_TO_HALF.get(ca) == cb):
            ops.append((i, i + 1, cb, "punctuation"))
            i += 1
            j += 1
        elif ca and cb and unicodedata.normalize("NFKC", ca) == cb:
            ops.append((i, i + 1, cb, "fullwidth"))
            i += 1
            j += 1
        elif ca and i > 0 and ca in "，。、；：" and a[i - 1] == ca:
            ops.append((i, i + 1, "", "doubled"))
            i += 1
        else:
            return None
    return ops


def _merge(ops: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, set[str]]]:
    merged: list[tuple[int, int, str, set[str]]] = []
    for s, e, rep, kind in ops:
        if merged and s <= merged[-1][1]:
            ps, pe, prep, kinds = merged[-1]
            merged[-1] = (ps, max(pe, e), prep + rep, kinds | {kind})
        else:
            merged.append((s, e, rep, {kind}))
    return merged


def _fix_text(text: str) -> str:
    out = _HALF_PARENS.sub(_full_parens, text) if "(" in text else text
    out = _autocorrect(out)
    if _FULLWIDTH_ALNUM.search(text):  # spacing is decided before width: a second pass spaces ＡＢＣ中文
        out = _autocorrect(out)
    if "." in out:
        out = _LINE_END_DOT.sub("。", out)
    return _DOUBLED.sub(r"\1", out)


def _line_pairs(text: str) -> Iterator[tuple[int, str, str]]:
    """(offset, line, corrected line) for lines that hold Chinese or full-width letters.

    The text is corrected in blocks of whole lines (one autocorrect call per block of up to
    :data:`_WHOLE_TEXT_MAX` characters); a line longer than :data:`_MAX_LINE` is data, not prose,
    and so is anything after the first :data:`_TYPO_MAX_CHARS` characters.
    """
    pos, n = 0, min(len(text), _TYPO_MAX_CHARS)
    while pos <= n:
        end = n
        if n - pos > _WHOLE_TEXT_MAX:
            end = text.rfind("\n", pos, pos + _WHOLE_TEXT_MAX)
            if end <= pos:
                end = text.find("\n", pos + _WHOLE_TEXT_MAX, n)
                end = n if end < 0 else end
        block = text[pos:end]
        fixed_lines: list[str] | None = None
        if len(block) <= _WHOLE_TEXT_MAX:
            if not _CJK_CHAR.search(block) and not _FULLWIDTH_ALNUM.search(block):
                pos = end + 1
                continue
            fixed_block = _fix_text(block)
            if fixed_block == block:
                pos = end + 1
                continue
            fixed_lines = fixed_block.split("\n")
        lines = block.split("\n")
        if fixed_lines is not None and len(fixed_lines) != len(lines):
            fixed_lines = None
        start = pos
        for k, line in enumerate(lines):
            offset = start
            start += len(line) + 1
            if fixed_lines is not None and fixed_lines[k] == line:
                continue
            if not line.strip() or len(line) > _MAX_LINE:
                continue
            if not _CJK_CHAR.search(line) and not _FULLWIDTH_ALNUM.search(line):
                continue
            fixed = fixed_lines[k] if fixed_lines is not None else _fix_text(line)
            if fixed != line:
                yield offset, line, fixed
        pos = end + 1


def typography_edits(
    text: str, kinds: tuple[str, ...], protected: list[tuple[int, int]] | None = None
) -> list[tuple[int, int, list[tuple[int, int, str, set[str]]]]]:
    """Per line that needs changes: (line start, line end, merged edits in absolute offsets)."""
    keep_out = list(protected_spans(text) if protected is None else protected)
    keep_out += islice(repeated_punctuation(text), _MAX_ANCHORS)  # ！！/?? are wording-civility's to fix
    spans = _Spans(sorted(keep_out))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # autocorrect is Rust: lone surrogates get one-for-one stand-ins
        text = _SURROGATES.sub("\ufffd", text)
    out: list[tuple[int, int, list[tuple[int, int, str, set[str]]]]] = []
    count = 0
    for start, line, fixed in _line_pairs(text):
        if count >= _MAX_EDITS:
            break
        ops = _align(line, fixed)
        if not ops:
            continue
        edits = []
        for s, e, rep, ks in _merge(ops):
            a, b = start + s, start + e
            ks = {k for k in ks if k in kinds}
            if ks and not (spans.hits(a, b) if b > a else spans.inside(a)):
                edits.append((a, b, rep, ks))
        if edits:
            out.append((start, start + len(line), edits))
            count += len(edits)
    return out


class TypographyParams(Params):
    kinds: tuple[str, ...] = ("spacing", "punctuation", "fullwidth", "doubled")
    """What to fix: CJK–Latin/digit `spacing`, half-width `punctuation` in Chinese, `fullwidth`
    letters/digits, `doubled` punctuation."""


@check("typography", family="language", severity="info", params=TypographyParams, external=True)
def typography(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Chinese typography: spacing, full-width punctuation, half-width letters and digits, doubled marks.

    ## What it checks
    Each line of the new text that holds Chinese, corrected with autocorrect (the Chinese
    copywriting rules) plus two rules of its own:
    - a space between Chinese and Latin letters or digits (`共收到21起` → `共收到 21 起`);
    - full-width punctuation inside Chinese sentences (`升级,期间` → `升级，期间`, `(线上)` → `（线上）`);
    - half-width Latin letters and digits (`ＡＢＣ１２３` → `ABC123`);
    - doubled punctuation (`，，` `。。`; repeated `！！`/`？？`/`!!` are `wording-civility`'s, and
      typography leaves them alone so the two fixes never overlap).
    URLs, e-mail addresses and code (backticks, fenced or indented blocks) are never touched;
    lines over 20,000 characters and text after the first 200,000 characters are not prose and
    are left alone.

    ## Why
    运营管理沟通规定 二(一)2(2): “使用清晰、简洁的语言”; seed 001 三(一)2: “文字信息應排版整齊”.
    Consistent typography makes mail easier to read and search.

    ## Bad
    ```
    今天18:00-19:00门禁系统升级,期间请走1楼东侧临时通道.
    ```

    ## Good
    ```
    今天 18:00-19:00 门禁系统升级，期间请走 1 楼东侧临时通道。
    ```

    ## Fix safety
    Safe: the edits change only blanks and the width of characters, never words; one edit per
    changed span, so a client can show or apply them individually.

    One finding per kind of problem, at its first place, counting the places; its fix holds the
    edits for every place of that kind.

    ## Params
    - `kinds` (list): any of `spacing`, `punctuation`, `fullwidth`, `doubled`. Default: all.
    """
    params = ctx.p(TypographyParams)
    text = msg.new_text
    if not text.strip():
        return
    by_kind: dict[str, list[tuple[int, int, str]]] = {}
    first_line: dict[str, tuple[int, int, list[tuple[int, int, str, set[str]]]]] = {}
    for line in typography_edits(text, params.kinds, _protected(ctx, text)):
        for s, e, rep, kinds in line[2]:
            kind = next(k for k in _KIND_LABEL if k in kinds)
            by_kind.setdefault(kind, []).append((s, e, rep))
            first_line.setdefault(kind, line)
    for kind in _KIND_ORDER:
        edits = by_kind.get(kind)
        if not edits:
            continue
        lstart, lend, line_edits = first_line[kind]
        fixed = text[lstart:lend]
        for s, e, rep, _ in sorted(line_edits, reverse=True):
            fixed = fixed[: s - lstart] + rep + fixed[e - lstart :]
        what = _KIND_TEXT[kind]
        yield ctx.finding(
            message=Text(f"排版：{what.zh}（共{len(edits)}处）", f"typography: {what.en} ({len(edits)} places)"),
            suggestion=Text(f"例如改为：{fixed.strip()[:120]}", f"e.g. write: {fixed.strip()[:120]}"),
            field="body",
            start=edits[0][0] if edits[0][0] < edits[0][1] else max(lstart, edits[0][0] - 1),
            end=edits[0][1] if edits[0][0] < edits[0][1] else min(lend, edits[0][1] + 1),
            fix=Fix(
                Text(f"修正排版：{what.zh}", f"fix typography: {what.en}"),
                tuple(Edit("body", s, e, rep) for s, e, rep in edits),
                Applicability.SAFE,
            ),
        )


CHECKS.append(typography)
