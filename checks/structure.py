"""Checks of the structure family (SPEC §2): numbered body, attachments, layout.

The list and section analysis they share lives in :mod:`checks.sections` (``sections_of``,
cached per message). Body offsets are offsets into ``msg.body`` (``new_text`` has the same
offsets); only the new text is read, never quoted earlier messages.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from itertools import islice

from checks.sections import Bullet, NumberedList, SectionInfo, format_marker, sections_of
from checks.text import shorten
from mailgate.context import Context
from mailgate.model import Applicability, Edit, Finding, Fix, Message, Text
from mailgate.registry import CheckSpec, Params, check

CHECKS: list[CheckSpec] = []

MAX_FIX_EDITS = 500  # a renumbering or bullet fix with more edits than this is not offered


def non_space_chars(text: str) -> int:
    """Characters that are not whitespace (the unit of every SPEC threshold)."""
    return len("".join(text.split()))


# ---------------------------------------------------------------------------
# body-numbered


class BodyNumberedParams(Params):
    min_chars: int = 120
    """Characters (without whitespace) outside the action-item section and closing from which a
    numbered list is required."""
    min_items: int = 2
    """Items a numbered list needs to count."""


def sequence_problems(lst: NumberedList) -> tuple[list[str], list[str], int]:
    """(problems in zh, problems in en, index of the first item at fault) of one list."""
    zh: list[str] = []
    en: list[str] = []
    first = len(lst.items)
    items = lst.items
    for i in range(1, len(items)):
        if len(zh) >= 3:
            break  # enough to show; the fix renumbers everything
        prev, cur = items[i - 1], items[i]
        if cur.number > prev.number + 1:
            zh.append(f"「{prev.marker}」之后是「{cur.marker}」，跳过了编号")
            en.append(f"{cur.marker!r} follows {prev.marker!r}: a number is skipped")
            first = min(first, i)
        elif cur.number <= prev.number:
            zh.append(f"「{prev.marker}」之后又是「{cur.marker}」，编号重复")
            en.append(f"{cur.marker!r} follows {prev.marker!r}: a number is repeated")
            first = min(first, i)
    schemes = lst.schemes
    if len(schemes) > 1:
        dominant = _dominant_scheme(lst)
        odd = next(i for i, it in enumerate(items) if it.scheme != dominant)
        mixed = "、".join(f"「{s}」" for s in schemes)
        zh.append(f"同一级列表混用了编号格式 {mixed}")
        en.append(f"one list level mixes the numbering schemes {', '.join(schemes)}")
        first = min(first, odd)
    return zh, en, first


def _dominant_scheme(lst: NumberedList) -> str:
    counts = Counter(it.scheme for it in lst.items)
    best = max(counts.values())
    return next(s for s in lst.schemes if counts[s] == best)


def renumber_edits(lst: NumberedList, limit: int = MAX_FIX_EDITS) -> list[Edit] | None:
    """Edits that renumber ``lst`` consecutively from its first number in its dominant scheme
    (``None`` when more than ``limit`` markers would change)."""
    dominant = _dominant_scheme(lst)
    same = [it for it in lst.items if it.scheme == dominant]
    spaced = sum(1 for it in same if it.marker_end > it.marker_start + len(it.marker))
    sep = " " if spaced * 2 > len(same) else ""
    edits: list[Edit] = []
    n = lst.items[0].number
    for it in lst.items:
        if it.scheme == dominant and it.number == n:
            n += 1
            continue
        if len(edits) >= limit:
            return None
        marker = format_marker(dominant, n)
        if it.scheme == dominant:
            edits.append(Edit("body", it.marker_start, it.marker_start + len(it.marker), marker))
        else:  # another scheme: the spacing after the marker follows the dominant items
            edits.append(Edit("body", it.marker_start, it.marker_end, marker + sep))
        n += 1
    return edits


def _bullet_fix(runs: Sequence[Sequence[Bullet]]) -> Fix | None:
    runs = [run for run in runs if len(run) >= 2]
    if sum(len(run) for run in runs) > MAX_FIX_EDITS:
        return None
    edits = [Edit("body", b.marker_start, b.marker_end, f"{i}. ") for run in runs for i, b in enumerate(run, 1)]
    if not edits:
        return None
    return Fix(
        Text("将项目符号改为编号 1. 2. 3.", "replace the bullets by numbers 1. 2. 3."),
        tuple(edits),
        Applicability.SAFE,
    )


def _outside_bullet_runs(info: SectionInfo) -> list[tuple[Bullet, ...]]:
    return [run for run in info.bullet_runs if not info.in_action(run[0].start)]


@check(
    "body-numbered",
    family="structure",
    severity="warning",
    params=BodyNumberedParams,
    reply_exempt=True,
)
def body_numbered(msg: Message, ctx: Context) -> Iterator[Finding]:
    """The body must be written as numbered points, numbered consecutively in one scheme.

    ## What it checks
    Two things, on the new text (quoted earlier messages are ignored):
    - when the new text has `min_chars` (120) characters or more (whitespace not counted)
      outside the action-item section and the closing, it must hold a numbered list of at least
      `min_items` (2) items there. Bullets (`-` `•` `·`) are not numbering;
    - every numbered list must count 1, 2, 3 … without skipping or repeating a number and use one
      scheme per level. Schemes: `1.` `1、` `1)` `1）` `(1)` `（1）` `一、` `（一）` `①` `第一，`.
      A list is a run of items at one level: blank lines, an item's continuation lines and
      bullets do not end it; a heading (such as the action-item heading) does, and a new list
      starts again at 1. A list nested under another (`1.` under `一、`, or `(1)` under `1.`) is
      another level, so `一、 二、` above `1. 2.` is not a mix.

    Short replies and forwards (new text under 200 characters) are exempt.

    ## Why
    运营管理沟通规定 二(二)2(3): “正文分条目陈述，结尾附上行动项(ActionItems)和负责人。”
    Numbered points can be answered point by point (“关于第2条…”); a skipped or repeated number
    makes such references ambiguous.

    ## Bad
    ```
    积分商城第一轮功能测试已完成，发现的问题如下：
    - 兑换成功后积分余额不刷新。
    - 库存为0的商品仍显示“立即兑换”按钮。
    ```
    ```
    1. 问题原因：消息队列积压。
    2. 修复情况：已扩容消费者。
    2. 用户补偿：已发送致歉通知。
    ```

    ## Good
    ```
    1. 兑换成功后积分余额不刷新。
    2. 库存为0的商品仍显示“立即兑换”按钮。
    ```

    ## Fix safety
    Renumbering a list (consecutive numbers in its most used scheme) and numbering bullets
    (`1. ` `2. ` …) are safe: only the markers change, the text of every point stays. No fix is
    offered for prose that is not split into points, nor when more than 500 markers would change.

    ## Params
    - `min_chars` (int, default 120): characters outside the action-item section and closing
      from which a numbered list is required.
    - `min_items` (int, default 2): items a list needs to count as numbered.
    """
    params = ctx.p(BodyNumberedParams)
    info = sections_of(msg, ctx)
    text = msg.new_text
    spans = info.outside_spans()
    chars = sum(non_space_chars(text[s:e]) for s, e in spans)
    outside_lists = info.lists_outside_action()
    if chars >= params.min_chars and not any(len(lst.items) >= params.min_items for lst in outside_lists):
        runs = _outside_bullet_runs(info)
        if runs:
            first = runs[0][0]
            yield ctx.finding(
                message=Text(
                    f"正文用项目符号「{first.char}」列举要点，没有编号（正文{chars}字，须分条编号陈述）",
                    f"the body lists its points with bullets ({first.char!r}) instead of numbers "
                    f"({chars} characters need numbered points)",
                ),
                suggestion=Text(
                    f"把项目符号改为编号：1. {shorten(first.text)} 2. …",
                    f"number the points instead: 1. {shorten(first.text)} 2. …",
                ),
                field="body",
                start=first.marker_start,
                end=first.end,
                fix=_bullet_fix(runs),
            )
        else:
            start, end = _prose_span(text, spans)
            yield ctx.finding(
                message=Text(
                    f"正文{chars}字未分条编号陈述",
                    f"the body has {chars} characters of prose but no numbered list of at least "
                    f"{params.min_items} points",
                ),
                suggestion=Text(
                    f"按要点拆分为编号条目，例如：1. {shorten(text[start:end])} 2. …",
                    f"split it into numbered points, e.g. 1. {shorten(text[start:end])} 2. …",
                ),
                field="body",
                start=start,
                end=end,
            )
    for lst in info.lists:
        if len(lst.items) < 2:
            continue
        zh, en, first_bad = sequence_problems(lst)
        if not zh:
            continue
        bad = lst.items[first_bad]
        dominant = _dominant_scheme(lst)
        n0 = lst.items[0].number
        expected = " ".join(format_marker(dominant, n0 + i) for i in range(min(len(lst.items), 6)))
        if len(lst.items) > 6:
            expected += " …"
        edits = renumber_edits(lst)
        fix = (
            Fix(Text(f"重新编号为 {expected}", f"renumber as {expected}"), tuple(edits), Applicability.SAFE)
            if edits
            else None
        )
        yield ctx.finding(
            message=Text("列表编号不连续或格式不一致：" + "；".join(zh[:3]), "list numbering: " + "; ".join(en[:3])),
            suggestion=Text(f"按顺序统一编号为 {expected}", f"number the list consecutively: {expected}"),
            field="body",
            start=bad.marker_start,
            end=bad.marker_start + len(bad.marker),
            fix=fix,
        )


def _prose_span(text: str, spans: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The longest paragraph (line) of the outside text, for the finding's underline."""
    best = (0, 0)
    for s, e in spans:
        pos = s
        while pos < e:
            nl = text.find("\n", pos, e)
            end = e if nl < 0 else nl
            if non_space_chars(text[pos:end]) > non_space_chars(text[best[0] : best[1]]):
                best = (pos, end)
            pos = end + 1
    s, e = best
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


CHECKS.append(body_numbered)


# ---------------------------------------------------------------------------
# attachment-missing


@lru_cache(maxsize=32)
def _term_regex(words: tuple[str, ...], ignore_case: bool) -> re.Pattern[str] | None:
    """An alternation of ``words``, longest first (see :func:`_spans` for the word start check).

    Without ``ignore_case`` the words are lowercased and the text searched must be too (much
    faster than ``re.I`` on long texts).
    """
    alts = []
    for w in sorted({w if ignore_case else w.lower() for w in words if w.strip()}, key=len, reverse=True):
        pat = re.escape(w).replace(r"\ ", r"\s+")
        if w[-1].isascii() and w[-1].isalpha():
            pat += r"(?![A-Za-z])"
        alts.append(pat)
    return re.compile("|".join(alts), re.I if ignore_case else 0) if alts else None


def _spans(regex: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """Matches of ``regex`` that do not start inside an ASCII word (``attached`` in ``unattached``).

    The check is done here rather than with a look-behind, which would stop ``re`` from
    skipping quickly to the possible first characters on long texts.
    """
    out = []
    for m in regex.finditer(text):
        s = m.start()
        if s and text[s].isascii() and text[s].isalpha() and text[s - 1].isascii() and text[s - 1].isalpha():
            continue
        out.append((s, m.end()))
    return out


_CLAUSE_END = re.compile(r"[，,。；;！!？?\n]")


def _clause(text: str, start: int, end: int, reach: int) -> tuple[str, str]:
    """The text of the same clause within ``reach`` characters before ``start`` and after ``end``."""
    before = text[max(0, start - reach) : start]
    cut = max((m.end() for m in _CLAUSE_END.finditer(before)), default=0)
    after = text[end : end + reach]
    m = _CLAUSE_END.search(after)
    return before[cut:], after[: m.start()] if m else after


def attachment_mentions(text: str, lex: Mapping[str, Sequence[str]]) -> list[tuple[int, int]]:
    """Spans of ``text`` that say the message carries an attachment (negated ones excluded)."""
    folded = text.lower()
    ignore_case = len(folded) != len(text)  # lowercasing moved offsets (rare letters): use re.I
    if ignore_case:
        folded = text

    def regex(category: str) -> re.Pattern[str] | None:
        return _term_regex(tuple(lex.get(category, ())), ignore_case)

    mention = regex("mention")
    found = _spans(mention, folded) if mention is not None else []
    if not found:
        return []
    negation, deferral, instruction = regex("negation"), regex("deferral"), regex("instruction")
    topic_after = tuple(w.lower() for w in lex.get("topic_after", ()) if w)
    topic_before = tuple(w.lower() for w in lex.get("topic_before", ()) if w)
    denied = _spans(negation, folded) if negation else []
    out: list[tuple[int, int]] = []
    di = 0
    for s, e in found:
        while di < len(denied) and denied[di][1] <= s:
            di += 1
        if di < len(denied) and denied[di][0] < e:
            continue  # inside 无附件 / 未附上 / no attachment
        before, after = _clause(folded, s, e, 12)
        if deferral is not None and (deferral.search(before) or deferral.search(after)):
            continue  # 附件稍后发送
        if instruction is not None and instruction.search(before + folded[s:e]):
            continue  # 报销时请附上发票 — the reader is asked to attach something
        head = after.lstrip().lower()
        tail = before.rstrip().lower()
        if any(head.startswith(w) for w in topic_after) or any(tail.endswith(w) for w in topic_before):
            continue  # 附件上传失败 / 上传附件 — the feature, not this mail's file
        out.append((s, e))
    return out


@check("attachment-missing", family="structure", severity="error", external=True)
def attachment_missing(msg: Message, ctx: Context) -> Iterator[Finding]:
    """A message that mentions an attachment must carry it, and no attachment may be empty.

    ## What it checks
    - the new text mentions an attachment (附件 见附件 详见附件 附上 随信附 attached attachment
      enclosed … — the `attachments` lexicon) but the message has no attachment. Inline images
      shown in the HTML body (`cid:`) are not attachments. Mentions that deny or defer an
      attachment (无附件 未附 附件稍后发送 no attachment), requests to the reader (报销时请附上发票) and
      附件 as a topic (附件上传失败) do not count, nor does anything in quoted earlier messages;
    - an attachment is empty (0 bytes), which is what a failed upload leaves behind.

    Runs on internal and external mail.

    ## Why
    运营管理沟通规定 一(一)2(3): “对于复杂议题，应提供书面材料(如流程图、对比表)辅助口头沟通”; the
    operations group rules (运营群管理制度 三(一)2) ask that “涉及图片、文件等附件的信息，应确保附件内容清晰、完整”.
    A “see attachment” without the attachment costs every recipient a round trip.

    ## Bad
    ```
    11月上半月渠道数据核对报告已整理完成，详见附件。      (no attachment)
    附上更新后的报名名单。                               (报名名单.xlsx, 0 bytes)
    ```

    ## Good
    ```
    11月上半月渠道数据核对报告已整理完成，详见附件。      (渠道数据核对报告.pdf, 120 KB)
    本邮件无附件，数据见共享盘“运营部/月报”目录。
    ```

    ## Fix safety
    No fix: only the sender has the file.

    ## Params
    None. The mention words are the `attachments` lexicon (`mention`, `negation`, `deferral`,
    `instruction`, `topic_after`, `topic_before`).
    """
    real = msg.attachments
    for att in real:
        # A forwarded message's size is only estimated by the parser; message/external-body is
        # empty by design. Only file parts can be "empty".
        if att.size == 0 and not att.content_type.lower().startswith("message/"):
            name = att.filename or att.content_type
            yield ctx.finding(
                message=Text(f"附件「{name}」是空文件（0字节）", f"the attachment {name!r} is empty (0 bytes)"),
                suggestion=Text(f"重新添加完整的「{name}」后再发送", f"attach the complete {name!r} again"),
                field="attachments",
            )
    if real:
        return
    mentions = attachment_mentions(msg.new_text, ctx.lexicon("attachments"))
    if not mentions:
        return
    s, e = mentions[0]
    word = msg.new_text[s:e]
    yield ctx.finding(
        message=Text(
            f"正文提到附件（“{word}”），但邮件没有附件",
            f"the body mentions an attachment ({word!r}) but the message has none",
        ),
        suggestion=Text(
            f"添加所说的附件后再发送；若无需附件，请删去“{word}”的说法",
            f"attach the file before sending, or remove {word!r} if there is none",
        ),
        field="body",
        start=s,
        end=e,
    )


CHECKS.append(attachment_missing)


# ---------------------------------------------------------------------------
# body-layout


class BodyLayoutParams(Params):
    max_paragraph_chars: int = 300
    """A paragraph longer than this (whitespace not counted) should be split."""
    max_body_chars: int = 1500
    """A body longer than this without an attachment should move details into one."""
    max_blank_lines: int = 2
    """More blank lines in a row than this are collapsed to one."""


_BLANK_RUN = re.compile(r"(?:^[ \t\u3000\r]*\n)+", re.M)
MAX_LAYOUT_FINDINGS = 5  # long paragraphs / blank runs reported per message, each


_PARAGRAPH_GAP = re.compile(r"\n(?:[ \t\u3000\r]*\n)+")


def long_paragraphs(text: str, end: int, breaks: Sequence[int], limit: int) -> Iterator[tuple[int, int, int]]:
    """(start, end, characters) of each paragraph of ``text[:end]`` over ``limit`` characters
    (whitespace not counted). Paragraphs are blocks of non-blank lines, split before the offsets
    in the sorted ``breaks`` (list items, bullets, headings)."""
    block_start = 0
    gaps = [(m.start(), m.end()) for m in _PARAGRAPH_GAP.finditer(text, 0, end)]
    gaps.append((end, end))
    for gap_start, gap_end in gaps:
        s, e = block_start, gap_start
        block_start = gap_end
        if e - s <= limit:  # too short even counting whitespace
            continue
        cuts = [*breaks[bisect_right(breaks, s) : bisect_left(breaks, e)], e]
        for cut in cuts:
            if cut - s > limit:
                n = non_space_chars(text[s:cut])
                if n > limit:
                    ps, pe = s, cut
                    while ps < pe and text[ps].isspace():
                        ps += 1
                    while pe > ps and text[pe - 1].isspace():
                        pe -= 1
                    yield ps, pe, n
            s = cut


@check("body-layout", family="structure", severity="info", params=BodyLayoutParams)
def body_layout(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Paragraphs stay short, long bodies come with an attachment, blank lines are single.

    ## What it checks
    On the new text:
    - a paragraph over `max_paragraph_chars` (300) characters, whitespace not counted (a list
      item, a bullet or a heading starts a new paragraph): split it;
    - a body over `max_body_chars` (1500) characters with no attachment: a complex topic should
      come with written material such as a 流程图 or 对比表 attached;
    - more than `max_blank_lines` (2) blank lines in a row: collapsed to one (safe fix). Not
      checked on bodies extracted from HTML, whose blank lines come from the markup.

    ## Why
    运营管理沟通规定 二(二)2(3) “正文分条目陈述” and 一(一)2(2) “使用清晰、简洁的语言”; 一(一)2(3):
    “对于复杂议题，应提供书面材料(如流程图、对比表)辅助口头沟通”.

    ## Bad
    ```
    (one 400-character paragraph)
    第一段。



    第二段。
    ```

    ## Good
    ```
    1. 第一点，不超过300字。
    2. 第二点。
    ```

    ## Fix safety
    Collapsing 3+ blank lines to one is safe: no text changes. Splitting paragraphs and attaching
    material need the sender.

    ## Params
    - `max_paragraph_chars` (int, default 300)
    - `max_body_chars` (int, default 1500)
    - `max_blank_lines` (int, default 2)
    """
    params = ctx.p(BodyLayoutParams)
    info = sections_of(msg, ctx)
    text = msg.new_text
    end = msg.closing_start
    breaks = sorted(
        {it.start for it in info.items}
        | {b.start for b in info.bullets}
        | {h[0] for h in info.headings}
        | ({info.action.heading_start} if info.action is not None else set())
    )
    for s, e, n in islice(long_paragraphs(text, end, breaks, params.max_paragraph_chars), MAX_LAYOUT_FINDINGS):
        yield ctx.finding(
            message=Text(
                f"段落过长（{n}字，超过{params.max_paragraph_chars}字）",
                f"a paragraph of {n} characters (over {params.max_paragraph_chars})",
            ),
            suggestion=Text(
                f"按要点拆分为几段或编号条目，从「{shorten(text[s:e], 16)}」开始",
                f"split the paragraph starting {shorten(text[s:e], 16)!r} into points",
            ),
            field="body",
            start=s,
            end=e,
        )
    total = non_space_chars(text[:end])
    if total > params.max_body_chars and not msg.attachments:
        first_end = text.find("\n", 0, end)
        yield ctx.finding(
            message=Text(
                f"正文过长（{total}字，超过{params.max_body_chars}字）且没有附件",
                f"the body has {total} characters (over {params.max_body_chars}) and no attachment",
            ),
            suggestion=Text(
                "复杂议题请把细节整理成书面材料（如流程图、对比表）作为附件，正文只保留要点",
                "put the details into written material (a flow chart, a comparison table) as an "
                "attachment and keep the main points in the body",
            ),
            field="body",
            start=0,
            end=end if first_end < 0 else first_end,
        )
    if not msg.body_is_html:  # blank lines of text extracted from HTML are not the sender's
        yield from _blank_runs(msg, ctx, params.max_blank_lines)


def _blank_runs(msg: Message, ctx: Context, limit: int) -> Iterator[Finding]:
    body = msg.body
    end = len(msg.new_text)
    reported = 0
    for m in _BLANK_RUN.finditer(body, 0, end):
        s, e = m.start(), m.end()
        count = body.count("\n", s, e)
        if count <= limit or not body[e:end].strip():
            continue  # trailing blank lines at the end of the new text are not layout
        # Collapse to one blank line: the line break ending the previous line stays.
        yield ctx.finding(
            message=Text(f"连续{count}个空行", f"{count} blank lines in a row"),
            suggestion=Text("只保留一个空行", "keep a single blank line"),
            field="body",
            start=s,
            end=e,
            fix=Fix(
                Text(f"将连续{count}个空行合并为一个", f"collapse {count} blank lines into one"),
                (Edit("body", s, e, "\n"),),
                Applicability.SAFE,
            ),
        )
        reported += 1
        if reported >= MAX_LAYOUT_FINDINGS:
            return


CHECKS.append(body_layout)
