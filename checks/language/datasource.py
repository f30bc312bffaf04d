"""data-source: figures (percentages, money, growth) stated without a source."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice

from checks.language.spans import Spans, cached_protected_spans, protected_spans
from mailgate.context import Context
from mailgate.model import Finding, Message, Text
from mailgate.registry import Params, check

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
    spans = Spans(protected_spans(text) if protected is None else protected)
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
    mentions = [m for m in data_mentions(text, cached_protected_spans(ctx, text)) if m[2] in params.kinds]
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
