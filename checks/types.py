"""Checks of the types family (SPEC §2): meeting notices and minutes, urgency, policy pre-notice, signature.

A message's *type* comes from its subject: the 【TAG】 when it names a type, else words of the
topic (``【项目进度】…周会会议记录`` is minutes). The body facts these checks look for are read
from the new text without its closing and, for meetings, without the action-item section, so a
deadline such as ``11月18日18:00前`` is never taken for the meeting time.

Labelled lines (``会议时间：…``, ``一、会议地点：…``) are read first: when a message has a label
for an element, the value after it decides (an empty or ``待定`` value does not count). Without a
label, the element counts when its words appear anywhere outside the action-item section.
Label and word lists live in ``checks/data/types.toml``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import Field as PField

from checks.sections import sections_of
from mailgate.context import Context
from mailgate.model import Applicability, Edit, Finding, Fix, Message, Text
from mailgate.nlp.timeexpr import TimeMention, find_times
from mailgate.registry import CheckSpec, Params, check

CHECKS: list[CheckSpec] = []

LEXICON = "types"
Element = Literal["time", "place", "attendees", "agenda"]
MinutesElement = Literal["time", "attendees", "tasks"]

_WEEKDAYS_ZH = "一二三四五六日"

# --------------------------------------------------------------------------- the message type


@dataclass(frozen=True, slots=True)
class TypeMarker:
    """Where the subject says what kind of message this is (offsets in ``msg.subject``)."""

    start: int
    end: int
    text: str  # the tag name, or the topic word


# The 【TAG】 and the bracket forms people type instead ([TAG] 〔TAG〕 〖TAG〗 ［TAG］ 【 TAG 】),
# read the same way as ``subject-tag`` reads them.
_BRACKET_TAG = re.compile(r"[ \t\u3000]*[\[［〔〖【]([^\[\]［］〔〕〖〗【】\r\n]{0,24})[\]］〕〗】]")
_SPACE = re.compile(r"[\s\u3000]+")


def _leading_tags(msg: Message) -> tuple[list[TypeMarker], int]:
    """The bracketed tags that begin the subject (after reply prefixes) and where the topic starts."""
    tags: list[TypeMarker] = []
    pos = msg.topic_start
    while len(tags) < 5:
        m = _BRACKET_TAG.match(msg.subject, pos)
        if m is None:
            break
        name = _SPACE.sub("", m[1])
        if not name:
            break
        tags.append(TypeMarker(m.start() + (len(m[0]) - len(m[0].lstrip())), m.end(), name))
        pos = m.end()
    while pos < len(msg.subject) and msg.subject[pos].isspace():
        pos += 1
    return tags, pos


def _type_marker(msg: Message, words: Sequence[str], other_words: Sequence[str]) -> TypeMarker | None:
    """The tag holding one of ``words``, else a topic word; a tag of the other type wins."""
    tags, topic_start = _leading_tags(msg)
    for tag in tags:
        if any(w and w in tag.text for w in words):
            return tag
    if any(w and w in tag.text for tag in tags for w in other_words):
        return None
    topic = msg.subject[topic_start:]
    hits = [(i, w) for w in words if w and (i := topic.find(w)) >= 0]
    if not hits:
        return None
    i, w = min(hits)
    return TypeMarker(topic_start + i, topic_start + i + len(w), w)


def _tag_in(msg: Message, tags: Sequence[str], *, contains: bool = False) -> TypeMarker | None:
    """The subject's leading tag named one of ``tags`` (or containing one, with ``contains``)."""
    for tag in _leading_tags(msg)[0]:
        if tag.text in tags or (contains and any(t and t in tag.text for t in tags)):
            return tag
    return None


# --------------------------------------------------------------------------- the action-item section


def _action_section(msg: Message, ctx: Context) -> tuple[int, int, bool] | None:
    """(start, end, has_items) of the action-item section (heading to its last item), or None."""
    action = sections_of(msg, ctx).action
    if action is None:
        return None
    return action.heading_start, action.end, bool(action.items)


def _outside_actions(msg: Message, ctx: Context) -> str:
    """The new body with the action-item section blanked out (offsets kept, newlines kept)."""

    def build() -> str:
        body = msg.new_body
        sec = _action_section(msg, ctx)
        if sec is None:
            return body
        start, end, _ = sec
        return body[:start] + _BLANK.sub(" ", body[start:end]) + body[end:]

    return ctx.memo.get("types.outside_actions", build)


_BLANK = re.compile(r"[^\n]")

# --------------------------------------------------------------------------- labelled lines


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


def _labels(lex: Mapping[str, tuple[str, ...]], categories: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
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
                vs, ve = _next_line(text, le, regex)
                value = text[vs:ve].strip(_VALUE_TRIM)
            out.append(Labelled(element, m.start(), ve, vs, value))
    return out


def _next_line(text: str, pos: int, label_re: re.Pattern[str]) -> tuple[int, int]:
    """Span of the next non-blank line after ``pos`` (at most 200 characters), unless it starts a
    new label; ``(pos, pos)`` when there is none."""
    nxt = _LINE.search(text, pos, pos + 400)
    if nxt is None or not nxt[0].strip():
        return pos, pos
    ls, le = nxt.start(), min(nxt.end(), nxt.start() + 200)
    num = _NUMBERING.match(text, ls, le)
    first = num.end() if num else ls
    if label_re.match(text, first, le) or (num is not None and num[0].strip()):  # a new label or item
        return pos, pos
    return first, le


def _is_given(value: str, tbd: Sequence[str]) -> bool:
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


def _contains_any(text: str, words: Sequence[str]) -> tuple[int, str] | None:
    low = text.casefold()
    best: tuple[int, str] | None = None
    for w in words:
        if not w:
            continue
        i = low.find(w.casefold())
        if i >= 0 and (best is None or i < best[0]):
            best = (i, w)
    return best


# --------------------------------------------------------------------------- meeting elements


@dataclass(frozen=True, slots=True)
class Missing:
    """An element a meeting message lacks; ``at`` is a partial labelled line, if any."""

    element: str
    at: Labelled | None = None
    detail: str = ""  # "no-clock" | "no-date" | "tbd" | ""
    date: dt.date | None = None  # the date given without a clock time


_LABEL_CATEGORIES = {
    "time_label": "time",
    "place_label": "place",
    "attendee_label": "attendees",
    "agenda_label": "agenda",
}


@dataclass(frozen=True, slots=True)
class MeetingFacts:
    text: str  # the new body, action-item section blanked
    labelled: tuple[Labelled, ...]


_SCAN_CHARS = 20_000  # meeting facts are read from the first 20,000 characters of the new body


def _meeting_facts(msg: Message, ctx: Context) -> MeetingFacts:
    def build() -> MeetingFacts:
        text = _outside_actions(msg, ctx)[:_SCAN_CHARS]
        lex = ctx.lexicon(LEXICON)
        labels = _labels(lex, _LABEL_CATEGORIES)
        return MeetingFacts(text, tuple(find_labelled(text, labels)))

    return ctx.memo.get("types.meeting_facts", build)


def _usable(m: TimeMention) -> bool:
    return not m.vague and m.boundary != "before"


def _time_missing(msg: Message, facts: MeetingFacts, tbd: Sequence[str]) -> Missing | None:
    """None when the meeting time (a date and a clock time) is stated outside the action items."""
    labelled = [lab for lab in facts.labelled if lab.element == "time"]
    if labelled:
        mentions = [m for lab in labelled if _is_given(lab.value, tbd) for m in find_times(lab.value, msg.date)]
        mentions = [m for m in mentions if not m.vague]
        if any(m.has_date and m.has_clock for m in mentions):
            return None
        has_date = any(m.has_date for m in mentions)
        has_clock = any(m.has_clock for m in mentions)
        if has_date and has_clock:  # 日期：11月19日 / 时间：15:00 on two lines
            return None
        detail = "no-clock" if has_date else "no-date" if has_clock else "tbd"
        date = next((m.when.date() for m in mentions if m.has_date and m.when), None)
        return Missing("time", labelled[0], detail, date)
    mentions = [m for m in find_times(facts.text, msg.date) if _usable(m)]
    for i, m in enumerate(mentions):
        if m.has_date and m.has_clock:
            return None
        nxt = mentions[i + 1] if i + 1 < len(mentions) else None
        if (
            m.has_date
            and nxt is not None
            and nxt.has_clock
            and nxt.start - m.end <= 8
            and "\n" not in facts.text[m.end : nxt.start]
        ):
            return None
    return Missing("time", None)


def _element_missing(
    element: str, facts: MeetingFacts, words: Sequence[str], tbd: Sequence[str], mask: Sequence[str] = ()
) -> Missing | None:
    """None when ``element`` has a given labelled value, or (without a label) one of ``words``."""
    labelled = [lab for lab in facts.labelled if lab.element == element]
    if labelled:
        if any(_is_given(lab.value, tbd) for lab in labelled):
            return None
        return Missing(element, labelled[0], "tbd")
    text = facts.text
    if mask:  # values of other labels (an agenda item naming a 办公楼) are not this element
        parts: list[str] = []
        pos = 0
        for lab in sorted((lab for lab in facts.labelled if lab.element in mask), key=lambda x: x.value_start):
            if lab.value_start < pos:
                continue
            parts.append(text[pos : lab.value_start])
            pos = lab.end
        parts.append(text[pos:])
        text = " ".join(parts)
    if _contains_any(text, words) is not None:
        return None
    return Missing(element)


def _example_day(msg: Message, past: bool) -> dt.date:
    """An example meeting day for suggestions: the day of ``Date`` for minutes (``past``), else
    the next working day after it."""
    base = msg.date.date() if msg.date else dt.date.today()
    if past:
        return base
    d = base + dt.timedelta(days=1)
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d


def _zh_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日（周{_WEEKDAYS_ZH[d.weekday()]}）"


def _people(msg: Message, ctx: Context, limit: int = 12) -> list[str]:
    """Real names of the recipients and the sender (directory name, else display name)."""
    out: list[str] = []
    for addr in (*msg.to, *msg.cc, *((msg.sender,) if msg.sender else ())):
        person = ctx.directory.by_email(addr.key)
        name = person.name if person else addr.display_name.strip()
        if name and name not in out:
            out.append(name)
        if len(out) >= limit:
            break
    return out


_ELEMENT_NAMES: dict[str, Text] = {
    "time": Text("会议时间", "meeting time"),
    "place": Text("会议地点", "meeting place"),
    "attendees": Text("参会人员", "attendees"),
    "agenda": Text("会议议程", "agenda"),
    "tasks": Text("任务分工（行动项）", "task assignment (action items)"),
}


def _element_example(element: str, msg: Message, ctx: Context, missing: Missing, kind: str) -> Text:
    if element == "time":
        day = missing.date or _example_day(msg, past=kind == "minutes")
        when = f"会议时间：{_zh_date(day)}14:00-15:00"
        return Text(f"写明日期和具体钟点，例如“{when}”", f"state the date and the clock time, e.g. “{when}”")
    if element == "place":
        where = "会议地点：总部3楼301会议室（线上：腾讯会议号 123-456-789）"
        return Text(
            f"写明会议室、地址或会议链接/会议号，例如“{where}”",
            f"state the room, the address or the meeting link / number, e.g. “{where}”",
        )
    if element == "attendees":
        names = _people(msg, ctx)
        line = "参会人员：" + ("、".join(names) if names else "<姓名>、<姓名>")
        return Text(f"列出参会人员，例如“{line}”", f"list the attendees, e.g. “{line}”")
    if element == "agenda":
        line = "会议议程：1. <议题一>；2. <议题二>"
        return Text(f"在正文中写明议程或议题，例如“{line}”", f"state the agenda or topics in the body, e.g. “{line}”")
    line = "任务分工：\n1. <任务>；负责人：<姓名>；截止时间：<日期>"
    return Text(
        f"在正文末尾、署名之前加上任务分工，例如“{line}”",
        f"add a task-assignment section at the end of the body, before the closing, e.g. “{line}”",
    )


def _missing_finding(ctx: Context, msg: Message, kind: Text, marker: TypeMarker, miss: Missing) -> Finding:
    name = _ELEMENT_NAMES[miss.element]
    suggestion = _element_example(miss.element, msg, ctx, miss, "minutes" if kind.en == "meeting minutes" else "notice")
    if miss.at is None:
        return ctx.finding(
            message=Text(f"{kind.zh}缺少{name.zh}", f"the {kind.en} lacks the {name.en}"),
            suggestion=suggestion,
            field="subject",
            start=marker.start,
            end=marker.end,
        )
    value = miss.at.value
    if miss.detail == "no-clock":
        what = Text(
            f"{kind.zh}的会议时间“{value}”只有日期，没有具体钟点",
            f"the {kind.en}'s meeting time “{value}” has a date but no clock time",
        )
    elif miss.detail == "no-date":
        what = Text(
            f"{kind.zh}的会议时间“{value}”只有钟点，没有日期",
            f"the {kind.en}'s meeting time “{value}” has a clock time but no date",
        )
    else:
        what = Text(
            f"{kind.zh}的{name.zh}未确定（“{value or '空'}”）",
            f"the {kind.en}'s {name.en} is not given (“{value or 'empty'}”)",
        )
    end = max(miss.at.end, miss.at.value_start)
    return ctx.finding(message=what, suggestion=suggestion, field="body", start=miss.at.start, end=end)


# --------------------------------------------------------------------------- meeting-notice


class MeetingNoticeParams(Params):
    subject_words: tuple[str, ...] = ("会议通知", "会议邀请")
    """A tag or topic holding one of these words makes the message a meeting notice."""
    elements: tuple[Element, ...] = ("time", "place", "attendees", "agenda")
    """The elements a notice must state."""


class MeetingMinutesParams(Params):
    subject_words: tuple[str, ...] = ("会议纪要", "会议记录")
    """A tag or topic holding one of these words makes the message meeting minutes."""
    elements: tuple[MinutesElement, ...] = ("time", "attendees", "tasks")
    """The elements minutes must state."""


def _subject_words(ctx: Context, check_id: str) -> tuple[str, ...]:
    """The configured subject words of the other meeting check (its tag outranks our topic words)."""
    settings = ctx.policy.checks.get(check_id)
    params = settings.params if settings is not None else None
    if isinstance(params, MeetingNoticeParams | MeetingMinutesParams):
        return params.subject_words
    default = MeetingMinutesParams() if check_id == "meeting-minutes" else MeetingNoticeParams()
    return default.subject_words


def _meeting_missing(msg: Message, ctx: Context, elements: Sequence[str]) -> list[Missing]:
    lex = ctx.lexicon(LEXICON)
    tbd = lex.get("tbd", ())
    facts = _meeting_facts(msg, ctx)
    out: list[Missing] = []
    for element in elements:
        miss: Missing | None
        if element == "time":
            miss = _time_missing(msg, facts, tbd)
        elif element == "place":
            miss = _element_missing("place", facts, lex.get("place_word", ()), tbd, mask=("agenda", "attendees"))
        elif element == "attendees":
            miss = _element_missing("attendees", facts, lex.get("attendee_word", ()), tbd)
        elif element == "agenda":
            miss = _element_missing("agenda", facts, lex.get("agenda_word", ()), tbd)
        else:  # tasks
            sec = _action_section(msg, ctx)
            miss = None if sec is not None and sec[2] else Missing("tasks")
        if miss is not None:
            out.append(miss)
    return out


@check(
    "meeting-notice",
    family="types",
    severity="error",
    params=MeetingNoticeParams,
    message_type=True,
)
def meeting_notice(msg: Message, ctx: Context) -> Iterator[Finding]:
    """A meeting notice must state the time, place, attendees and agenda.

    ## What it checks
    Messages tagged 【会议通知】, or whose topic contains 会议通知 / 会议邀请, must state in the
    body — outside the action-item section, whose deadlines are not the meeting time — each of:

    - **time**: a date *and* a clock time (``2026年11月19日（周四）15:00-16:00``; ``周四下午`` or a
      date alone is not enough);
    - **place**: a room, an address, or a meeting link / number (会议室, 室, 楼, 腾讯会议, 会议号,
      Zoom, Teams, ``https://…``);
    - **attendees**: 参会人员 / 与会人员 / 参会人 …;
    - **agenda**: 议程 / 议题 / 会议主题 in the body (the subject alone is not enough).

    A labelled line (``会议地点：…``) decides for its element: ``会议地点：待定`` counts as missing.
    Without a label, the element's words anywhere outside the action items count. One finding
    is reported **per missing element**, so each names exactly what to add (on a partial line,
    the finding underlines that line; otherwise the subject's 【会议通知】). “会议室预订规则调整通知”
    is not a meeting notice: the topic must contain the words 会议通知 / 会议邀请 themselves.
    Replies and forwards are not notices and are skipped.

    ## Why
    运营管理沟通规定 (SPEC): “会议通知: 主题、时间、地点、参会人员”; 运营群管理制度 五(二)1:
    “会议组织者应提前确定会议主题、时间、地点、参会人员等信息，并……发布会议通知”.

    ## Bad
    ```
    Subject: 【会议通知】积分商城联调问题对齐会议安排

    1. 会议时间：11月19日（周四）下午
    2. 参会人员：高鹏、罗毅
    3. 会议议程：接口字段对齐
    ```
    (no clock time, no place)

    ## Good
    ```
    1. 会议时间：2026年11月19日（周四）15:00-16:00
    2. 会议地点：总部4楼403会议室（腾讯会议 582-316-907）
    3. 参会人员：高鹏、罗毅、何志强
    4. 会议议程：兑换接口字段对齐；库存回调异常场景确认
    ```

    ## Fix safety
    No automatic fix: only the sender knows the time, room and attendees. The suggestion gives a
    line to fill in.

    ## Params
    - ``subject_words`` (default ``["会议通知", "会议邀请"]``): tag/topic words of a notice.
    - ``elements`` (default ``["time", "place", "attendees", "agenda"]``): what must be stated.
    Labels and words are in the ``types`` lexicon (``time_label``, ``place_label``,
    ``place_word``, ``attendee_label``, ``attendee_word``, ``agenda_label``, ``agenda_word``,
    ``tbd``).
    """
    p = ctx.p(MeetingNoticeParams)
    marker = _type_marker(msg, p.subject_words, _subject_words(ctx, "meeting-minutes"))
    if marker is None:
        return
    kind = Text("会议通知", "meeting notice")
    for miss in _meeting_missing(msg, ctx, p.elements):
        yield _missing_finding(ctx, msg, kind, marker, miss)


CHECKS.append(meeting_notice)


# --------------------------------------------------------------------------- meeting-minutes


@check(
    "meeting-minutes",
    family="types",
    severity="error",
    params=MeetingMinutesParams,
    message_type=True,
)
def meeting_minutes(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Meeting minutes must state the meeting time, the attendees and the task assignment.

    ## What it checks
    Messages tagged 【会议纪要】, or whose topic contains 会议纪要 / 会议记录 (also under another
    tag: ``【项目进度】…周会会议记录``), must state:

    - **time**: when the meeting took place, a date *and* a clock time, outside the action items;
    - **attendees**: 参会人员 / 与会人员 / 参会人 …;
    - **tasks**: a task-assignment section — a 任务分工 / 行动项 heading followed by items.

    Labels, words and per-element findings work as in ``meeting-notice``. Replies and forwards
    are skipped.

    ## Why
    运营管理沟通规定 (SPEC): “会议纪要: 任务分工、时间节点”; 运营群管理制度 五(三)3: “会议结束后，
    会议组织者应及时整理会议纪要……明确任务分工、时间节点等要求，确保会议决议得到有效执行”.

    ## Bad
    ```
    Subject: 【会议纪要】12月会员日活动预算评审会议纪要

    会议地点：总部3楼305会议室
    会议结论：……
    ```
    (no meeting time, no attendees, no task assignment)

    ## Good
    ```
    会议时间：2026年11月20日 14:00-15:00
    参会人员：周敏、潘红、吴昊
    会议结论：……
    任务分工：
    1. 发起合同审批；负责人：吴昊；截止时间：11月24日前。
    ```

    ## Fix safety
    No automatic fix: the content must come from the minute-taker.

    ## Params
    - ``subject_words`` (default ``["会议纪要", "会议记录"]``): tag/topic words of minutes.
    - ``elements`` (default ``["time", "attendees", "tasks"]``): what must be stated.
    """
    p = ctx.p(MeetingMinutesParams)
    marker = _type_marker(msg, p.subject_words, _subject_words(ctx, "meeting-notice"))
    if marker is None:
        return
    kind = Text("会议纪要", "meeting minutes")
    for miss in _meeting_missing(msg, ctx, p.elements):
        yield _missing_finding(ctx, msg, kind, marker, miss)


CHECKS.append(meeting_minutes)


# --------------------------------------------------------------------------- urgent-priority


class UrgentPriorityParams(Params):
    tags: tuple[str, ...] = ("紧急",)
    """Tags that mark an urgent message."""
    high_priority: dict[str, tuple[str, ...]] = PField(
        default_factory=lambda: {"Importance": ("high",), "X-Priority": ("1", "2"), "Priority": ("urgent",)}
    )
    """Header name -> values that mean high importance (compared on the value's first word,
    case-insensitively: ``X-Priority: 1 (Highest)`` is ``1``)."""
    add_header: str = "Importance: high"
    """The header the fix adds to an urgent message."""


_FIRST_WORD = re.compile(r"[^\s(（;,]+")


def _high_headers(msg: Message, spec: Mapping[str, Sequence[str]]) -> list[str]:
    out: list[str] = []
    wanted = {k.lower(): {v.casefold() for v in vals} for k, vals in spec.items()}
    for name, value in msg.headers:
        vals = wanted.get(name.lower())
        if vals is None:
            continue
        m = _FIRST_WORD.search(value)
        if m and m[0].casefold() in vals:
            out.append(f"{name}: {value.strip()}")
    return out


def _priority_headers(msg: Message, spec: Mapping[str, Sequence[str]]) -> list[str]:
    names = {k.lower() for k in spec}
    return [f"{n}: {v.strip()}" for n, v in msg.headers if n.lower() in names]


@check("urgent-priority", family="types", severity="warning", params=UrgentPriorityParams)
def urgent_priority(msg: Message, ctx: Context) -> Iterator[Finding]:
    """An urgent mail must be sent with high importance, and only an urgent mail.

    ## What it checks
    - A subject tagged 【紧急】 (any bracket form) without a high-importance header
      (``Importance: high``, ``X-Priority: 1``/``2`` — the value may read ``1 (Highest)`` —, or
      ``Priority: urgent``). A low value (``X-Priority: 3``) is not high.
    - A high-importance header on a message not tagged 【紧急】: the priority channel is for
      emergencies only.

    ## Why
    运营管理沟通规定 一(一)1(3): “紧急情况(如系统故障、客户重大投诉)需立即启动最高优先级沟通
    通道，确保第一时间响应”. A 【紧急】 subject sent at normal importance is not flagged by mail
    clients; high importance on routine mail wears the channel out.

    ## Bad
    ```
    Subject: 【紧急】支付回调服务异常处理通知
    X-Priority: 3
    ```
    ```
    Subject: 【周报】客服部第47周工作汇报
    Importance: high
    ```

    ## Good
    ```
    Subject: 【紧急】支付回调服务异常处理通知
    Importance: high
    X-Priority: 1 (Highest)
    ```

    ## Fix safety
    Safe for the first case: the fix adds the header ``Importance: high``, which only changes how
    clients flag the mail. The second case has no automatic fix: whether the mail is urgent (add
    【紧急】) or not (drop the header) is the sender's call.

    ## Params
    - ``tags`` (default ``["紧急"]``): tags marking urgent mail.
    - ``high_priority``: header name -> values meaning high importance.
    - ``add_header`` (default ``"Importance: high"``): the header the fix adds.
    """
    p = ctx.p(UrgentPriorityParams)
    marker = _tag_in(msg, p.tags, contains=True)
    high = _high_headers(msg, p.high_priority)
    if marker is not None and not high:
        present = _priority_headers(msg, p.high_priority)
        have = (
            Text(f"（现有 {'、'.join(present)}，不是高优先级）", f" (it has {', '.join(present)}, which is not high)")
            if present
            else Text("", "")
        )
        yield ctx.finding(
            message=Text(
                f"【{marker.text}】邮件没有设置高优先级邮件头",
                f"a 【{marker.text}】 (urgent) mail is not sent with high importance",
            )
            + have,
            suggestion=Text(
                f"以最高优先级发送：加上邮件头“{p.add_header}”（邮件客户端中选择“重要性：高”）",
                f"Send it with high importance: add the header “{p.add_header}” (importance: high)",
            ),
            field="subject",
            start=marker.start,
            end=marker.end,
            fix=Fix(
                description=Text(f"添加邮件头 {p.add_header}", f"add the header {p.add_header}"),
                edits=(Edit("headers", 0, 0, p.add_header),),
                applicability=Applicability.SAFE,
            ),
        )
    elif marker is None and high:
        tag = p.tags[0] if p.tags else "紧急"
        yield ctx.finding(
            message=Text(
                f"非【{tag}】邮件设置了高优先级邮件头（{'、'.join(high)}）",
                f"a mail not tagged 【{tag}】 is sent with high importance ({', '.join(high)})",
            ),
            suggestion=Text(
                f"不紧急就去掉高优先级（重要性改为“普通”）；确属紧急情况，请把标题标签改为【{tag}】",
                f"If it is not urgent, send it at normal importance; if it is, tag the subject 【{tag}】",
            ),
            field="headers",
        )


CHECKS.append(urgent_priority)


# --------------------------------------------------------------------------- policy-prenotice


class PolicyPrenoticeParams(Params):
    tags: tuple[str, ...] = ("政策变动", "战略调整")
    """Tags of policy / strategy changes that need a pre-notice."""
    min_notice_hours: float = 24
    """The effective time must be at least this many hours after the ``Date`` header."""


@dataclass(frozen=True, slots=True)
class Effective:
    start: int  # body offsets of the stated time (or the marker when unresolved)
    end: int
    text: str
    when: dt.datetime | None


@lru_cache(maxsize=32)
def _word_regex(words: tuple[str, ...]) -> re.Pattern[str]:
    alt = "|".join(re.escape(w) for w in sorted({w for w in words if w}, key=len, reverse=True))
    return re.compile(alt or r"(?!x)x", re.I)


_LABEL_GAP = 24  # characters allowed between an effective-time label and its date
_LEAD = 48  # characters before a "起执行" marker searched for its date
_MAX_MARKERS = 64  # markers of each kind examined (a real notice has a few)
_SEPARATORS = frozenset("\n，,。；;：:！!？?、（）()【】 \t\u3000")


def _window_times(text: str, lo: int, hi: int, base: dt.datetime | None) -> list[TimeMention]:
    """Time mentions of ``text[lo:hi]`` (offsets into ``text``); ``lo`` backs off to a separator
    so that no date is cut in two."""
    stop = max(0, lo - 32)
    while lo > stop and text[lo - 1] not in _SEPARATORS:
        lo -= 1
    return [
        TimeMention(m.start + lo, m.end + lo, m.text, m.when, m.has_date, m.has_clock, m.vague, m.boundary)
        for m in find_times(text[lo:hi], base)
        if m.has_date and not m.vague
    ]


def find_effective(text: str, base: dt.datetime | None, lex: Mapping[str, tuple[str, ...]]) -> list[Effective]:
    """Stated effective times: ``生效时间：X``, ``X起执行``, ``X实施`` (not ``X前执行``), ``即日起``.

    Only a window around each marker is parsed, and at most ``_MAX_MARKERS`` markers of each
    kind, so a huge body costs no more than a regex scan.
    """
    out: list[Effective] = []
    seen: set[int] = set()

    def add(m: TimeMention) -> None:
        if m.start not in seen:
            seen.add(m.start)
            out.append(Effective(m.start, m.end, m.text.strip(), m.when))

    for k, lm in enumerate(_word_regex(lex.get("effective_label", ())).finditer(text)):
        if k >= _MAX_MARKERS:
            break
        nl = text.find("\n", lm.end(), lm.end() + _LABEL_GAP)
        limit = lm.end() + _LABEL_GAP if nl < 0 else nl
        hit = next((m for m in _window_times(text, lm.end(), limit + 40, base) if lm.end() <= m.start <= limit), None)
        if hit is not None:
            add(hit)
        else:
            out.append(Effective(lm.start(), lm.end(), lm[0], None))
    for cat, strict in (("effective_suffix", False), ("effective_verb", True)):
        # 12月1日起执行 / 12月1日正式实施; a bare verb after a deadline (11月30日前执行) does not count
        for k, sm in enumerate(_word_regex(lex.get(cat, ())).finditer(text)):
            if k >= _MAX_MARKERS:
                break
            at = sm.start()
            ends = (at, at + 1) if text[at] == "起" else (at,)
            for m in _window_times(text, max(0, at - _LEAD), min(len(text), at + 1), base):
                if m.end in ends and not (strict and m.boundary == "before"):
                    add(m)
    for k, im in enumerate(_word_regex(lex.get("effective_immediate", ())).finditer(text)):
        if k >= _MAX_MARKERS:
            break
        out.append(Effective(im.start(), im.end(), im[0], base))
    return out


def _zh_moment(t: dt.datetime) -> str:
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"


def _hours(delta: dt.timedelta) -> str:
    h = delta.total_seconds() / 3600
    return f"{h:.0f}" if abs(h - round(h)) < 0.05 else f"{h:.1f}"


@check(
    "policy-prenotice",
    family="types",
    severity="error",
    params=PolicyPrenoticeParams,
    message_type=True,
)
def policy_prenotice(msg: Message, ctx: Context) -> Iterator[Finding]:
    """A policy or strategy change must be announced at least 24 hours before it takes effect.

    ## What it checks
    Messages tagged 【政策变动】 or 【战略调整】 must state when the change takes effect
    (``生效时间：…`` ``生效日期：…`` ``执行时间：…`` or ``…起生效`` ``…起执行`` ``…起实施``), and that
    moment must be at least 24 hours after the ``Date`` header. A date without a clock time takes
    effect at 00:00 that day; ``即日起`` / ``自发布之日起`` take effect when the mail is sent.
    A label without a resolvable date (``生效时间：另行通知``) counts as no effective time. When
    several are stated, the earliest is judged. The suggestion computes the earliest allowed
    effective time from ``Date``.

    ## Why
    运营管理沟通规定 一(一)1(2): “战略调整或政策变动需在正式发布前24小时完成内部预通知，确保团队
    有准备时间”.

    ## Bad
    ```
    Date: Fri, 20 Nov 2026 11:00:00 +0800
    Subject: 【政策变动】周末加班餐补申请流程调整预通知

    1. 生效时间：2026年11月20日17:00起生效。
    ```

    ## Good
    ```
    Date: Wed, 18 Nov 2026 10:00:00 +0800
    Subject: 【政策变动】考勤打卡规则调整预通知

    一、生效日期：2026年12月1日。
    ```

    ## Fix safety
    No automatic fix: moving a policy's effective date is a decision, not a formatting change.

    ## Params
    - ``tags`` (default ``["政策变动", "战略调整"]``): tags that need a pre-notice.
    - ``min_notice_hours`` (default ``24``): required lead time.
    Markers are in the ``types`` lexicon (``effective_label``, ``effective_suffix``,
    ``effective_immediate``).
    """
    p = ctx.p(PolicyPrenoticeParams)
    marker = _tag_in(msg, p.tags)
    if marker is None:
        return
    lead = dt.timedelta(hours=p.min_notice_hours)
    hours = _hours(lead)
    lex = ctx.lexicon(LEXICON)
    found = find_effective(msg.new_body, msg.date, lex)
    where: Literal["body", "subject"] = "body"
    if not found:  # 【政策变动】12月1日起考勤规则调整预通知: stated in the subject only
        topic_start = _leading_tags(msg)[1]
        topic = msg.subject[topic_start:]
        found = find_effective(topic, msg.date, lex) or [
            Effective(m.start, m.end, m.text.strip(), m.when)
            for m in find_times(topic, msg.date)
            if m.has_date and m.boundary == "after"  # 【政策变动】12月1日起…
        ]
        found = [Effective(topic_start + e.start, topic_start + e.end, e.text, e.when) for e in found]
        where = "subject"
    resolved = [e for e in found if e.when is not None]
    earliest_ok = msg.date + lead if msg.date is not None else None
    if earliest_ok is not None:
        day = earliest_ok.date() if earliest_ok.time() == dt.time(0, 0) else earliest_ok.date() + dt.timedelta(days=1)
        line = f"生效日期：{day.year}年{day.month}月{day.day}日"
        bound = Text(
            f"不早于{_zh_moment(earliest_ok)}（发信时间后{hours}小时），例如“{line}”",
            f"no earlier than {earliest_ok:%Y-%m-%d %H:%M} ({hours} hours after Date), e.g. “{line}”",
        )
    else:
        bound = Text(f"至少在发信后{hours}小时", f"at least {hours} hours after sending")
    if not resolved:
        at = found[0] if found else None
        yield ctx.finding(
            message=Text(
                f"【{marker.text}】邮件没有写明具体的生效时间",
                f"a 【{marker.text}】 mail does not state when the change takes effect",
            ),
            suggestion=Text("写明生效时间，", "State the effective time, ") + bound,
            field=where if at else "subject",
            start=at.start if at else marker.start,
            end=at.end if at else marker.end,
        )
        return
    if msg.date is None or earliest_ok is None:
        return
    first = min(resolved, key=lambda e: e.when or earliest_ok)
    assert first.when is not None
    if first.when >= earliest_ok:
        return
    gap = first.when - msg.date
    sent = Text(f"发信时间（{_zh_moment(msg.date)}）", f"the mail was sent ({msg.date:%Y-%m-%d %H:%M})")
    if gap.total_seconds() < 0:
        how = Text("早于", " is before ") + sent
    else:
        how = (
            Text("距", " is only ")
            + Text("", f"{_hours(gap)} hours after ")
            + sent
            + Text(f"仅{_hours(gap)}小时，不足{hours}小时", f", less than {hours} hours")
        )
    yield ctx.finding(
        message=Text(f"生效时间“{first.text}”", f"the effective time “{first.text}”") + how,
        suggestion=Text("把生效时间推迟到", "Move the effective time to ")
        + bound
        + Text("；或提前发出预通知", "; or send the pre-notice earlier"),
        field=where,
        start=first.start,
        end=first.end,
    )


CHECKS.append(policy_prenotice)


# --------------------------------------------------------------------------- signature


class SignatureParams(Params):
    require_department: bool = True
    """The closing must also name the sender's department."""


_DEPT_SHAPE = re.compile(
    r"[\u4e00-\u9fff]{1,12}(?:部|中心|事业部|办公室|委员会|组|处|科)|[A-Za-z][A-Za-z &]{1,40}Dept\.?"
)
_WS = re.compile(r"\s+")


def _fold(s: str) -> str:
    return _WS.sub("", s).casefold()


@check("signature", family="types", severity="info", params=SignatureParams)
def signature(msg: Message, ctx: Context) -> Iterator[Finding]:
    """The new text should end with a closing that holds the sender's real name and department.

    ## What it checks
    The closing — the last short lines of the new text (``谢谢`` / ``此致 敬礼`` / name /
    department / phone, SPEC §1) — must contain the sender's real name (the directory name or an
    alias of the ``From`` address, or the ``From`` display name) and department (the sender's
    directory department; for a sender not in the directory, any department-shaped word such as
    ``市场部``). The message names what is missing and gives the closing to add.

    ## Why
    运营群管理制度 一(三)3 实名制原则: “群成员需使用真实姓名或公司内部统一的昵称，以便于识别和
    沟通”; a mail that ends with the sender's name and department tells every recipient who is
    responsible and whom to ask.

    ## Bad
    ```
    ……
    行动项：
    1. 更新排班表；负责人：赵强；截止时间：11月20日前。

    谢谢！
    ```

    ## Good
    ```
    ……
    谢谢！
    李娜
    运营部
    ```

    ## Fix safety
    An *unsafe* fix appends the missing name/department line from the directory: it is right
    for the sender in the directory but changes the visible text, so it is applied only on
    request.

    ## Params
    - ``require_department`` (default ``true``): also require the department.
    """
    p = ctx.p(SignatureParams)
    sender = msg.sender
    if sender is None:
        return
    person = ctx.directory.by_email(sender.key)
    names = [n for n in ((person.name, *person.aliases) if person else ()) if n]
    if sender.display_name:
        names.append(sender.display_name)
    if not names:
        return  # nobody to look for
    real_name = person.name if person else sender.display_name
    dept = person.department if person else ""
    closing = msg.new_text[msg.closing_start :]
    folded = _fold(closing)
    has_name = any(_fold(n) in folded for n in names if _fold(n))
    if dept:
        has_dept = _fold(dept) in folded
    else:
        has_dept = bool(_DEPT_SHAPE.search(closing)) or any(_fold(d) in folded for d in ctx.directory.departments())
    need_dept = p.require_department and not has_dept
    if has_name and not need_dept:
        return
    lacks_zh = "、".join(x for x, f in (("姓名", not has_name), ("部门", need_dept)) if f)
    lacks_en = " and ".join(x for x, f in (("name", not has_name), ("department", need_dept)) if f)
    add_lines = [x for x, f in ((real_name, not has_name), (dept, need_dept and bool(dept))) if f and x]
    end = len(msg.new_text.rstrip())
    start = msg.closing_start if msg.closing_start < end else end
    if closing.strip():
        message = Text(f"结尾署名缺少发件人的{lacks_zh}", f"the closing lacks the sender's {lacks_en}")
    else:
        message = Text("正文结尾没有署名（姓名和部门）", "the mail does not end with a closing (name and department)")
    block = "\n".join(add_lines) if add_lines else "<姓名>\n<部门>"
    fix = None
    if add_lines:
        fix = Fix(
            description=Text("在结尾补上署名", "append the closing"),
            edits=(Edit("body", end, end, "\n" + "\n".join(add_lines)),),
            applicability=Applicability.UNSAFE,
        )
    yield ctx.finding(
        message=message,
        suggestion=Text(f"在邮件结尾署名：\n{block}", f"End the mail with:\n{block}"),
        field="body",
        start=start,
        end=end,
        fix=fix,
    )


CHECKS.append(signature)
