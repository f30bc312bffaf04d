"""``urgent-priority``: a 【紧急】 mail goes out with high importance, and only such a mail does."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from pydantic import Field as PField

from checks.types.kind import tagged
from mailgate.context import Context
from mailgate.model import Applicability, Edit, Finding, Fix, Message, Text
from mailgate.registry import Params, check


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
    marker = tagged(msg, p.tags, contains=True)
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
