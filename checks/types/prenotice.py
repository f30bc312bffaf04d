"""``policy-prenotice``: a policy or strategy change is announced 24 hours before it takes effect.

The effective time is read around its markers only (``生效时间：``, ``…起执行``, ``即日起``; the
``types`` lexicon), so a huge body costs no more than a regex scan.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from checks.types.kind import LEXICON, tagged, topic_start
from mailgate.context import Context
from mailgate.model import Finding, Message, Text
from mailgate.nlp.timeexpr import TimeMention, find_times
from mailgate.registry import Params, check


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
# "自2026年12月1日零时起施行": a midnight word between the date and the marker says no more than
# the date alone (a date takes effect at 00:00), so the date still ends where the marker starts.
_MIDNIGHT_TAIL = re.compile(r"(?:零时|零点|〇时|0时|0点|00时|凌晨零时|凌晨0时|凌晨)整?\Z")


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
            ends: tuple[int, ...] = (at, at + 1) if text[at] == "起" else (at,)
            midnight = _MIDNIGHT_TAIL.search(text[max(0, at - 6) : at])
            if midnight:
                ends += (at - (midnight.end() - midnight.start()),)
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
    marker = tagged(msg, p.tags)
    if marker is None:
        return
    lead = dt.timedelta(hours=p.min_notice_hours)
    hours = _hours(lead)
    lex = ctx.lexicon(LEXICON)
    found = find_effective(msg.new_body, msg.date, lex)
    where: Literal["body", "subject"] = "body"
    if not found:  # 【政策变动】12月1日起考勤规则调整预通知: stated in the subject only
        start = topic_start(msg)
        topic = msg.subject[start:]
        found = find_effective(topic, msg.date, lex) or [
            Effective(m.start, m.end, m.text.strip(), m.when)
            for m in find_times(topic, msg.date)
            if m.has_date and m.boundary == "after"  # 【政策变动】12月1日起…
        ]
        found = [Effective(start + e.start, start + e.end, e.text, e.when) for e in found]
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
