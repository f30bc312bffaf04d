"""What a meeting notice or minutes states, and the finding for each element it lacks.

The facts are read from the new text without its closing and without the action-item section,
so a deadline such as ``11月18日18:00前`` is never taken for the meeting time. A labelled line
(``会议地点：…``) decides for its element — an empty or ``待定`` value does not count —; without
a label, the element counts when its words appear anywhere outside the action-item section.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from checks.sections import sections_of
from checks.types.kind import LEXICON, TypeMarker
from checks.types.labels import Labelled, find_labelled, is_given, label_pairs
from mailgate.context import Context
from mailgate.model import Finding, Message, Text
from mailgate.nlp.timeexpr import TimeMention, find_times

_WEEKDAYS_ZH = "一二三四五六日"


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
        labels = label_pairs(lex, _LABEL_CATEGORIES)
        return MeetingFacts(text, tuple(find_labelled(text, labels)))

    return ctx.memo.get("types.meeting_facts", build)


def _usable(m: TimeMention) -> bool:
    return not m.vague and m.boundary != "before"


def _time_missing(msg: Message, facts: MeetingFacts, tbd: Sequence[str]) -> Missing | None:
    """None when the meeting time (a date and a clock time) is stated outside the action items."""
    labelled = [lab for lab in facts.labelled if lab.element == "time"]
    if labelled:
        mentions = [m for lab in labelled if is_given(lab.value, tbd) for m in find_times(lab.value, msg.date)]
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
        if any(is_given(lab.value, tbd) for lab in labelled):
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


def missing_finding(ctx: Context, msg: Message, kind: Text, marker: TypeMarker, miss: Missing) -> Finding:
    """The finding for one missing element: on its partial labelled line, else on the subject's marker."""
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


def meeting_missing(msg: Message, ctx: Context, elements: Sequence[str]) -> list[Missing]:
    """The ``elements`` the message does not state, in the order given."""
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
