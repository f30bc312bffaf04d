"""Checks of the actions family (SPEC §2): the action-item section, its owners and deadlines.

The section itself (heading, items, what follows them) comes from :mod:`checks.sections`
(``sections_of``). This module reads each item for owners and deadlines once per message
(:func:`action_analysis`, cached in ``ctx.memo`` under ``"actions"``) and the four checks
report from that analysis. People come from the directory at runtime; the marker words are
the ``actions`` lexicon (``checks/data/actions.toml``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from checks.fixes import add_to_cc
from checks.sections import ActionItem, SectionInfo, sections_of
from checks.text import shorten
from mailgate.context import Context
from mailgate.directory import Directory, Person
from mailgate.model import Applicability, Edit, Finding, Fix, Message, Text
from mailgate.nlp.timeexpr import TimeMention, add_workdays, find_times
from mailgate.registry import CheckSpec, Params, check

CHECKS: list[CheckSpec] = []

_WEEKDAYS_ZH = "一二三四五六日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}")
_LIST_SPLIT = re.compile(r"[、/／&＆+,，]|以及|和|与|及")
_CJK = re.compile(r"[\u3400-\u9fff]")
_SPACES = re.compile(r"[ \t\u3000]+")
# An owner value after a label stops at a clause delimiter.
_VALUE_STOP = "；;，,。.!！?？\n（(【[<《"
_MAX_VALUE = 40


# --------------------------------------------------------------------------- analysis


@dataclass(frozen=True, slots=True)
class Owner:
    """One owner named in an action item. ``start``/``end`` are body offsets of ``name``."""

    name: str
    start: int
    end: int
    explicit: bool  # 负责人：X / Owner: X / @X / 由X牵头 (else implicit: X负责, （X）, 请X)
    people: tuple[Person, ...]  # directory matches (by the written address when there is one)
    by_address: bool = False
    self_ref: bool = False  # 我 / 本人: the sender


@dataclass(frozen=True, slots=True)
class Group:
    """A department or group named where an owner belongs (负责人：客服部, @运营部, 客服部负责)."""

    name: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ItemInfo:
    item: ActionItem
    owners: tuple[Owner, ...]
    groups: tuple[Group, ...]
    times: tuple[TimeMention, ...]  # body offsets
    vague: tuple[tuple[str, int, int], ...]  # vague deadline words (word, start, end)
    labelled: tuple[int, int] | None  # span of a deadline label's value (截止时间：<value>)


@dataclass(frozen=True, slots=True)
class ActionAnalysis:
    sections: SectionInfo
    items: tuple[ItemInfo, ...]


@dataclass(frozen=True, slots=True)
class _Lexicon:
    label_re: re.Pattern[str] | None
    by_re: re.Pattern[str] | None
    implicit_re: re.Pattern[str] | None  # the implicit verbs (X负责)
    implicit_prefixes: tuple[str, ...]
    group_prefixes: tuple[str, ...]
    group_suffixes: tuple[str, ...]
    group_words: frozenset[str]
    self_words: frozenset[str]
    vague_re: re.Pattern[str] | None
    deadline_label_re: re.Pattern[str] | None


def _alt(words: Sequence[str]) -> str:
    return "|".join(re.escape(w) for w in sorted({w for w in words if w}, key=len, reverse=True))


@lru_cache(maxsize=16)
def _compile(lex_items: tuple[tuple[str, tuple[str, ...]], ...]) -> _Lexicon:
    lex = dict(lex_items)
    labels = lex.get("owner_labels", ())
    verbs = lex.get("by_verbs", ())
    adverbs = lex.get("by_adverbs", ())
    implicit = lex.get("implicit_verbs", ())
    vague = lex.get("vague_deadlines", ())
    dl = lex.get("deadline_labels", ())
    # LABEL：X counts whoever X is; LABEL X / LABEL为X / LABEL是X only a directory name
    label_re = (
        re.compile(
            rf"(?<![A-Za-z])(?:{_alt(labels)})(?:[ \t\u3000]*(?P<colon>[：:])|(?P<soft>[ \t\u3000]+|为|是))"
            r"[ \t\u3000]*",
            re.I,
        )
        if labels
        else None
    )
    by_re = None
    if verbs:
        adv = rf"(?:{_alt(adverbs)})?" if adverbs else ""
        # not the 由 of 由于 / 理由 / 自由 / 由此
        by_re = re.compile(
            rf"(?<![理自缘经事])由(?![于此来衷])[ \t\u3000]*(?P<x>[^由；;，,。\n]{{1,12}}?)[ \t\u3000]*{adv}"
            rf"(?:{_alt(verbs)})"
        )
    vague_re = None
    if vague:
        vague_re = re.compile(rf"(?<![A-Za-z])(?:{_alt(vague)})(?![A-Za-z])", re.I)
    return _Lexicon(
        label_re=label_re,
        by_re=by_re,
        implicit_re=re.compile(_alt(implicit)) if implicit else None,
        implicit_prefixes=tuple(sorted(lex.get("implicit_prefixes", ()), key=len, reverse=True)),
        group_prefixes=tuple(lex.get("group_prefixes", ())),
        group_suffixes=tuple(lex.get("group_suffixes", ())),
        group_words=frozenset(w.casefold() for w in lex.get("group_words", ())),
        self_words=frozenset(lex.get("self_words", ())),
        vague_re=vague_re,
        deadline_label_re=re.compile(rf"(?:{_alt(dl)})[ \t\u3000]*[：:]?[ \t\u3000]*", re.I) if dl else None,
    )


def _lexicon(ctx: Context) -> _Lexicon:
    lex: Mapping[str, tuple[str, ...]] = ctx.lexicon("actions")
    return _compile(tuple(sorted((k, tuple(v)) for k, v in lex.items())))


@lru_cache(maxsize=8)
def _name_lengths(directory: Directory) -> tuple[int, ...]:
    """Distinct lengths of the directory's names and aliases, longest first."""
    return tuple(sorted({len(n) for n in directory.names() if n}, reverse=True))


@lru_cache(maxsize=8)
def _exact_names(directory: Directory) -> frozenset[str]:
    """Every name and alias exactly as written: a cheap pre-test before ``by_name``."""
    return frozenset(n for n in directory.names() if n)


def _named(directory: Directory, s: str) -> tuple[Person, ...]:
    """``directory.by_name`` for text cut out of a message (exact spelling first, fast path)."""
    if s in _exact_names(directory):
        return tuple(directory.by_name(s))
    if s.isascii() and s.strip():  # Latin aliases compare case- and space-insensitively
        return tuple(directory.by_name(s))
    return ()


def _is_group(name: str, lex: _Lexicon, departments: frozenset[str]) -> bool:
    n = name.strip()
    if not n:
        return True
    if n in departments or n.casefold() in lex.group_words:
        return True
    if any(n.startswith(p) for p in lex.group_prefixes):
        return True
    return any(n.endswith(s) and len(n) > len(s) for s in lex.group_suffixes)


@lru_cache(maxsize=4096)
def _people_named(name: str, directory: Directory) -> tuple[Person, ...]:
    """Directory people called ``name``; failing that, the one directory name inside it
    (``技术部林峰``, ``林峰经理``)."""
    found = directory.by_name(name)
    if not found and name.isascii() and len(words := name.split()) == 2:
        found = directory.by_name(f"{words[1]} {words[0]}")  # Wang Fang = Fang Wang
    if found or not _CJK.search(name) or len(name) > _MAX_VALUE:
        return tuple(found)
    hits: dict[str, list[Person]] = {}
    for length in _name_lengths(directory):
        if length >= len(name):
            continue
        for i in range(len(name) - length + 1):
            sub = name[i : i + length]
            people = list(_named(directory, sub))
            if people:
                hits.setdefault(sub, people)
    if not hits:
        return ()
    longest = max(hits, key=len)
    others = [h for h in hits if h != longest and h not in longest]
    return () if others else tuple(hits[longest])


def _address_near(text: str, pos: int) -> str | None:
    """An e-mail address written right after an owner (张伟（zhangwei2@x.com））."""
    window = text[pos : pos + 80]
    cut = min((i for i in (window.find(c) for c in "；;\n") if i >= 0), default=len(window))
    m = _EMAIL.search(window, 0, cut)
    return m.group(0) if m else None


def _split_value(text: str, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """Owner names in ``text[start:end]`` (``林峰、何志强``, ``Kevin Zhao``), with offsets."""
    seg_start = start
    for m in [*_LIST_SPLIT.finditer(text, start, end), None]:
        seg_end = m.start() if m is not None else end
        seg = text[seg_start:seg_end]
        stripped = seg.strip(" \t\u3000")
        if stripped:
            lead = len(seg) - len(seg.lstrip(" \t\u3000"))
            s = seg_start + lead
            if _CJK.search(stripped):
                # CJK names hold no spaces: 林峰 截止时间… -> 林峰
                first = _SPACES.split(stripped, maxsplit=1)[0]
                yield first, s, s + len(first)
            else:
                yield stripped, s, s + len(stripped)
        if m is None:
            break
        seg_start = m.end()


def _value_end(text: str, start: int, limit: int) -> int:
    end = min(limit, start + _MAX_VALUE)
    lead = start
    while lead < end and text[lead] in " \t\u3000":
        lead += 1
    if m := _EMAIL.match(text, lead, end):
        return m.end()  # an address as the owner (Owner: chenjing@corp.cn): the whole address
    for i in range(start, end):
        if text[i] in _VALUE_STOP:
            return i
    return end


# Bounds that keep pathological input (a 1 MB item, a 100,000-item list) linear and fast; real
# action items are far below them.
_MAX_CANDIDATES = 48  # owner candidates looked at per item (a real item names a handful)
_MAX_ITEM_CHARS = 2_000  # characters of one item read for owners and deadlines
_MAX_ITEMS = 1_000  # items analysed per message
_MAX_TOTAL_CHARS = 100_000  # item characters analysed per message


def _analyse_item(
    msg: Message, item: ActionItem, lex: _Lexicon, directory: Directory, departments: frozenset[str]
) -> ItemInfo:
    text = msg.new_text
    s0, e0 = item.content_start, min(item.end, item.content_start + _MAX_ITEM_CHARS)
    # (start, end, rank, name, explicit, people): rank orders the forms when two overlap
    found: list[tuple[int, int, int, str, bool, tuple[Person, ...]]] = []

    def add(rank: int, name: str, start: int, end: int, explicit: bool, people: tuple[Person, ...] = ()) -> bool:
        """Collect one candidate; False once the item has too many."""
        found.append((start, end, rank, name, explicit, people))
        return len(found) < _MAX_CANDIDATES

    def explicit_forms() -> None:
        if lex.label_re is not None:  # LABEL：X
            for m in lex.label_re.finditer(text, s0, e0):
                colon = m.group("colon") is not None
                for name, a, b in _split_value(text, m.end(), _value_end(text, m.end(), e0)):
                    if not add(0, name, a, b, colon):
                        return
        pos = text.find("@", s0, e0)  # @X (not the @ of an address)
        while pos >= 0:
            prev = text[pos - 1] if pos > s0 else " "
            if not (prev.isascii() and (prev.isalnum() or prev in "._%+-")):
                value = text[pos + 1 : _value_end(text, pos + 1, e0)]
                lead = len(value) - len(value.lstrip(" \t\u3000"))
                name = _SPACES.split(value[lead:], maxsplit=1)[0] if value.strip() else ""
                if name and not add(1, name, pos + 1 + lead, pos + 1 + lead + len(name), True):
                    return
            pos = text.find("@", pos + 1, e0)
        if lex.by_re is not None:  # 由X牵头/跟进/完成/负责
            for m in lex.by_re.finditer(text, s0, e0):
                for name, a, b in _split_value(text, m.start("x"), m.end("x")):
                    # whoever it is, as long as it reads as a name (由于系统原因… is no owner)
                    if not add(2, name, a, b, _PLAUSIBLE_NAME.fullmatch(name) is not None):
                        return

    def implicit_forms() -> None:
        lengths = _name_lengths(directory)
        # X：task at the start of the item (王芳：整理需求…)
        n = next(
            (n for n in lengths if text.startswith(("：", ":"), s0 + n) and _named(directory, text[s0 : s0 + n])), 0
        )
        if n and not add(6, text[s0 : s0 + n], s0, s0 + n, False):
            return
        if lex.implicit_re is not None:  # X负责 (a department before the verb is kept as a group)
            for m in lex.implicit_re.finditer(text, s0, e0):
                if text.startswith("人", m.end()):  # 负责人 / 牵头人 are labels, not X负责
                    continue
                j = m.start()
                while j > s0 and text[j - 1] in " \t\u3000":
                    j -= 1
                hit = next((j - n for n in lengths if j - n >= s0 and _named(directory, text[j - n : j])), None)
                if hit is None:
                    hit = next(
                        (j - len(d) for d in departments if j - len(d) >= s0 and text.startswith(d, j - len(d), j)),
                        None,
                    )
                if hit is not None and not add(3, text[hit:j], hit, j, False):
                    return
        for prefix in lex.implicit_prefixes:  # 请X
            pos = text.find(prefix, s0, e0)
            while pos >= 0:
                a = pos + len(prefix)
                n = next((n for n in lengths if a + n <= e0 and _named(directory, text[a : a + n])), 0)
                if n and not add(4, text[a : a + n], a, a + n, False):
                    return
                pos = text.find(prefix, pos + 1, e0)
        for m in _PAREN.finditer(text, s0, e0):  # （X） / （X、Y）
            names = list(_split_value(text, m.start(1), m.end(1)))
            if names and all(_named(directory, n) for n, _, _ in names):
                for name, a, b in names:
                    if not add(5, name, a, b, False):
                        return

    explicit_forms()
    if len(found) < _MAX_CANDIDATES:
        implicit_forms()

    # keep the best-ranked of overlapping candidates, in text order
    found.sort(key=lambda c: (c[0], c[2]))
    kept: list[tuple[int, int, int, str, bool, tuple[Person, ...]]] = []
    for cand in found:
        if kept and cand[0] < kept[-1][1]:
            if cand[2] < kept[-1][2]:
                kept[-1] = cand
            continue
        kept.append(cand)
    owners: list[Owner] = []
    groups: list[Group] = []
    for start, end, _, name, explicit, people in kept:
        by_address = False
        address = name if _EMAIL.fullmatch(name) else _address_near(text, end)
        person = directory.by_email(address) if address is not None else None
        if person is not None:
            people, by_address = (person,), True
        self_ref = name in lex.self_words
        if self_ref and not people and msg.sender is not None:
            me = directory.by_email(msg.sender.key)
            people = (me,) if me is not None else ()
        if not people:
            people = _people_named(name, directory)
        if self_ref:
            owners.append(Owner(name, start, end, True, people, by_address, self_ref=True))
        elif not people and _is_group(name, lex, departments):
            groups.append(Group(name, start, end))
        elif people or explicit:
            owners.append(Owner(name, start, end, explicit, people, by_address))

    # deadlines
    times = tuple(_shift(t, s0) for t in find_times(text[s0:e0], msg.date))
    vague: dict[int, tuple[str, int, int]] = {}
    if lex.vague_re is not None:
        for m in lex.vague_re.finditer(text, s0, e0):
            vague[m.start()] = (m.group(0), m.start(), m.end())
    for t in times:
        if t.vague:
            vague.setdefault(t.start, (t.text, t.start, t.end))
    labelled = None
    if lex.deadline_label_re is not None:
        lm = lex.deadline_label_re.search(text, s0, e0)
        if lm is not None:
            end = lm.end()
            while end < min(e0, lm.end() + _MAX_VALUE) and text[end] not in "；;，,。\n":
                end += 1
            labelled = (lm.end(), end)
    return ItemInfo(item, tuple(owners), tuple(groups), times, tuple(vague[k] for k in sorted(vague)), labelled)


_LOOSE_DATE = re.compile(r"(?<![\d.])\d{1,2}[/.．]\d{1,2}(?![\d.])|(?<![\d.])\d{1,2}[日号](?!\d)")
_PLAUSIBLE_NAME = re.compile(r"[\u3400-\u9fff·]{2,4}|[A-Za-z][A-Za-z.' -]{0,38}[A-Za-z.]")
_PAREN = re.compile(r"[（(]([^（()）\n]{1,30})[)）]")


def _loose_date(text: str, start: int, end: int, times: Sequence[TimeMention]) -> bool:
    """A plausible day in ``text[start:end]`` that the time finder left alone (11/20, 11.20, 20号).

    A date the finder read but could not resolve (11月31日, 13/25前) is no such day, nor is a
    month over 12 or a day over 31.
    """
    for m in _LOOSE_DATE.finditer(text, start, end):
        if any(t.start <= m.start() < t.end and t.when is None for t in times):
            continue
        nums = [int(n) for n in re.findall(r"\d+", m.group(0))]
        if len(nums) == 2 and not (1 <= nums[0] <= 12 and 1 <= nums[1] <= 31):
            continue
        if len(nums) == 1 and not 1 <= nums[0] <= 31:
            continue
        return True
    return False


def _shift(t: TimeMention, offset: int) -> TimeMention:
    return TimeMention(t.start + offset, t.end + offset, t.text, t.when, t.has_date, t.has_clock, t.vague, t.boundary)


def action_analysis(msg: Message, ctx: Context) -> ActionAnalysis:
    """Owners and deadlines of every action item, built once per message."""

    def build() -> ActionAnalysis:
        info = sections_of(msg, ctx)
        lex = _lexicon(ctx)
        directory = ctx.directory
        departments = frozenset(directory.departments())
        items: tuple[ItemInfo, ...] = ()
        if info.action is not None:
            budget = _MAX_TOTAL_CHARS
            analysed: list[ItemInfo] = []
            for it in info.action.items[:_MAX_ITEMS]:
                if budget <= 0:
                    break
                analysed.append(_analyse_item(msg, it, lex, directory, departments))
                budget -= min(it.end - it.content_start, _MAX_ITEM_CHARS)
            items = tuple(analysed)
        return ActionAnalysis(info, items)

    return ctx.memo.get("actions", build)


# --------------------------------------------------------------------------- helpers for messages


def _fmt_day(d: dt.datetime) -> tuple[str, str]:
    """``11月20日（周五）`` and ``Fri 20 Nov``."""
    return (
        f"{d.month}月{d.day}日（周{_WEEKDAYS_ZH[d.weekday()]}）",
        f"{_WEEKDAYS_EN[d.weekday()]} {d.day} {d.strftime('%b')}",
    )


def _fmt_deadline(d: dt.datetime) -> tuple[str, str]:
    """``11月20日（周五）18:00前`` and ``by Fri 20 Nov 18:00``."""
    zh, en = _fmt_day(d)
    if (d.hour, d.minute, d.second) == (23, 59, 59):
        return f"{zh}前", f"by {en}"
    return f"{zh}{d:%H:%M}前", f"by {en} {d:%H:%M}"


def suggested_deadline(msg: Message, workdays: int, clock: dt.time) -> tuple[str, str]:
    """A concrete deadline ``workdays`` working days after the ``Date`` header, at ``clock``."""
    if msg.date is None:
        return "具体日期，如“11月20日（周五）18:00前”", "a concrete date such as 'by Fri 20 Nov 18:00'"
    day = add_workdays(msg.date.date(), workdays)
    return _fmt_deadline(dt.datetime.combine(day, clock, tzinfo=msg.date.tzinfo))


def _item_label(info: ItemInfo, index: int) -> tuple[str, str]:
    marker = info.item.marker.strip().rstrip(".、)）．")
    n = marker.strip("(（") if marker and marker.strip("(（").isdigit() else str(index + 1)
    return f"第{n}条行动项", f"action item {n}"


def _example_owner(msg: Message, ctx: Context) -> str:
    """A plausible owner for examples: the first To recipient known to the directory."""
    for addr in (*msg.to, *msg.cc):
        person = ctx.directory.by_email(addr.key)
        if person is not None:
            return person.name
    if msg.sender is not None:
        person = ctx.directory.by_email(msg.sender.key)
        if person is not None:
            return person.name
    return "姓名"


def _insertion_point(text: str, start: int, end: int) -> int:
    """Where to append to an item: after its content, before a final 。 or ; and blanks."""
    i = end
    while i > start and text[i - 1] in " \t\u3000\r\n":
        i -= 1
    while i > start and text[i - 1] in "。.;；":
        i -= 1
    return i


class _DeadlineParams(Params):
    """Params of action-item-deadline."""

    suggest_workdays: int = 2
    suggest_time: dt.time = dt.time(18, 0)


# --------------------------------------------------------------------------- the checks


@check("action-items", family="actions", severity="error", reply_exempt=True)
def action_items(msg: Message, ctx: Context) -> Iterator[Finding]:
    """The new text must end with an action-item section: a heading, at least one item, then only the closing.

    ## What it checks
    The new text (quoted earlier mail excluded) must end with an action-item section: a
    heading line — 行动项, 行动计划, Action Items, ActionItems, 待办事项, 后续行动, 下一步工作,
    下一步计划, 跟进事项 or 任务分工, optionally numbered, in 【】 and with a colon (the words are
    the `action_headings` of `checks/data/sections.toml`) — followed by at least one item, with
    nothing after the items but the closing (salutation, name, department). It fires when
    there is no such heading, when the heading has no item, and when body text follows the
    items. Short replies and forwards are exempt (SPEC §1).

    ## Why
    运营管理沟通规定 一(二)2 邮件沟通 (3) (seed 000): “正文分条目陈述,结尾附上行动项(ActionItems)和负责人”. A mail
    that ends without its action items leaves readers to guess who does what by when.

    ## Bad
    ```
    本周六机房检修，期间内网不可用，请提前保存工作。
    谢谢！
    李娜
    ```

    ## Good
    ```
    1. 检修时间：11月21日9:00至12:00。
    2. 检修范围：三楼机房。

    行动项：
    1. 通知本组同事关闭电脑；负责人：赵强；截止时间：11月20日18:00前。

    谢谢！
    李娜
    运营部
    ```

    ## Fix safety
    No automatic fix: the tasks, owners and deadlines must come from the sender. The
    suggestion shows a section to fill in, with a recipient as owner and a deadline
    computed from the `Date` header.

    ## Params
    None. The heading words are the `sections` lexicon (`action_headings`).
    """
    info = sections_of(msg, ctx)
    action = info.action
    owner = _example_owner(msg, ctx)
    dl_zh, dl_en = suggested_deadline(msg, 2, dt.time(18, 0))
    template = Text(
        f"在正文末尾、落款之前加上：\n行动项：\n1. <任务>；负责人：{owner}；截止时间：{dl_zh}。",
        f"end the body, before the closing, with:\nAction Items:\n1. <task>; Owner: {owner}; due {dl_en}.",
    )
    body_end = len(msg.new_body.rstrip())
    if action is None:
        yield ctx.finding(
            message=Text("正文结尾没有行动项（Action Items）", "the body does not end with action items"),
            suggestion=template,
            field="body",
            start=body_end,
            end=body_end,
        )
        return
    heading = msg.new_text[action.heading_start : action.heading_end].strip()
    if not action.items:
        yield ctx.finding(
            message=Text(f"“{heading}”下没有任何行动项", f"the heading {heading!r} has no items under it"),
            suggestion=Text(
                f"在“{heading}”下逐条列出：1. <任务>；负责人：{owner}；截止时间：{dl_zh}。",
                f"list the items under {heading!r}: 1. <task>; Owner: {owner}; due {dl_en}.",
            ),
            field="body",
            start=action.heading_start,
            end=action.heading_end,
        )
        return
    if action.trailing_start is not None and action.trailing_end is not None:
        after = shorten(msg.new_text[action.trailing_start : action.trailing_end])
        yield ctx.finding(
            message=Text(
                f"行动项不在正文结尾：其后还有正文“{after}”",
                f"the action items are not at the end: text follows them ({after!r})",
            ),
            suggestion=Text(
                f"把“{after}”移到“{heading}”之前（或改写为一条行动项），让行动项之后只剩落款",
                f"move {after!r} above {heading!r} (or make it an action item) so that only the closing follows",
            ),
            field="body",
            start=action.trailing_start,
            end=action.trailing_end,
        )


CHECKS.append(action_items)


@check("action-item-owner", family="actions", severity="error", reply_exempt=True)
def action_item_owner(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Every action item must name a person as its owner.

    ## What it checks
    Each item of the action-item section must name an owner:
    - explicit forms count whoever they name: `负责人：X`, `责任人：X`, `Owner: X`, `@X`,
      `由X牵头/跟进/完成/负责` (labels and verbs: the `owner_labels` and `by_verbs` of
      `checks/data/actions.toml`); `负责人：林峰、何志强` names two;
    - implicit forms count only when X is a name or alias from the directory: `X负责`
      (`implicit_verbs`), `（X）`, `请X…`.
    A department or a group is not an owner: `负责人：技术部`, `@运营部`, `由技术部跟进`,
    `客服部负责`, `负责人：各组长` fire (departments come from the directory, group words
    from `group_prefixes`/`group_suffixes`/`group_words`). The suggestion names the
    department's head from the directory when there is one.

    ## Why
    运营管理沟通规定 一(二)2 邮件沟通 (3) (seed 000): “结尾附上行动项(ActionItems)和负责人”; seed 004 任务安排与跟进:
    “任务目标、完成时限、责任人”. A task owned by a department is owned by nobody.

    ## Bad
    ```
    行动项：
    1. 整理用户反馈并输出改进清单；截止时间：11月20日前。
    2. 更新知识库答复口径；负责人：客服部；截止时间：11月23日前。
    ```

    ## Good
    ```
    行动项：
    1. 整理用户反馈并输出改进清单；负责人：赵强；截止时间：11月20日前。
    2. 更新知识库答复口径；负责人：高燕；截止时间：11月23日前。
    ```

    ## Fix safety
    No automatic fix: only the sender knows who owns a task.

    ## Params
    None. The marker words are the `actions` lexicon.
    """
    analysis = action_analysis(msg, ctx)
    example = _example_owner(msg, ctx)
    for index, info in enumerate(analysis.items):
        if info.owners:
            continue
        label_zh, label_en = _item_label(info, index)
        if info.groups:
            group = info.groups[0]
            heads = ctx.directory.heads_of(group.name)
            if heads:
                who_zh = f"，如“负责人：{heads[0].name}”（{group.name}负责人 {heads[0].email}）"
                who_en = f", e.g. 'Owner: {heads[0].name}' (head of {group.name}, {heads[0].email})"
            else:
                who_zh, who_en = f"，如“负责人：{example}”", f", e.g. 'Owner: {example}'"
            yield ctx.finding(
                message=Text(
                    f"{label_zh}的负责人“{group.name}”是部门或群体，不是具体的人",
                    f"{label_en} is owned by {group.name!r}, a department or group, not a person",
                ),
                suggestion=Text(f"把“{group.name}”改为具体负责人的姓名{who_zh}", f"name one person instead{who_en}"),
                field="body",
                start=group.start,
                end=group.end,
            )
            continue
        yield ctx.finding(
            message=Text(
                f"{label_zh}“{shorten(info.item.text)}”没有负责人",
                f"{label_en} ({shorten(info.item.text)!r}) names no owner",
            ),
            suggestion=Text(
                f"在该条中写明负责人，如“负责人：{example}”", f"name the owner in the item, e.g. 'Owner: {example}'"
            ),
            field="body",
            start=info.item.start,
            end=info.item.end,
        )


CHECKS.append(action_item_owner)


def _resolvable(t: TimeMention, has_base: bool) -> bool:
    if t.vague or not (t.has_date or t.has_clock):
        return False
    return t.when is not None or not has_base


@check("action-item-deadline", family="actions", severity="warning", params=_DeadlineParams, reply_exempt=True)
def action_item_deadline(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Every action item must have a deadline that resolves to a date.

    ## What it checks
    Each item of the action-item section needs a deadline that resolves to a date: absolute
    (`11月30日前`, `2026-12-01`, `2026年12月1日`, `11月24日18:00前`) or relative to the `Date`
    header (`本周五18:00前`, `明天下班前`, `下周三前`, `今天10:00前`, `月底前`, `3个工作日内`;
    下班 = 18:00). It fires when an item has no time at all, only a time that resolves to no
    date (`下次会议前`, `结束后3天内`), or a vague one (尽快 尽早 近期 稍后 待定 ASAP 有空时 …, the
    `vague_deadlines` of `checks/data/actions.toml` plus the time finder's vague words) without
    a firm deadline beside it. The suggestion is an absolute date computed from `Date`.

    ## Why
    运营管理沟通规定 (seed 000) 一(一)2 准确性原则 (2): “使用清晰、简洁的语言,避免使用模糊或可能引起歧义的
    表述”; seed 004 任务安排与跟进: “明确任务目标、完成时限、责任人”; seed 001 五(三)3 会议纪要:
    “明确任务分工、时间节点”.

    ## Bad
    ```
    行动项：
    1. 评估权限调整方案；负责人：刘毅；截止时间：尽快。
    2. 提供人员名单；负责人：李娜。
    ```

    ## Good
    ```
    行动项：
    1. 评估权限调整方案；负责人：刘毅；截止时间：11月20日（周五）18:00前。
    2. 提供人员名单；负责人：李娜；截止时间：明天下班前。
    ```

    ## Fix safety
    Unsafe: the fix writes the suggested date (`suggest_workdays` working days after `Date`,
    at `suggest_time`) in place of the vague word, or appends `；截止时间：…` to the item; the
    sender must confirm the date.

    ## Params
    - `suggest_workdays` (default 2): working days after `Date` for the suggested deadline.
    - `suggest_time` (default 18:00): the clock time of the suggested deadline.
    """
    params = ctx.p(_DeadlineParams)
    analysis = action_analysis(msg, ctx)
    dl_zh, dl_en = suggested_deadline(msg, params.suggest_workdays, params.suggest_time)
    has_base = msg.date is not None
    text = msg.new_text
    for index, info in enumerate(analysis.items):
        label_zh, label_en = _item_label(info, index)
        firm = [t for t in info.times if _resolvable(t, has_base)]
        strong = [
            t
            for t in firm
            if t.boundary == "before" or (info.labelled is not None and info.labelled[0] <= t.start < info.labelled[1])
        ]
        if info.vague and not strong:
            word, start, end = info.vague[0]
            yield ctx.finding(
                message=Text(
                    f"{label_zh}的截止时间“{word}”含糊，不能确定日期",
                    f"{label_en} has the vague deadline {word!r}, which gives no date",
                ),
                suggestion=Text(
                    f"把“{word}”改为明确的时间，如“{dl_zh}”", f"replace {word!r} with a date, e.g. {dl_en!r}"
                ),
                field="body",
                start=start,
                end=end,
                fix=Fix(
                    Text(f"把“{word}”改为“{dl_zh}”", f"replace {word!r} with {dl_zh!r}"),
                    (Edit("body", start, end, dl_zh),),
                    Applicability.UNSAFE,
                ),
            )
            continue
        if firm:
            continue
        if info.labelled is not None and _loose_date(text, *info.labelled, info.times):
            continue  # 截止时间：11/20, 11.20, 20号 — a date the time finder leaves alone out of context
        if info.labelled is not None and info.labelled[1] > info.labelled[0]:
            a, b = info.labelled
            value = text[a:b].strip()
            yield ctx.finding(
                message=Text(
                    f"{label_zh}的截止时间“{value}”无法确定为具体日期",
                    f"{label_en}: the deadline {value!r} does not resolve to a date",
                ),
                suggestion=Text(f"改为具体日期，如“{dl_zh}”", f"write a date, e.g. {dl_en!r}"),
                field="body",
                start=a,
                end=b,
            )
            continue
        at = _insertion_point(text, info.item.content_start, info.item.end)
        yield ctx.finding(
            message=Text(
                f"{label_zh}“{shorten(info.item.text)}”没有截止时间",
                f"{label_en} ({shorten(info.item.text)!r}) has no deadline",
            ),
            suggestion=Text(f"在该条末尾加上“；截止时间：{dl_zh}”", f"add a deadline to the item, e.g. {dl_en!r}"),
            field="body",
            start=info.item.start,
            end=info.item.end,
            fix=Fix(
                Text(f"加上“截止时间：{dl_zh}”", f"add the deadline {dl_zh!r}"),
                (Edit("body", at, at, f"；截止时间：{dl_zh}"),),
                Applicability.UNSAFE,
            ),
        )


CHECKS.append(action_item_deadline)


@check("action-owner-recipient", family="actions", severity="error", reply_exempt=True)
def action_owner_recipient(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Every action-item owner must be the sender or in To/Cc.

    ## What it checks
    Each owner named in the action items (see `action-item-owner`) is looked up in the
    directory by name or alias — or by the address written next to it
    (`负责人：张伟（zhangwei2@…）`) — and must be the sender or a To/Cc recipient (compared by
    address). An owner who is neither is an error, with the suggestion to add them to Cc
    with their directory address. An owner name that matches nobody in the directory, or
    several people (two 张伟 — even when both are recipients), is a warning asking for the
    address. Each owner is reported once.

    ## Why
    运营管理沟通规定 一(二)2 邮件沟通 (2) (seed 000): “收件人按职责范围选择,抄送关键相关方”. Someone assigned a task in
    a mail they never receive does not know about it.

    ## Bad
    ```
    From: 李娜 <lina@demo.example.cn>
    To: 王芳 <wangfang@demo.example.cn>

    行动项：
    1. 提供接口文档；负责人：刘毅；截止时间：11月20日前。     (刘毅 is not a recipient)
    2. 核对工单数据；负责人：李军；截止时间：11月23日前。     (two people are called 李军)
    ```

    ## Good
    ```
    From: 李娜 <lina@demo.example.cn>
    To: 王芳 <wangfang@demo.example.cn>
    Cc: 刘毅 <liuyi@demo.example.cn>, 李军 <lijun@demo.example.cn>

    行动项：
    1. 提供接口文档；负责人：刘毅；截止时间：11月20日前。
    2. 核对工单数据；负责人：李军（lijun@demo.example.cn）；截止时间：11月23日前。
    ```

    ## Fix safety
    Unsafe: the fix appends the missing owner to Cc, only when asked (adding a recipient
    changes who reads the mail). Ambiguous or unknown names need the sender.

    ## Params
    None.
    """
    analysis = action_analysis(msg, ctx)
    sender = msg.sender.key if msg.sender is not None else None
    listed = {a.key for a in (*msg.to, *msg.cc) if a.valid}
    shown_names = {" ".join(a.display_name.split()).casefold() for a in (*msg.to, *msg.cc) if a.display_name}
    seen: set[str] = set()
    for info in analysis.items:
        for owner in info.owners:
            if owner.self_ref:
                continue
            people = owner.people
            key = people[0].key if len(people) == 1 else "name:" + owner.name.casefold()
            if key in seen:
                continue
            seen.add(key)
            if len(people) == 1:
                person = people[0]
                if person.key == sender or person.key in listed:
                    continue
                yield ctx.finding(
                    message=Text(
                        f"行动项负责人{person.name}（{person.email}）不是发件人，也不在收件人或抄送中",
                        f"the action-item owner {person.name} ({person.email}) is neither the sender nor in To/Cc",
                    ),
                    suggestion=Text(f"抄送 {person.formatted()}", f"add {person.formatted()} to Cc"),
                    field="body",
                    start=owner.start,
                    end=owner.end,
                    fix=add_to_cc(msg, [person]),
                )
            elif len(people) > 1:
                listing_zh = "、".join(f"{p.formatted()}（{p.department}）" for p in people)
                listing_en = ", ".join(f"{p.formatted()} ({p.department})" for p in people)
                yield ctx.finding(
                    message=Text(
                        f"行动项负责人“{owner.name}”在通讯录中对应{len(people)}人：{listing_zh}",
                        f"the action-item owner {owner.name!r} matches {len(people)} people: {listing_en}",
                    ),
                    suggestion=Text(
                        f"写明是哪一位，如“负责人：{owner.name}（{people[0].email}）”",
                        f"say which one, e.g. 'Owner: {owner.name} ({people[0].email})'",
                    ),
                    field="body",
                    start=owner.start,
                    end=owner.end,
                    shift=-1,
                )
            else:
                if " ".join(owner.name.split()).casefold() in shown_names:
                    continue  # not in the directory, but a recipient shown under that name
                yield ctx.finding(
                    message=Text(
                        f"行动项负责人“{owner.name}”不在通讯录中，无法确认其是否收到此邮件",
                        f"the action-item owner {owner.name!r} is not in the directory:"
                        " cannot tell whether they receive this mail",
                    ),
                    suggestion=Text(
                        f"写明{owner.name}的邮箱地址（如“负责人：{owner.name}（name@…）”），并把其放入收件人或抄送",
                        f"write {owner.name}'s address (e.g. 'Owner: {owner.name} (name@…)') and add them to To or Cc",
                    ),
                    field="body",
                    start=owner.start,
                    end=owner.end,
                    shift=-1,
                )


CHECKS.append(action_owner_recipient)
