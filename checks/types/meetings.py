"""``meeting-notice`` and ``meeting-minutes``: a meeting mail must state the elements of its kind.

A message is a notice or minutes by its subject (``checks.types.kind``); what it states is read
by ``checks.types.elements`` from labelled lines (``checks.types.labels``) and words of the body.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

from checks.types.elements import meeting_missing, missing_finding
from checks.types.kind import type_marker
from mailgate.context import Context
from mailgate.model import Finding, Message, Text
from mailgate.registry import Params, check

Element = Literal["time", "place", "attendees", "agenda"]
MinutesElement = Literal["time", "attendees", "tasks"]


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


def _meeting_findings(
    msg: Message, ctx: Context, kind: Text, words: Sequence[str], other_check: str, elements: Sequence[str]
) -> Iterator[Finding]:
    """One finding per element the meeting mail lacks, when its subject marks it as ``kind``."""
    marker = type_marker(msg, words, _subject_words(ctx, other_check))
    if marker is None:
        return
    for miss in meeting_missing(msg, ctx, elements):
        yield missing_finding(ctx, msg, kind, marker, miss)


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
    kind = Text("会议通知", "meeting notice")
    yield from _meeting_findings(msg, ctx, kind, p.subject_words, "meeting-minutes", p.elements)


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
    kind = Text("会议纪要", "meeting minutes")
    yield from _meeting_findings(msg, ctx, kind, p.subject_words, "meeting-notice", p.elements)
