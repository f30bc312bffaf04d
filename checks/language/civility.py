"""wording-civility: insults and profanity, aggressive phrasing, repeated ！！/？？ and shouting."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from itertools import islice
from typing import Any, NamedTuple

from checks.language.spans import Spans, cached_protected_spans
from checks.language.words import WordSearch, by_identity, excerpt
from mailgate.context import Context
from mailgate.model import Applicability, Edit, Finding, Fix, Message, Text
from mailgate.model import Field as FieldName
from mailgate.nlp import Analysis, Match, analyze
from mailgate.registry import Params, check


def _subject_analysis(msg: Message, ctx: Context) -> Analysis:
    return ctx.memo.get("nlp:subject", lambda: analyze(msg.subject_base, ctx.policy))


# --------------------------------------------------------------------------- wording-civility

_REPEATED_PUNCT = re.compile(r"[！!]{2,}|[？?]{2,}|[！!？?]{3,}")
_PUNCT_PAIRS = tuple(a + b for a in "！!？?" for b in "！!？?")
_CIVILITY_CATEGORIES = ("insult", "profanity", "aggressive")


def civility_matches(
    text: str, nlp: Callable[[], Analysis], lexicon: Mapping[str, tuple[str, ...]], limit: int = 100_000
) -> list[Match]:
    """Insults, profanity and aggressive phrases in ``text``, minus those inside a neutral compound.

    CJK words of 3+ characters match as substrings, shorter ones on word tokens (so 垃圾 in
    垃圾邮件 is one token, not the insult), ASCII words as whole words. ``nlp`` gives the
    analysis of ``text``; it is only asked for when a short word may occur.
    """
    parts = _civility_parts(lexicon)
    present = set(text) if len(text) < 200_000 else None
    found: list[Match] = []
    if parts.short and (present is None or not parts.short_firsts.isdisjoint(present)):
        found = nlp().find(parts.short, overlapping=True, limit=limit)
    found += parts.long.find(text, limit, present)
    neutral_found = parts.neutral.find(text, present=present) if found else []
    neutral = Spans(sorted((m.start, m.end) for m in neutral_found)) if neutral_found else None
    if neutral is not None:
        found = [m for m in found if not neutral.hits(m.start, m.end)]
    kept: list[Match] = []
    last_end = -1
    for m in sorted(found, key=lambda m: (m.start, -m.end)):
        if m.start < last_end:
            continue
        kept.append(m)
        last_end = m.end
    return kept


class _CivilityParts(NamedTuple):
    short: dict[str, tuple[str, ...]]  # CJK words under 3 characters: matched on tokens
    short_firsts: frozenset[str]
    long: WordSearch  # longer CJK words and ASCII words: substrings / whole words
    neutral: WordSearch


_CIVILITY_PARTS: dict[int, tuple[object, Any]] = {}


def _civility_parts(lexicon: Mapping[str, tuple[str, ...]]) -> _CivilityParts:
    def build() -> _CivilityParts:
        short = {
            cat: ws
            for cat in _CIVILITY_CATEGORIES
            if (ws := tuple(w for w in lexicon.get(cat, ()) if w and not w.isascii() and len(w) < 3))
        }
        long = WordSearch({
            cat: tuple(w for w in lexicon.get(cat, ()) if w and (w.isascii() or len(w) >= 3))
            for cat in _CIVILITY_CATEGORIES
        })
        firsts = frozenset(w[0] for ws in short.values() for w in ws)
        return _CivilityParts(short, firsts, long, WordSearch({"neutral": tuple(lexicon.get("neutral", ()))}))

    return by_identity(_CIVILITY_PARTS, lexicon, build)


class CivilityParams(Params):
    caps_min_letters: int = 5
    """An all-capitals word this long or longer is shouting (API, HTTP, SLA are fine)."""
    check_subject: bool = True
    """Also check the subject."""
    max_findings: int = 20
    """At most this many findings per message."""


@check("wording-civility", family="language", severity="error", params=CivilityParams, external=True, needs_nlp=True)
def wording_civility(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Insults and profanity (error); aggressive phrasing, repeated ！！/？？ and shouting (warning).

    ## What it checks
    In the subject and the new text:
    - insults and profanity from the `civility` lexicon (error). Context-aware: a word inside a
      `neutral` compound is not an insult — 垃圾邮件, 垃圾分类, 垃圾桶, 反垃圾 are fine;
    - aggressive phrasing: 说了多少遍 你们到底有没有 是不是傻 别找借口 … (warning);
    - repeated exclamation or question marks: `！！` `？？` `!!` `??` (warning, safe fix: keep one);
    - shouted ALL-CAPS words of 5+ letters such as `PLEASE` (warning). Acronyms of up to 4
      letters (API HTTP SLA) and the lexicon's `acronyms` (HTTPS OAUTH …) are fine; so are
      URLs, addresses and code.

    ## Why
    运营管理沟通规定: 文明用语; seed 001 四(二)1: “不得在群內進行人身攻擊、辱罵、詆毀等不文明行為”,
    四(二)3: “注意語言表達的禮貌性”. Mail is a written record; hostility makes the request itself
    less likely to be acted on.

    ## Bad
    ```
    同样的错误10月已经出现过一次，是不是傻？
    安卓端登录页面白屏的问题又出现了！！
    PLEASE NOTE：升级后工牌需重新激活。
    ```

    ## Good
    ```
    同样的配置错误10月已出现过一次，请在上线检查清单中增加接口地址核对项。
    合作方邮件被误判为垃圾邮件；HTTP链接与API发信均正常。
    ```

    ## Fix safety
    Collapsing repeated `！！`/`？？` to one mark is safe. Lower-casing a shouted word is offered
    as an unsafe fix (it may be a name). Insults and aggressive phrasing need a human rewrite.

    ## Params
    - `caps_min_letters` (int): shortest all-capitals word that counts as shouting. Default: 5.
    - `check_subject` (bool): also check the subject. Default: true.
    - `max_findings` (int): cap per message. Default: 20.
    """
    params = ctx.p(CivilityParams)
    lexicon = ctx.lexicon("civility")
    acronyms = frozenset(w.upper() for w in lexicon.get("acronyms", ()))
    sources: list[tuple[FieldName, str, int]] = []
    if params.check_subject and msg.subject_base.strip():
        sources.append(("subject", msg.subject_base, msg.topic_start))
    if msg.new_text.strip():
        sources.append(("body", msg.new_text, 0))
    count = 0
    for field, text, base in sources:
        def nlp(field: FieldName = field) -> Analysis:
            return ctx.nlp if field == "body" else _subject_analysis(msg, ctx)

        cap = params.max_findings * 4  # only the first findings are reported
        spots = [(m.start, m.end, m.category) for m in civility_matches(text, nlp, lexicon, cap)]
        spots += [(s, e, "punct") for s, e in islice(repeated_punctuation(text), cap)]
        spots += [(s, e, "caps") for s, e in islice(shouted_words(text, params.caps_min_letters, acronyms), cap)]
        if any(kind in ("punct", "caps") for *_, kind in spots):
            protected = Spans(cached_protected_spans(ctx, text))
            spots = [t for t in spots if t[2] not in ("punct", "caps") or not protected.hits(t[0], t[1])]
        spots.sort()
        for start, end, kind in spots:
            if count >= params.max_findings:
                return
            count += 1
            yield _civility_finding(ctx, field, text, base, start, end, kind)


def repeated_punctuation(text: str) -> Iterator[tuple[int, int]]:
    """Runs of ！！ ？？ !! ?? (and mixes of three or more)."""
    if any(pair in text for pair in _PUNCT_PAIRS):
        for m in _REPEATED_PUNCT.finditer(text):
            yield m.span()


def shouted_words(text: str, min_letters: int, acronyms: frozenset[str]) -> Iterator[tuple[int, int]]:
    """All-capitals words of ``min_letters``+ letters, not part of an identifier, path or address."""
    for m in _caps_regex(max(2, min_letters)).finditer(text):
        s, e = m.span()
        before = text[s - 1] if s else ""
        after = text[e : e + 2]
        if before and (before.isascii() and (before.isalnum() or before in "_@.-/\\#=$%&<")):
            continue  # part of an identifier, path, colour code (#FFFFFF) or markup
        if after[:1] and after[0].isascii() and (after[0].isalnum() or after[0] in "_@"):
            continue
        if len(after) == 2 and after[0] in ".-/\\" and after[1].isascii() and after[1].isalnum():
            continue
        if m.group(0) not in acronyms:
            yield s, e


@lru_cache(maxsize=8)
def _caps_regex(n: int) -> re.Pattern[str]:
    return re.compile(rf"[A-Z]{{{n},}}")


def _civility_finding(ctx: Context, field: FieldName, text: str, base: int, start: int, end: int, kind: str) -> Finding:
    word = text[start:end]
    quote = excerpt(text, start, end)
    if kind == "aggressive":
        return ctx.finding(
            message=Text(f"攻击性措辞“{word}”：{quote}", f"aggressive phrasing \"{word}\": {quote}"),
            suggestion=Text(
                "改为中性表述，写清事实和期望，如“该问题已于11月13日反馈过，请在11月20日前给出修复计划”",
                "state the facts and what you need, e.g. "
                "\"this was reported on 13 Nov; please send a fix plan by 20 Nov\"",
            ),
            field=field, start=base + start, end=base + end, shift=-1,
        )
    if kind == "punct":
        one = word[-1]
        one = {"!": "！", "?": "？"}.get(one, one) if _cjk_near(text, start) else one
        return ctx.finding(
            message=Text(f"重复标点“{word}”显得情绪化", f"repeated punctuation \"{word}\" reads as emotional"),
            suggestion=Text(f"只保留一个“{one}”", f"keep a single \"{one}\""),
            field=field, start=base + start, end=base + end, shift=-1,
            fix=Fix(
                Text(f"将“{word}”改为“{one}”", f"replace \"{word}\" by \"{one}\""),
                (Edit(field, base + start, base + end, one),),
                Applicability.SAFE,
            ),
        )
    if kind == "caps":
        nice = word.capitalize()
        return ctx.finding(
            message=Text(f"全大写单词“{word}”像是在喊叫", f"the all-capitals word \"{word}\" reads as shouting"),
            suggestion=Text(
                f"改为“{nice}”；需要强调时用【】标出要点", f"write \"{nice}\"; mark what matters with 【】 instead"
            ),
            field=field, start=base + start, end=base + end, shift=-1,
            fix=Fix(
                Text(f"将“{word}”改为“{nice}”", f"rewrite \"{word}\" as \"{nice}\""),
                (Edit(field, base + start, base + end, nice),),
                Applicability.UNSAFE,
            ),
        )
    return ctx.finding(
        message=Text(f"不文明用语“{word}”：{quote}", f"uncivil wording \"{word}\": {quote}"),
        suggestion=Text(
            f"删除“{word}”，就事论事地描述问题和需要对方做的事",
            f"remove \"{word}\" and describe the problem and the action you need",
        ),
        field=field, start=base + start, end=base + end,
    )


def _cjk_near(text: str, pos: int) -> bool:
    before = text[max(0, pos - 1) : pos]
    return bool(before) and "\u3400" <= before <= "\u9fff"
