"""Checks of the subject family (SPEC §2): the 【TAG】 and the topic after it.

The subject seen here is ``msg.subject``; reply/forward prefixes are already
measured by the parser (``msg.topic_start``), so every offset reported is
``msg.topic_start`` plus an offset into ``msg.subject_base``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, Sequence

from rapidfuzz import fuzz

from checks.tags import SubjectTag, fold, subject_tag, topic_span
from mailgate.context import Context
from mailgate.model import Applicability, Edit, Finding, Fix, Message, Text
from mailgate.registry import CheckSpec, Params, check

CHECKS: list[CheckSpec] = []

DEFAULT_TAGS: tuple[str, ...] = (
    "部门协作", "通知", "会议通知", "会议纪要", "报告", "周报", "月报", "项目进度", "问题反馈",
    "需求", "紧急", "数据", "对外发布", "政策变动", "战略调整", "交接备忘录", "申请", "审批",
)  # fmt: skip


def _ordered_hints(hints: Mapping[str, Sequence[str]], allowed: Sequence[str]) -> list[tuple[str, str]]:
    """(hint word casefolded, tag) for allowed tags; each tag is a hint for itself."""
    pairs: list[tuple[str, str]] = []
    for tag, words in hints.items():
        if tag in allowed:
            pairs.extend((fold(w), tag) for w in (tag, *words) if fold(w))
    pairs.extend((fold(t), t) for t in allowed if t not in hints)
    return pairs


def closest_tag(name: str, allowed: Sequence[str], hints: Mapping[str, Sequence[str]]) -> str | None:
    """The allowed tag an unknown tag most likely meant (通告 → 通知); None when nothing is close."""
    folded = fold(name)
    pairs = _ordered_hints(hints, allowed)
    for word, tag in pairs:  # a known synonym
        if word == folded:
            return tag
    contained = [(len(word), -i, tag) for i, (word, tag) in enumerate(pairs) if word in folded]
    if contained:  # 项目进度汇报 → 项目进度
        return max(contained)[2]

    def score(tag: str) -> tuple[float, int]:
        t = fold(tag)
        prefix = len(_common_prefix(folded, t))
        return fuzz.ratio(folded, t), prefix

    best = max(range(len(allowed)), key=lambda i: (*score(allowed[i]), -i))
    return allowed[best] if score(allowed[best])[0] >= _MIN_SIMILARITY else None


_MIN_SIMILARITY = 40.0  # rapidfuzz ratio (0-100) below which an unknown tag resembles no allowed tag


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def guess_tag(topic: str, allowed: Sequence[str], hints: Mapping[str, Sequence[str]]) -> str | None:
    """The tag a subject without one most likely needs, from the words of its topic."""
    folded = fold(topic)
    found = [(len(word), -i, tag) for i, (word, tag) in enumerate(_ordered_hints(hints, allowed)) if word in folded]
    return max(found)[2] if found else None


def _fallback_tag(allowed: Sequence[str]) -> str:
    """The tag suggested when nothing points to a better one: the general 通知 when allowed."""
    return "通知" if "通知" in allowed else allowed[0]


def _retag(
    ctx: Context,
    tag: SubjectTag,
    fixed: str,
    *,
    message: Text,
    suggestion: Text,
    description: Text,
    applicability: Applicability,
) -> Finding:
    """A finding on the subject's tag whose fix rewrites the tag (and any blanks before it) as ``fixed``."""
    return ctx.finding(
        message=message,
        suggestion=suggestion,
        field="subject",
        start=tag.start,
        end=tag.end,
        fix=Fix(description, (Edit("subject", tag.start, tag.end, fixed),), applicability),
    )


class SubjectTagParams(Params):
    tags: tuple[str, ...] = DEFAULT_TAGS
    """The allowed tags, without brackets."""


@check("subject-tag", family="subject", severity="error", params=SubjectTagParams)
def subject_tag_check(msg: Message, ctx: Context) -> Iterator[Finding]:
    """The subject must begin with 【TAG】, TAG from the configured tag list.

    ## What it checks
    The subject (after reply/forward prefixes such as `Re:` `回复：`) must start with a tag in
    full-width lenticular brackets, `【通知】`, whose name is one of the allowed tags.
    Three cases fire:
    - a known tag in the wrong brackets or with blanks: `[通知]` `〔通知〕` `〖通知〗` `［通知］`
      `【 通知 】` (safe fix: rewrite to `【通知】`);
    - an unknown tag such as `【通告】`: the closest allowed tag is suggested (`【通知】`), from the
      `subject_tag_hints` lexicon of synonyms and then by character similarity;
    - no tag at all: a tag is suggested from the words of the topic (`…调整的说明` → `【通知】`).

    ## Why
    运营管理沟通规定 二(二)2(1): “标题需明确主题(如“【部门协作】XX项目需求评审会议通知”)”.
    A fixed tag vocabulary lets recipients triage mail at a glance and lets mail rules sort it;
    the tag also selects the recipient rules of `recipients-scope`.

    ## Bad
    ```
    Subject: [通知]本周六机房电力检修安排
    Subject: 【通告】11月第三周线上活动效果总结
    Subject: 关于客服热线IVR菜单调整的说明
    ```

    ## Good
    ```
    Subject: 【通知】本周六机房电力检修安排
    Subject: Re: 【问题反馈】App验证码短信发送失败问题反馈
    ```

    ## Fix safety
    Rewriting a known tag's brackets to `【TAG】` is safe: the tag's meaning is unchanged.
    Replacing an unknown tag or adding a missing one is unsafe: the tag is a guess that the
    sender should confirm.

    ## Params
    - `tags` (list of strings): the allowed tag names. Default: 部门协作 通知 会议通知 会议纪要
      报告 周报 月报 项目进度 问题反馈 需求 紧急 数据 对外发布 政策变动 战略调整 交接备忘录 申请 审批.
    """
    params = ctx.p(SubjectTagParams)
    allowed = params.tags
    if not allowed:
        return
    hints = ctx.lexicon("subject_tag_hints")
    tag = subject_tag(msg)
    if tag is not None and tag.canonical and tag.name in allowed:
        return
    if tag is not None and tag.name in allowed:
        written = msg.subject[tag.start : tag.end].strip()
        fixed = f"【{tag.name}】"
        yield _retag(
            ctx,
            tag,
            fixed,
            message=Text(
                f"标题标签「{written}」格式不规范，应使用全角方括号【】且括号内不留空格",
                f"the subject tag {written!r} must be written in 【】 brackets without blanks",
            ),
            suggestion=Text(f"改为「{fixed}」", f"write it as {fixed!r}"),
            description=Text(f"将「{written}」改为「{fixed}」", f"rewrite {written!r} as {fixed!r}"),
            applicability=Applicability.SAFE,
        )
        return
    if tag is not None:
        written = msg.subject[tag.start : tag.end].strip()
        start, end = topic_span(msg)
        best = (
            closest_tag(tag.name, allowed, hints)
            or guess_tag(msg.subject[start:end], allowed, hints)
            or _fallback_tag(allowed)
        )
        fixed = f"【{best}】"
        yield _retag(
            ctx,
            tag,
            fixed,
            message=Text(
                f"标题标签「{written}」不在规定的标签列表中",
                f"the subject tag {written!r} is not one of the allowed tags",
            ),
            suggestion=Text(
                f"改用「{fixed}」（可用标签：{'、'.join(allowed)}）",
                f"use {fixed!r} (allowed tags: {', '.join(allowed)})",
            ),
            description=Text(f"将「{written}」改为「{fixed}」", f"replace {written!r} by {fixed!r}"),
            applicability=Applicability.UNSAFE,
        )
        return
    start, end = topic_span(msg)
    topic = msg.subject[start:end]
    guess = guess_tag(topic, allowed, hints)
    best = guess or _fallback_tag(allowed)
    fixed = f"【{best}】"
    example = f"{fixed}{topic}" if topic else f"{fixed}<主题>"
    reason = Text(f"（主题含“{best}”类词语）", f" (the topic reads like {best})") if guess else Text("", "")
    yield ctx.finding(
        message=Text("标题缺少【标签】", "the subject does not begin with a 【TAG】"),
        suggestion=Text(
            f"在标题开头加上标签，例如「{example}」{reason.zh}；可用标签：{'、'.join(allowed)}",
            f"start the subject with a tag, e.g. {example!r}{reason.en}; allowed tags: {', '.join(allowed)}",
        ),
        field="subject",
        start=msg.topic_start,
        end=end if end > msg.topic_start else msg.topic_start,
        fix=Fix(
            Text(f"在标题开头加上「{fixed}」", f"prefix the subject with {fixed!r}"),
            (Edit("subject", start, start, fixed),),
            Applicability.UNSAFE,
        ),
    )


CHECKS.append(subject_tag_check)


DEFAULT_GENERIC: tuple[str, ...] = (
    "你好", "请查收", "无主题", "资料", "文件", "急", "重要", "如题", "见附件", "test", "hi", "fyi",
)  # fmt: skip
DEFAULT_DOCTYPES: tuple[str, ...] = (
    # SPEC §2 list …
    "通知", "通报", "公告", "提醒", "报告", "周报", "月报", "纪要", "记录", "申请", "请示", "邀请",
    "确认", "汇报", "方案", "总结", "需求", "反馈", "说明", "计划", "安排", "备忘录", "评审", "复盘",
    "清单", "预告",
    # … and its “…”: other names of a document's kind. Words for an activity or its state
    # (进展 分析 汇总 排期 调研) are not: “XX开发进展” does not say whether the mail informs,
    # asks or reports.
    "公示", "简报", "规定", "办法", "细则", "指引", "指南", "手册", "答复", "预案",
)  # fmt: skip


class SubjectTopicParams(Params):
    min_chars: int = 6
    """Fewest characters (whitespace not counted) a topic may have."""
    max_chars: int = 50
    """Most characters (whitespace not counted) a topic may have."""
    generic: tuple[str, ...] = DEFAULT_GENERIC
    """Phrases that say nothing: a topic made only of these fires."""
    doctypes: tuple[str, ...] = DEFAULT_DOCTYPES
    """Document-type words; a topic must contain one."""


def _is_punct(c: str) -> bool:
    return unicodedata.category(c)[0] in "PSZ" or c.isspace()


def _made_of(text: str, phrases: Sequence[str]) -> bool:
    """True when ``text`` is a concatenation of ``phrases`` (word-break DP, linear in phrases)."""
    if not text:
        return False
    n = len(text)
    ok = [False] * (n + 1)
    ok[0] = True
    for i in range(n):
        if not ok[i]:
            continue
        for p in phrases:
            if p and text.startswith(p, i):
                ok[i + len(p)] = True
    return ok[n]


def _shorten(topic: str, limit: int, doctypes: Sequence[str], ending: str) -> str:
    """A shorter topic: the first listed item plus 等, keeping the document-type ending."""
    tail = ""
    for w in doctypes:
        if topic.endswith(w) and len(w) > len(tail):
            tail = w
    tail = tail or ending
    for sep in "、，,；;":
        if sep in topic:
            head = topic.split(sep, 1)[0]
            candidate = f"{head}等{tail}"
            if len(candidate) <= limit:
                return candidate
    room = max(1, limit - len(tail) - 1)
    return topic[:room] + tail


@check("subject-topic", family="subject", severity="warning", params=SubjectTopicParams)
def subject_topic_check(msg: Message, ctx: Context) -> Iterator[Finding]:
    """The topic after the tag must be specific: 6–50 characters, not generic, with a document-type word.

    ## What it checks
    The topic is the subject after its tag (after every leading `【…】` group), or the whole
    subject (without reply prefixes) when there is no tag. It fires, once, when the topic
    - has fewer than `min_chars` (6) or more than `max_chars` (50) characters, whitespace
      not counted;
    - is a generic phrase (你好 请查收 无主题 资料 文件 急 重要 如题 见附件 test hi fyi), or only a
      run of them, punctuation ignored;
    - contains no document-type word (通知 通报 公告 提醒 报告 周报 月报 纪要 记录 申请 请示 邀请
      确认 汇报 方案 总结 需求 反馈 说明 计划 安排 备忘录 评审 复盘 清单 预告 …) saying what kind
      of mail it is.
    The suggestion is a concrete rewrite: the topic with a document-type ending for its tag
    (`subject_topic_endings` lexicon), or a shortened topic.

    ## Why
    运营管理沟通规定 二(二)2(1): “标题需明确主题(如“【部门协作】XX项目需求评审会议通知”)”.
    A subject of 资料 or 如题 does not say what the mail is about, and one without a
    document-type word does not say whether it informs, asks or reports.

    ## Bad
    ```
    Subject: 【报告】资料
    Subject: 【项目进度】会员中心改版第二阶段
    ```

    ## Good
    ```
    Subject: 【项目进度】会员中心改版第二阶段进度汇报
    ```

    ## Fix safety
    No automatic fix: only the sender knows what the mail is about.

    ## Params
    - `min_chars` (int, 6), `max_chars` (int, 50): topic length bounds, whitespace not counted.
    - `generic` (list of strings): the generic phrases.
    - `doctypes` (list of strings): the document-type words (the SPEC list plus 公示 简报 规定
      办法 细则 指引 指南 手册 答复 预案).
    """
    params = ctx.p(SubjectTopicParams)
    start, end = topic_span(msg)
    topic = msg.subject[start:end]
    chars = sum(1 for c in topic if not c.isspace())
    folded = "".join(c for c in topic if not _is_punct(c)).casefold()
    tag = subject_tag(msg)
    tag_name = tag.name if tag else ""
    endings = ctx.lexicon("subject_topic_endings").get(tag_name, ())
    ending = endings[0] if endings else "说明"

    reasons: list[Text] = []
    suggestion: Text | None = None
    generic = [g.casefold() for g in params.generic if g.strip()]
    is_generic = len(folded) <= 4 * params.max_chars and _made_of(folded, generic)
    example_topic = f"<具体事项>{ending}"
    prefix = msg.subject[msg.topic_start : start]
    if not topic.strip():
        reasons.append(Text("主题为空", "the topic is empty"))
    elif is_generic:
        reasons.append(Text(f"主题「{topic}」是空泛用语", f"the topic {topic!r} is a generic phrase"))
    if topic.strip() and chars < params.min_chars:
        reasons.append(
            Text(
                f"主题只有{chars}个字（至少{params.min_chars}个）",
                f"the topic has {chars} characters (at least {params.min_chars})",
            )
        )
    if chars > params.max_chars:
        reasons.append(
            Text(
                f"主题有{chars}个字（最多{params.max_chars}个）",
                f"the topic has {chars} characters (at most {params.max_chars})",
            )
        )
        short = _shorten(topic, params.max_chars, params.doctypes, ending)
        suggestion = Text(
            f"精简主题，细节写入正文，例如「{prefix}{short}」",
            f"shorten the topic and move details to the body, e.g. {prefix + short!r}",
        )
    topic_cf = topic.casefold()
    if topic.strip() and not is_generic and not any(w.casefold() in topic_cf for w in params.doctypes if w):
        reasons.append(
            Text(
                "主题缺少文种词（如通知、汇报、说明、申请、纪要）",
                "the topic has no document-type word (通知, 汇报, 说明, 申请, 纪要 …)",
            )
        )
        if suggestion is None:
            better = f"{prefix}{topic}{ending}"
            suggestion = Text(f"例如改为「{better}」", f"e.g. {better!r}")
    if not reasons:
        return
    if suggestion is None:
        example = f"{prefix}{example_topic}"
        suggestion = Text(
            f"写明具体事项和文种，例如「{example}」",
            f"name the concrete matter and the kind of mail, e.g. {example!r}",
        )
    message = Text("标题主题不明确：", "the subject topic is unclear: ")
    message = message + Text("；".join(r.zh for r in reasons), "; ".join(r.en for r in reasons))
    yield ctx.finding(
        message=message,
        suggestion=suggestion,
        field="subject",
        start=start if topic else msg.topic_start,
        end=end if topic else len(msg.subject),
    )


CHECKS.append(subject_topic_check)
