"""wording-vague: vague or ambiguous wording, each finding with a concrete rewrite."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterator, Mapping
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

from checks.language.spans import Spans
from checks.language.words import WordSearch, by_identity, excerpt
from mailgate.context import Context
from mailgate.model import Finding, Message, Text
from mailgate.nlp import Analysis
from mailgate.nlp.timeexpr import add_workdays
from mailgate.registry import Params, check

DATA = Path(__file__).parents[1] / "data"
_WEEKDAYS_ZH = "一二三四五六日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _date_words(msg: Message) -> dict[str, str]:
    """Concrete dates for rewrite suggestions, computed from the Date header (today if none)."""
    base = (msg.date or dt.datetime.now().astimezone()).date()
    soon = add_workdays(base, 2)
    week = add_workdays(base, 5)
    return {
        "deadline": f"{soon.month}月{soon.day}日（周{_WEEKDAYS_ZH[soon.weekday()]}）18:00",
        "deadline_en": f"{_WEEKDAYS_EN[soon.weekday()]} {soon.day} {_MONTHS_EN[soon.month - 1]} 18:00",
        "next_week": f"{week.month}月{week.day}日（周{_WEEKDAYS_ZH[week.weekday()]}）",
        "next_week_en": f"{_WEEKDAYS_EN[week.weekday()]} {week.day} {_MONTHS_EN[week.month - 1]}",
    }


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
    precise = Spans(sorted((m.start, m.end) for m in _not_vague(vague).find(text)))
    cap = max(1, params.max_findings)
    for m in nlp.find(lexicon, limit=cap * 4):  # the first matches are the ones reported
        if not precise.hits(m.start, m.end):
            found.append((m.start, m.end, m.category, m.word, None))
    if params.approximate_numbers and "quantity" in params.categories:
        taken = Spans([(s, e) for s, e, *_ in found])
        for am in islice(approximate_numbers(text, nlp), cap * 2):
            if not taken.hits(am.start, am.end):
                found.append((am.start, am.end, "quantity", am.text, am))
    found.sort(key=lambda f: (f[0], f[1]))
    dates = _date_words(msg) if found else {}
    for start, end, category, word, approx in found[: params.max_findings]:
        name = _CATEGORY_NAMES.get(category, Text(category, category))
        yield ctx.finding(
            message=Text(
                f"模糊表述“{word}”（{name.zh}）：{excerpt(text, start, end)}",
                f'vague wording "{word}" ({name.en}): {excerpt(text, start, end)}',
            ),
            suggestion=_approx_suggestion(approx.num, approx.unit) if approx else _rewrite(word, category, dates),
            field="body",
            start=start,
            end=end,
        )
