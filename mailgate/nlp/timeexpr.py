"""Chinese time expressions: find them in text and resolve them against the message ``Date``.

API (everything returns frozen dataclasses; nothing here does I/O):

- :func:`find_times` (text, base) -> ``list[TimeMention]``, left to right, non-overlapping.
- :func:`resolve` (expr, base) -> ``datetime | None``: the moment one expression stands for.

``TimeMention`` fields:

``start``/``end``
    character offsets of the mention in ``text``; ``text`` is ``text[start:end]``.
``when``
    the resolved moment, an aware datetime in ``base``'s timezone, or ``None`` (vague, relative
    to an unknown event such as ``结束后3天内``, or relative with no ``base``).
    For a deadline (a ``前`` ``之前`` ``以前`` ``为止`` ``截止`` ``内`` ``以内`` suffix) it is the END of
    the span: ``本周五18:00前`` → Fri 18:00, ``11月30日前`` → Nov 30 23:59:59, ``月底前`` → the
    last day of the month 23:59:59, ``3个工作日内`` → the 3rd working day after ``base`` 23:59:59.
    Otherwise it is the START of the span: ``12月1日起生效`` → Dec 1 00:00, ``下周一上午`` →
    Mon 09:00, ``2026-12-01`` → 00:00, ``周五`` → Fri 00:00.
``has_date`` / ``has_clock``
    the mention names a day (absolute or relative) / a clock time (``18:00``, ``3点半``, ``18时``).
    A part of the day (``上午``, ``下班``) is not a clock time.
``vague``
    a vague time word (尽快 尽早 近期 稍后 ASAP 有空时 待定 …): ``when`` is ``None``.
``boundary``
    ``"before"`` for deadline suffixes (前 之前 内 …), ``"after"`` for 起 开始 以后 后, else ``"at"``.

Conventions (documented, since offices differ): 下班 = 18:00; 上午 = 09:00–12:00, 中午 =
12:00–13:00, 下午 = 14:00–18:00, 傍晚 = 17:00–19:00, 晚上/今晚 = 19:00–23:59:59, 早上 =
08:00–12:00, 凌晨 = 00:00–06:00; a week runs Monday to Sunday (本周 = the week of ``base``); a
bare weekday (``周五``) is the next such day on or after ``base``'s date; a month-day without a year
is in ``base``'s year unless that is more than 180 days before ``base`` (then the next year);
月初 = days 1–5, 上旬 1–10, 月中/中旬 11–20, 下旬 21–end, 月底/月末 = the last day.
Ambiguous shapes count only in a telling context: a bare day ``20日``/``25号`` and a month/day
``11/20`` only before 前/之前/截止, a clock time or a part of the day; a bare month ``12月`` only
before 起/前/内; recurring forms (``每周一上午``, ``每月10日``) are not mentions.

Extraction (:func:`find_times`) is linear: a cheap anchor scan (月 日 周 天 : …) finds runs of
time-like characters, and one precompiled pattern (no nested quantifiers) is tried only at the
positions of a run where a match can start; vague words and holidays come from a second literal
scan. Forms the own resolver does not know (holidays such as 元旦 国庆节 春节, and whatever
:func:`resolve` cannot match) fall back to ``jionlp_time``, read in ``base``'s timezone. Results
are cached per (expression, base) with ``lru_cache``.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Boundary = Literal["at", "before", "after"]

#: The timezone for absolute expressions when no ``base`` is known (China Standard Time).
CST = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True, slots=True)
class TimeMention:
    start: int
    end: int
    text: str
    when: dt.datetime | None
    has_date: bool
    has_clock: bool
    vague: bool
    boundary: Boundary = "at"


@dataclass(frozen=True, slots=True)
class _Resolved:
    when: dt.datetime | None
    has_date: bool
    has_clock: bool
    vague: bool
    boundary: Boundary
    duration: bool = False


# --------------------------------------------------------------------------- the pattern

_CN = "零〇一二两三四五六七八九十"
_NUM = rf"(?:\d{{1,2}}|[{_CN}]{{1,3}})"
_YEAR = r"(?:\d{4}|[零〇一二三四五六七八九]{4})"
_POD = r"(?:上午|下午|中午|晚上|早上|早晨|傍晚|凌晨|午饭|午休|下班|夜里|晚间)"
_CLOCK = (
    r"(?:(?<![\d.])(?:[01]?\d|2[0-4])\s?[:：]\s?[0-5]\d(?![\d.])"
    r"|(?<![\d.])(?:[01]?\d|2[0-4])\s?[点时](?:\s?(?:[0-5]?\d分|半|整|一刻|三刻))?"
    rf"|(?<=[午上晚日号)）\s])[{_CN}]{{1,3}}[点时](?:[{_CN}]{{1,3}}分|半|整)?)"
)
_RELDAY = r"(?:大后天|后天|今天|今日|今晚|今早|明天|明日|明早|明晚|昨天|昨日|前天|当天|当日|次日|本日)"
_WEEKREL = r"(?:下下个?|下个?|本|这个?|上个?)"
_WEEKDAY = (
    rf"(?:(?<!每)(?:{_WEEKREL}\s?)?(?:周|星期|礼拜)(?:[一二三四五六日天](?![一二三四五六七八九十])|[1-7](?!\d))"
    rf"|(?<!每)(?:{_WEEKREL})?周末)"
)
_MONTHREL = r"(?:下下个?月|下个?月|本月|这个?月|上个?月|当月|次月)"
_MONTHPART = r"(?:上旬|中旬|下旬|底|末|初|中)"
_YMD = (
    rf"(?:(?<!\d)\d{{4}}\s?[-/.]\s?\d{{1,2}}\s?[-/.]\s?\d{{1,2}}(?![\d.])"
    rf"|(?<!\d)(?:{_YEAR}\s?年\s?)?{_NUM}\s?月\s?{_NUM}\s?[日号]"
    rf"|(?<!\d){_YEAR}\s?年\s?{_NUM}\s?月(?:份)?{_MONTHPART}?"
    rf"|(?<!\d)(?:{_YEAR}\s?年\s?)?{_NUM}\s?月(?:份)?{_MONTHPART}"
    rf"|(?<![\d年])\d{{1,2}}\s?月(?:份)?(?=\s?(?:起|开始|之前|以前|前|内|之内|以内))"
    rf"|{_MONTHREL}\s?\d{{1,2}}\s?[日号]"
    rf"|(?<![\d/.])\d{{1,2}}/\d{{1,2}}(?![\d/])(?=\s?(?:之前|以前|前|截止|[（(](?:周|星期)|\d{{1,2}}\s?[:：]|{_POD}))"
    rf"|(?<![\d.月])\d{{1,2}}\s?[日号](?=\s?(?:之前|以前|前|截止|[（(](?:周|星期)|\d{{1,2}}\s?[:：点]|{_POD}))"
    rf"|{_MONTHREL}{_MONTHPART}?|(?:今年|明年|本年度?|年)(?:底|末|初|中)|今年|明年"
    rf"|(?:本|下个?|这个?|上个?)?季度(?:末|底|初)?"
    r"|(?:本|这|下|下下|上)周(?!末|[一二三四五六日天1-7])"
    r"|(?:本|这个?|上个?|下个?)?(?:月底|月末|月初|月中))"
)
_HOLIDAYS = ("元旦", "春节", "国庆节?", "中秋节?", "端午节?", "清明节?", "劳动节", "五一", "除夕", "元宵节?")
_HOLIDAY_TAIL = r"(?=\s?(?:前|之前|以前|后|之后|期间|假期|节前|节后))"
_HOLIDAY = "(?:" + "|".join(_HOLIDAYS) + ")" + _HOLIDAY_TAIL
_DATE = rf"(?:{_YMD}|{_RELDAY}|{_WEEKDAY})"
_WEEKDAY_NOTE = r"(?:\s?[（(]\s?(?:周|星期|礼拜)[一二三四五六日天1-7]\s?[)）])"
_TIMEPART = rf"(?:{_POD}\s?(?:{_CLOCK})?|{_CLOCK})"
_RANGE = rf"(?:\s?(?:-|–|—|~|～|至|到)\s?{_CLOCK})"
_DURATION = (
    rf"(?:(?<![\d.])(?:\d{{1,3}}|[{_CN}]{{1,3}})\s?个?\s?(?:工作日|自然日|天|日|小时|星期|周|月)"
    r"(?=\s?(?:内|之内|以内|后|之后|以后)))"
)
#: Vague time words (SPEC wording-vague "time" category and common variants): vague=True, when=None.
VAGUE_WORDS: tuple[str, ...] = (
    "尽快",
    "尽早",
    "尽速",
    "越快越好",
    "近期",
    "近日",
    "稍后",
    "晚点",
    "晚些时候",
    "改天",
    "过段时间",
    "过些天",
    "过几天",
    "过两天",
    "有空时",
    "有空的时候",
    "有空再",
    "有时间时",
    "有时间的时候",
    "适当时候",
    "适当的时候",
    "适时",
    "择期",
    "待定",
    "另行通知",
    "回头",
    "抽空",
    "随后",
)
_VAGUE_LATIN: tuple[str, ...] = ("ASAP", "asap", "TBD", "tbd", "soon", "Soon")
_VAGUE_ALT = "|".join(re.escape(w) for w in sorted(VAGUE_WORDS, key=len, reverse=True))
_LATIN_ALT = "|".join(_VAGUE_LATIN)
_VAGUE = rf"(?:{_VAGUE_ALT}|(?<![A-Za-z])(?:{_LATIN_ALT})(?![A-Za-z]))"
_SUFFIX = r"(?:之前|以前|前|为止|截止|止|之内|以内|内|起|开始|之后|以后|后)"

_EVERY = (
    rf"(?:每\s?(?:个)?(?:周|星期|礼拜)(?:[一二三四五六日天1-7](?:\s?[、至到-]\s?(?:周|星期)?[一二三四五六日天1-7])?)?"
    rf"|每\s?(?:天|日|晚|个?工作日)|每\s?个?月\s?(?:\d{{1,2}}\s?[日号]|{_MONTHPART})?"
    rf"|每\s?年\s?(?:{_NUM}\s?月\s?(?:{_NUM}\s?[日号])?)?)(?:\s?{_TIMEPART})?"
)

_PATTERN = re.compile(
    rf"(?P<every>{_EVERY})"
    rf"|(?P<vague>{_VAGUE})"
    rf"|(?P<dur>{_DURATION})\s?(?P<dsuf>{_SUFFIX})"
    rf"|(?P<hol>{_HOLIDAY})\s?(?P<hsuf>{_SUFFIX})?"
    rf"|(?:(?P<date>{_DATE}){_WEEKDAY_NOTE}?(?:\s?(?:T|的)?\s?(?P<tp>{_TIMEPART}))?"
    rf"|(?P<tp2>{_TIMEPART}))(?P<rng>{_RANGE})?\s?(?P<suf>{_SUFFIX})?"
)

# Fast pre-scan (see find_times): every match of _PATTERN other than a vague word or a holiday
# contains an anchor character and consists of _TIME_CHARS, and starts at most _MAX_LEAD
# characters before its first anchor (二〇二六年, 下下个周). Digits alone are no anchor: a time
# expression with digits also holds 月 日 号 : 点 时 天 周 …, or is an ISO date (2026-12-01) or a month/day (11/20前).
_TIME_CHARS = frozenset(
    "0123456789零〇一二两三四五六七八九十年月日号份底末初中上下旬季度本这个当次今明昨后前大天早晚晨午班饭休"
    "傍凌夜间里周星期礼拜元旦春节国庆秋端清劳动除夕宵每点时分半整刻:：-–—~～至到/.（）()T的之以内为止截起开始"
    "工作自然小 \t\u3000"
)
_RUN = re.compile("[" + "".join(re.escape(c) for c in sorted(_TIME_CHARS)) + "]+")
_ANCHOR = re.compile(r"[月日号周期拜天午晚早晨凌夜班季年时点:：]")
_ISO_ANCHOR = re.compile(r"\d{4}\s?[-/.]\s?\d|\d/\d")
_MAX_LEAD = 8
# Characters a match of the pattern (other than a vague word or a holiday) can start with; the
# pattern is only tried there, not at every position of a run.
_DIGITS = frozenset("0123456789")
_START_CHARS = frozenset("0123456789零〇一二两三四五六七八九十每大后今明昨前当次本下上这周星礼年季月中晚早傍凌午夜")
# literal alternatives only, so that the regex engine skips ahead by first character
_WORDS = re.compile(rf"{_VAGUE_ALT}|{_LATIN_ALT}|" + "|".join(rf"{h}{_HOLIDAY_TAIL}\s?{_SUFFIX}?" for h in _HOLIDAYS))

# pieces used by the resolver on one matched date / time part
_RE_ISO = re.compile(r"(\d{4})\s?[-/.]\s?(\d{1,2})\s?[-/.]\s?(\d{1,2})")
_RE_YMD = re.compile(rf"(?:({_YEAR})\s?年\s?)?({_NUM})\s?月\s?({_NUM})\s?[日号]")
_RE_YM = re.compile(rf"(?:({_YEAR})\s?年\s?)?({_NUM})\s?月(?:份)?({_MONTHPART})?")
_RE_SLASH_MD = re.compile(r"(\d{1,2})/(\d{1,2})")
_RE_MREL_DAY = re.compile(rf"({_MONTHREL})\s?(\d{{1,2}})\s?[日号]")
_RE_DAY = re.compile(r"(\d{1,2})\s?[日号]")
_RE_WEEKDAY = re.compile(rf"({_WEEKREL})?\s?(?:周|星期|礼拜)([一二三四五六日天1-7])")
_RE_WEEKEND = re.compile(rf"({_WEEKREL})?周末")
_RE_CLOCK_COLON = re.compile(r"(\d{1,2})\s?[:：]\s?(\d{2})")
_RE_CLOCK_CN = re.compile(
    rf"(\d{{1,2}}|[{_CN}]{{1,3}})[点时](?:\s?(?:(\d{{1,2}}|[{_CN}]{{1,3}})分|(半)|(整)|(一刻)|(三刻)))?"
)
_RE_DUR = re.compile(rf"(\d{{1,3}}|[{_CN}]{{1,3}})\s?个?\s?(工作日|自然日|天|日|小时|星期|周|月)")
_RE_POD = re.compile(_POD)

_WEEKDAYS = {
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
    "1": 0,
    "2": 1,
    "3": 2,
    "4": 3,
    "5": 4,
    "6": 5,
    "7": 6,
}
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_RELDAYS = {
    "大后天": 3,
    "后天": 2,
    "今天": 0,
    "今日": 0,
    "今晚": 0,
    "今早": 0,
    "明天": 1,
    "明日": 1,
    "明早": 1,
    "明晚": 1,
    "昨天": -1,
    "昨日": -1,
    "前天": -2,
    "当天": 0,
    "当日": 0,
    "次日": 1,
    "本日": 0,
}
_WEEK_OFFSET = {"下下个": 14, "下下": 14, "下个": 7, "下": 7, "本": 0, "这个": 0, "这": 0, "上个": -7, "上": -7}
_MONTH_OFFSET = {
    "下下个月": 2,
    "下下月": 2,
    "下个月": 1,
    "下月": 1,
    "次月": 1,
    "本月": 0,
    "这个月": 0,
    "这月": 0,
    "当月": 0,
    "上个月": -1,
    "上月": -1,
}
# part of day -> (start, end) as (hour, minute, second)
_POD_SPAN: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "上午": ((9, 0, 0), (12, 0, 0)),
    "早上": ((8, 0, 0), (12, 0, 0)),
    "早晨": ((8, 0, 0), (12, 0, 0)),
    "今早": ((8, 0, 0), (12, 0, 0)),
    "明早": ((8, 0, 0), (12, 0, 0)),
    "中午": ((12, 0, 0), (13, 0, 0)),
    "午饭": ((12, 0, 0), (12, 0, 0)),
    "午休": ((12, 0, 0), (13, 0, 0)),
    "下午": ((14, 0, 0), (18, 0, 0)),
    "下班": ((18, 0, 0), (18, 0, 0)),
    "傍晚": ((17, 0, 0), (19, 0, 0)),
    "晚上": ((19, 0, 0), (23, 59, 59)),
    "晚间": ((19, 0, 0), (23, 59, 59)),
    "夜里": ((19, 0, 0), (23, 59, 59)),
    "今晚": ((19, 0, 0), (23, 59, 59)),
    "明晚": ((19, 0, 0), (23, 59, 59)),
    "凌晨": ((0, 0, 0), (6, 0, 0)),
}
_BEFORE = frozenset({"之前", "以前", "前", "为止", "截止", "止", "之内", "以内", "内"})
_AFTER = frozenset({"起", "开始", "之后", "以后", "后"})
_END_OF_DAY = dt.time(23, 59, 59)


def _cn_number(s: str) -> int | None:
    """``12`` ``十二`` ``二十三`` ``两`` ``三十`` → int; None when not a number."""
    if s.isdigit():
        return int(s)
    if "十" in s:
        head, _, tail = s.partition("十")
        tens = _CN_DIGITS.get(head, -1) if head else 1
        ones = _CN_DIGITS.get(tail, -1) if tail else 0
        if tens < 0 or ones < 0 or "十" in tail:
            return None
        return tens * 10 + ones
    if len(s) == 1:
        return _CN_DIGITS.get(s)
    if all(c in _CN_DIGITS for c in s):  # 二〇二六
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    return None


def _day(d: dt.date, t: dt.time, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(d, t, tzinfo=tz)


def _month_add(year: int, month: int, n: int) -> tuple[int, int]:
    k = year * 12 + (month - 1) + n
    return k // 12, k % 12 + 1


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _month_part(year: int, month: int, part: str | None) -> tuple[dt.date, dt.date]:
    last = _last_day(year, month)
    lo, hi = {
        None: (1, last),
        "": (1, last),
        "初": (1, 5),
        "上旬": (1, 10),
        "中": (11, 20),
        "中旬": (11, 20),
        "下旬": (21, last),
        "底": (last, last),
        "末": (last, last),
    }[part]
    return dt.date(year, month, lo), dt.date(year, month, hi)


def _guess_year(month: int, day: int, base: dt.date) -> int:
    year = base.year
    try:
        if (base - dt.date(year, month, day)).days > 180:
            return year + 1
    except ValueError:
        pass
    return year


# _date_span's answer for a date that names no calendar day (11月31日, 13/25): not resolvable,
# and not to be handed to jionlp, which would roll it over into another date.
_INVALID_DATE: tuple[dt.date, dt.date] = (dt.date.min, dt.date.min)


def _date_span(s: str, base: dt.date | None) -> tuple[dt.date, dt.date] | None:
    """The first and last day a date expression covers, ``_INVALID_DATE`` or None."""
    try:
        if m := _RE_ISO.fullmatch(s):
            d = dt.date(int(m[1]), int(m[2]), int(m[3]))
            return d, d
        if m := _RE_YMD.fullmatch(s):
            month, day = _cn_number(m[2]), _cn_number(m[3])
            if month is None or day is None:
                return None
            if m[1]:
                year = _cn_number(m[1])
            elif base is not None:
                year = _guess_year(month, day, base)
            else:
                return None
            if year is None:
                return None
            d = dt.date(year, month, day)
            return d, d
        if m := _RE_SLASH_MD.fullmatch(s):  # 11/20 (only before 前, a clock time …)
            if base is None:
                return None
            month, day = int(m[1]), int(m[2])
            d = dt.date(_guess_year(month, day, base), month, day)
            return d, d
        if m := _RE_MREL_DAY.fullmatch(s):
            if base is None:
                return None
            y, mo = _month_add(base.year, base.month, _MONTH_OFFSET[m[1]])
            d = dt.date(y, mo, int(m[2]))
            return d, d
        if m := _RE_YM.fullmatch(s):
            month = _cn_number(m[2])
            if month is None or not 1 <= month <= 12:
                return None
            if m[1]:
                year = _cn_number(m[1])
            elif base is not None:
                year = _guess_year(month, 1, base) if month < base.month else base.year
            else:
                return None
            if year is None:
                return None
            return _month_part(year, month, m[3])
        if m := _RE_DAY.fullmatch(s):
            if base is None:
                return None
            day = int(m[1])
            y, mo = base.year, base.month
            if day < base.day - 15:  # "5号前" late in the month means next month
                y, mo = _month_add(y, mo, 1)
            d = dt.date(y, mo, day)
            return d, d
    except ValueError:
        return _INVALID_DATE
    if base is None:
        return None
    if s in _RELDAYS:
        d = base + dt.timedelta(days=_RELDAYS[s])
        return d, d
    monday = base - dt.timedelta(days=base.weekday())
    if m := _RE_WEEKDAY.fullmatch(s):
        wd = _WEEKDAYS[m[2]]
        if m[1]:
            d = monday + dt.timedelta(days=_WEEK_OFFSET[m[1]] + wd)
        else:
            d = base + dt.timedelta(days=(wd - base.weekday()) % 7)
        return d, d
    if m := _RE_WEEKEND.fullmatch(s):
        sat = monday + dt.timedelta(days=_WEEK_OFFSET[m[1]] + 5 if m[1] else 5)
        return sat, sat + dt.timedelta(days=1)
    if s in ("本周", "这周", "下周", "下下周", "上周"):
        first = monday + dt.timedelta(days=_WEEK_OFFSET[s[:-1]])
        return first, first + dt.timedelta(days=6)
    for rel, off in sorted(_MONTH_OFFSET.items(), key=lambda kv: -len(kv[0])):
        if s.startswith(rel):
            rest = s[len(rel) :]
            if rest in ("", "底", "末", "初", "中", "上旬", "中旬", "下旬"):
                y, mo = _month_add(base.year, base.month, off)
                return _month_part(y, mo, rest or None)
    for rel, off in (("本", 0), ("这个", 0), ("这", 0), ("上个", -1), ("上", -1), ("下个", 1), ("下", 1), ("", 0)):
        if s.startswith(rel) and s[len(rel) :] in ("月底", "月末", "月初", "月中"):
            y, mo = _month_add(base.year, base.month, off)
            return _month_part(y, mo, s[len(rel) + 1 :])
        if s.startswith(rel) and s[len(rel) :].startswith("季度"):
            rest = s[len(rel) + 2 :]
            q = (base.month - 1) // 3 + off
            y = base.year + q // 4
            q %= 4
            first, last = dt.date(y, q * 3 + 1, 1), dt.date(y, q * 3 + 3, _last_day(y, q * 3 + 3))
            if rest in ("末", "底"):
                return last, last
            if rest == "初":
                return first, first
            return first, last
    year = base.year + (1 if s.startswith("明年") else 0)
    rest = s[2:] if s[:2] in ("今年", "明年", "本年") else s[3:] if s.startswith("本年度") else s[1:]
    if s[:1] in ("今", "明", "本", "年") and rest in ("", "底", "末", "初", "中"):
        if rest in ("底", "末"):
            return dt.date(year, 12, 31), dt.date(year, 12, 31)
        if rest == "初":
            return dt.date(year, 1, 1), dt.date(year, 1, 31)
        if rest == "中":
            return dt.date(year, 6, 1), dt.date(year, 7, 31)
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    return None


def _clock(s: str, context_pod: str | None = None) -> dt.time | None:
    """A clock time such as ``18:00`` ``下午3点半`` ``十点``; ``context_pod`` is a part of the day
    carried by the date (``今晚`` in ``今晚8点``)."""
    pod_m = _RE_POD.match(s)
    rest = s[pod_m.end() :].lstrip() if pod_m else s
    pod = pod_m[0] if pod_m else context_pod
    hour: int | None
    minute = 0
    if m := _RE_CLOCK_COLON.fullmatch(rest):
        hour, minute = int(m[1]), int(m[2])
    elif m := _RE_CLOCK_CN.fullmatch(rest):
        hour = _cn_number(m[1])
        if m[2]:
            minute = _cn_number(m[2]) or 0
        elif m[3]:
            minute = 30
        elif m[5]:
            minute = 15
        elif m[6]:
            minute = 45
    else:
        return None
    if hour is None:
        return None
    if pod in ("下午", "晚上", "傍晚", "晚间", "夜里", "下班", "今晚", "明晚") and hour < 12:
        hour += 12
    if pod == "中午" and hour < 6:
        hour += 12
    if hour == 24 and minute == 0:
        return _END_OF_DAY
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return dt.time(hour, minute)


def add_workdays(d: dt.date, n: int) -> dt.date:
    """The date ``n`` working days (Monday–Friday) after ``d``."""
    while n > 0:
        d += dt.timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


def _jionlp(expr: str, base: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """Fallback parser; its strings are local wall times, read in ``base``'s timezone."""
    try:
        import jionlp_time as jt  # slow import (~140 ms), only when needed
    except ImportError:  # pragma: no cover - dependency is pinned
        return None
    stamp = time.mktime(base.replace(tzinfo=None).timetuple())
    try:
        res = jt.parse_time(expr, time_base=stamp)
        lo_s, hi_s = res["time"][0], res["time"][1]
        tz = base.tzinfo
        lo = dt.datetime.fromisoformat(lo_s).replace(tzinfo=tz) if lo_s not in ("inf", "-inf") else None
        hi = dt.datetime.fromisoformat(hi_s).replace(tzinfo=tz) if hi_s not in ("inf", "-inf") else None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
    if hi is None:
        return None
    return (lo or hi), hi


def _boundary(suffix: str | None) -> Boundary:
    if suffix in _BEFORE:
        return "before"
    if suffix in _AFTER:
        return "after"
    return "at"


def _latin_glued(text: str, start: int, end: int) -> bool:
    """``ASAP`` inside a longer Latin word (``ASAPX``, ``reasoon``) is not the word."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha())


_UNPARSED = _Resolved(None, False, False, False, "at")


@lru_cache(maxsize=8192)
def _resolve_match(expr: str, base: dt.datetime | None) -> _Resolved | None:
    """Cached per (expression, base); ``_UNPARSED`` when ``expr`` alone does not match."""
    m = _PATTERN.fullmatch(expr)
    if m is None:
        return _UNPARSED
    return _resolve_groups(m, base)


def _resolve_groups(m: re.Match[str], base: dt.datetime | None) -> _Resolved | None:
    tz = base.tzinfo if base is not None and base.tzinfo is not None else CST
    bdate = base.date() if base is not None else None
    if m["every"]:  # recurring (每周一上午, 每月10日): no single moment
        return None
    if m["vague"]:
        return _Resolved(None, False, False, True, "at")
    if m["dur"]:
        boundary = _boundary(m["dsuf"])
        dm = _RE_DUR.fullmatch(m["dur"])
        n = _cn_number(dm[1]) if dm else None
        if base is None or dm is None or n is None:
            return _Resolved(None, True, False, False, boundary, duration=True)
        unit = dm[2]
        if unit == "小时":
            return _Resolved(base + dt.timedelta(hours=n), True, True, False, boundary, duration=True)
        assert bdate is not None
        if unit == "工作日":
            d = add_workdays(bdate, n)
        elif unit in ("天", "日", "自然日"):
            d = bdate + dt.timedelta(days=n)
        elif unit in ("周", "星期"):
            d = bdate + dt.timedelta(days=7 * n)
        else:
            y, mo = _month_add(bdate.year, bdate.month, n)
            d = dt.date(y, mo, min(bdate.day, _last_day(y, mo)))
        t = _END_OF_DAY if boundary == "before" else dt.time(0, 0)
        return _Resolved(_day(d, t, tz), True, False, False, boundary, duration=True)
    if m["hol"]:
        boundary = _boundary(m["hsuf"])
        if base is None:
            return _Resolved(None, True, False, False, boundary)
        hol = _jionlp(m["hol"], base)
        if hol is not None and (base - hol[1]).days > 60:
            hol = _jionlp("明年" + m["hol"], base)
        if hol is None:
            return _Resolved(None, True, False, False, boundary)
        when = hol[1] if boundary == "before" else hol[0]
        return _Resolved(when, True, False, False, boundary)
    boundary = _boundary(m["suf"])
    date_s = m["date"]
    tp = m["tp"] or m["tp2"]
    rng = m["rng"]
    span: tuple[dt.date, dt.date] | None = None
    if date_s:
        span = _date_span(re.sub(r"\s", "", date_s), bdate)
        if span is _INVALID_DATE:
            return _Resolved(None, True, tp is not None, False, boundary)
        if span is None:
            # a form we match but do not resolve: ask jionlp (cached with this function)
            if base is None:
                return _Resolved(None, True, tp is not None, False, boundary)
            js = _jionlp(m[0], base)
            if js is None:
                return _Resolved(None, True, False, False, boundary)
            return _Resolved(js[1] if boundary == "before" else js[0], True, tp is not None, False, boundary)
    elif bdate is not None:
        span = (bdate, bdate)
    has_clock = False
    t_lo: dt.time = dt.time(0, 0)
    t_hi: dt.time = _END_OF_DAY
    if tp:
        tp = tp.strip()
        clock = _clock(tp, date_s.strip() if date_s else None)
        pod = _RE_POD.match(tp)
        if clock is not None:
            has_clock = True
            t_lo = t_hi = clock
        elif pod is not None:
            (h1, m1, s1), (h2, m2, s2) = _POD_SPAN[pod[0]]
            t_lo, t_hi = dt.time(h1, m1, s1), dt.time(h2, m2, s2)
    elif date_s and date_s.strip() in _POD_SPAN:  # 今晚 明早
        (h1, m1, s1), (h2, m2, s2) = _POD_SPAN[date_s.strip()]
        t_lo, t_hi = dt.time(h1, m1, s1), dt.time(h2, m2, s2)
    if rng and has_clock:
        end_clock = _clock(re.sub(r"^\s?(?:-|–|—|~|～|至|到)\s?", "", rng))
        if end_clock is not None:
            t_hi = end_clock
    if span is None:
        return _Resolved(None, bool(date_s), has_clock, False, boundary)
    when = _day(span[1], t_hi, tz) if boundary == "before" else _day(span[0], t_lo, tz)
    return _Resolved(when, bool(date_s), has_clock, False, boundary)


def _mention(text: str, start: int, end: int, base: dt.datetime | None) -> TimeMention | None:
    expr = text[start:end]
    if not expr.strip():
        return None
    r = _resolve_match(expr, base)
    if r is _UNPARSED:  # the match depended on its context: resolve this match's own groups
        m = _PATTERN.match(text, start, end)
        r = _resolve_groups(m, base) if m is not None else None
    if r is None:  # recurring forms (每周一)
        return None
    if r.duration and text[max(0, start - 2) : start].rstrip().endswith("后"):
        # 结束后3天内: relative to an event, not to the Date header
        return TimeMention(start, end, expr, None, False, False, False, r.boundary)
    return TimeMention(start, end, expr, r.when, r.has_date, r.has_clock, r.vague, r.boundary)


def find_times(text: str, base: dt.datetime | None) -> list[TimeMention]:
    """Every time expression in ``text`` (see the module docstring), resolved against ``base``.

    Linear time: a cheap anchor scan (digits, 月 日 周 天 午 …) finds the runs of time-like
    characters around each anchor, and the full pattern runs only inside those runs; vague
    words and holidays are found by a second literal scan.
    """
    out: list[TimeMention] = []
    done = 0
    n = len(text)
    iso_at = -1  # next ISO-date anchor at or after ``done`` (n when none), searched lazily
    while True:
        a = _ANCHOR.search(text, done)
        if iso_at < done:
            iso = _ISO_ANCHOR.search(text, done)
            iso_at = iso.start() if iso is not None else n
        i = min(a.start() if a is not None else n, iso_at)
        if i >= n:
            break
        left, lim = i, max(done, i - _MAX_LEAD)
        while left > lim and text[left - 1] in _TIME_CHARS:
            left -= 1
        run = _RUN.match(text, i)
        right = run.end() if run is not None else min(n, i + 1)
        j = left
        while j < right:
            c = text[j]
            if c in _START_CHARS and not (c in _DIGITS and j > 0 and text[j - 1] in _DIGITS):
                m = _PATTERN.match(text, j, right)
                if m is not None and m.end() > j:
                    mention = _mention(text, j, m.end(), base)
                    if mention is not None:
                        out.append(mention)
                    j = m.end()
                    continue
            j += 1
        done = max(right, i + 1)
    extra = [
        t
        for m in _WORDS.finditer(text)
        if not (m[0][0].isascii() and _latin_glued(text, m.start(), m.end()))
        and (t := _mention(text, m.start(), m.end(), base)) is not None
    ]
    if extra:
        # ``out`` is sorted and its spans are disjoint, so the last span starting before
        # ``t.end`` is the only one that can overlap ``t``: one bisection each, not a scan.
        starts = [t.start for t in out]
        ends = [t.end for t in out]
        keep = []
        for t in extra:
            k = bisect.bisect_left(starts, t.end) - 1
            if k < 0 or ends[k] <= t.start:
                keep.append(t)
        out.extend(keep)
        out.sort(key=lambda t: t.start)
    return out


def resolve(expr: str, base: dt.datetime) -> dt.datetime | None:
    """The moment ``expr`` stands for (same rules as :func:`find_times`), or None.

    ``expr`` is one expression, e.g. ``本周五18:00前``; surrounding whitespace is ignored. Forms
    the own parser does not know are handed to ``jionlp_time``.
    """
    expr = expr.strip()
    if not expr:
        return None
    r = _resolve_match(expr, base)
    if r is not None:
        return r.when
    return _resolve_fallback(expr, base)


@lru_cache(maxsize=4096)
def _resolve_fallback(expr: str, base: dt.datetime) -> dt.datetime | None:
    span = _jionlp(expr, base)
    if span is None:
        return None
    return span[1] if expr.endswith(("前", "之前", "以前", "内", "为止")) else span[0]
