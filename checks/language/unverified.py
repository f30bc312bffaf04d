"""content-unverified: hearsay (据说 听说 网传 …) passed on as news."""

from __future__ import annotations

import re
from collections.abc import Iterator

from checks.language.spans import Spans
from checks.language.words import WordSearch, by_identity, excerpt
from mailgate.context import Context
from mailgate.model import Finding, Message, Text
from mailgate.registry import Params, check

_CLAUSE_BREAK = re.compile(r"[，。；！？,;!?\n]")
_NOT_MARKERS = ("dismissal", "refuted", "negation", "neutral")
_NEUTRAL: dict[int, tuple[object, WordSearch]] = {}


class UnverifiedParams(Params):
    max_findings: int = 20
    """At most this many findings per message."""


@check(
    "content-unverified",
    family="language",
    severity="warning",
    params=UnverifiedParams,
    external=True,
    needs_nlp=True,
)
def content_unverified(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Unverified claims passed on as news: 据说 听说 网传 传言 小道消息 道听途说 有人说.

    ## What it checks
    Hearsay markers of the `unverified` lexicon, matched on word tokens of the new text
    (`有传言说` fires; `根据说明` is 根据 + 说明 and does not). A marker the sender dismisses in the
    same clause (`请勿轻信网传消息`, `网传消息不属实`) or negates (`没听说过`) does not fire, nor
    one inside a `neutral` compound of the lexicon (`英语听说读写熟练`: listening and speaking).

    ## Why
    运营管理沟通规定: 不得发布未经证实的消息; seed 001 三(一)1: “嚴禁在群內發布未經證實的消息、謠言、
    虛假信息”. Hearsay in a work mail gets forwarded as fact.

    ## Bad
    ```
    听说技术部下周要调整测试环境，联调时间待定。
    有人说是因为奖品采购流程没走完。
    ```

    ## Good
    ```
    技术部马振11月17日确认：测试环境将于11月24日调整，联调改至11月25日。
    奖品延误原因待运营部赵磊核实，11月17日18:00前回复。
    ```

    ## Fix safety
    No automatic fix: the sender must verify the claim (name the source and date) or drop it.

    ## Params
    - `max_findings` (int): cap per message. Default: 20.
    """
    params = ctx.p(UnverifiedParams)
    text = msg.new_text
    if not text.strip():
        return
    lexicon = ctx.lexicon("unverified")
    markers = {c: ws for c, ws in lexicon.items() if c not in _NOT_MARKERS}
    dismissal = tuple(w for w in lexicon.get("dismissal", ()) if w)
    refuted = tuple(w for w in lexicon.get("refuted", ()) if w)
    negation = tuple(w for w in lexicon.get("negation", ()) if w)
    count = 0
    found = ctx.nlp.find(markers)
    if found and lexicon.get("neutral"):
        search = by_identity(_NEUTRAL, lexicon, lambda: WordSearch({"neutral": tuple(lexicon.get("neutral", ()))}))
        neutral = Spans(sorted((n.start, n.end) for n in search.find(text)))
        found = [m for m in found if not neutral.hits(m.start, m.end)]
    for m in found:
        before = text[max(0, m.start - 12) : m.start]
        before = _CLAUSE_BREAK.split(before)[-1]
        after = text[m.end : m.end + 16]
        after = _CLAUSE_BREAK.split(after)[0]
        if any(w in before for w in dismissal) or any(w in after for w in refuted) or before.endswith(negation):
            continue
        if count >= params.max_findings:
            return
        count += 1
        yield ctx.finding(
            message=Text(
                f"未经证实的消息“{m.word}”：{excerpt(text, m.start, m.end)}",
                f"unverified claim (\"{m.word}\"): {excerpt(text, m.start, m.end)}",
            ),
            suggestion=Text(
                "核实后写明信息来源和确认人，如“技术部马振11月17日确认：……”；无法核实的删除或写“待××核实，××前回复”",
                "verify it and name the source, e.g. \"confirmed by Ma Zhen (Tech) on 17 Nov: …\"; "
                "otherwise drop it or write \"to be verified by X by <date>\"",
            ),
            field="body",
            start=m.start,
            end=m.end,
        )
