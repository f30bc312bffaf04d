"""typography: Chinese spacing, full-width punctuation, half-width letters and digits, doubled marks."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from itertools import islice

from checks.language.civility import repeated_punctuation
from checks.language.spans import MAX_ANCHORS, Spans, cached_protected_spans, protected_spans
from mailgate.context import Context
from mailgate.model import Applicability, Edit, Finding, Fix, Message, Text
from mailgate.registry import Params, check

_HALF_TO_FULL = {",": "，", ".": "。", "!": "！", "?": "？", ";": "；", ":": "：", "(": "（", ")": "）"}
_FULL_TO_HALF = {v: k for k, v in _HALF_TO_FULL.items()}
_CJK_CHAR = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_FULLWIDTH_ALNUM = re.compile(r"[０-９Ａ-Ｚａ-ｚ]")
_HALF_PARENS = re.compile(r"\(([^()\n]{1,160})\)")
_LINE_END_DOT = re.compile(r"\.(?<=[\u3400-\u9fff]\.)$", re.M)
_DOUBLED = re.compile(r"([，。、；：])\1+")
_MAX_LINE = 20_000  # longer lines are data, not prose: left alone
_WHOLE_TEXT_MAX = 100_000  # characters of whole lines corrected by one autocorrect call
_TYPO_MAX_CHARS = 200_000  # autocorrect costs ~2 µs per character on short lines: bound it
_MAX_EDITS = 5_000  # a message needing more is not prose; the first edits are still offered
_KIND_ORDER = ("spacing", "punctuation", "fullwidth", "doubled")
_KIND_LABEL = ("fullwidth", "punctuation", "doubled", "spacing")  # an edit that does several: the rarer names it
_KIND_TEXT = {
    "spacing": Text("中文与英文、数字之间应有空格", "put a space between Chinese and Latin letters or digits"),
    "punctuation": Text("中文句中应使用全角标点", "use full-width punctuation inside Chinese sentences"),
    "fullwidth": Text("英文字母和数字应使用半角", "write Latin letters and digits half-width"),
    "doubled": Text("标点重复", "doubled punctuation"),
}


def _autocorrect(line: str) -> str:
    try:
        import autocorrect_py
    except ImportError:  # pragma: no cover - a declared dependency
        return line
    return str(autocorrect_py.format(line))


def _full_parens(m: re.Match[str]) -> str:
    """(…) -> （…） after a Chinese character, or around Chinese text followed by Chinese."""
    text, (s, e), inner = m.string, m.span(), m.group(1)
    before = text[s - 1 : s]
    after = text[e : e + 1]
    followed = bool(_CJK_CHAR.match(after)) or after in ("，", "。", "；", "：")
    if _CJK_CHAR.match(before) or (followed and _CJK_CHAR.search(inner)):
        return f"（{inner}）"
    return m.group(0)


def _align(a: str, b: str) -> list[tuple[int, int, str, str]] | None:
    """Edits (start, end, replacement, kind) turning ``a`` into ``b``; None when they diverge.

    Linear two-pointer walk: the fixes above only insert or delete blanks, swap a character for
    its full/half-width twin, and drop repeated punctuation.
    """
    ops: list[tuple[int, int, str, str]] = []
    i = j = 0
    na, nb = len(a), len(b)
    while i < na or j < nb:
        ca = a[i] if i < na else ""
        cb = b[j] if j < nb else ""
        if ca and ca == cb:
            i += 1
            j += 1
        elif cb == " " and ca != " ":
            ops.append((i, i, " ", "spacing"))
            j += 1
        elif ca in (" ", "\t") and ca and cb not in (" ", "\t"):
            ops.append((i, i + 1, "", "spacing"))
            i += 1
        elif ca and cb and (_HALF_TO_FULL.get(ca) == cb or _FULL_TO_HALF.get(ca) == cb):
            ops.append((i, i + 1, cb, "punctuation"))
            i += 1
            j += 1
        elif ca and cb and unicodedata.normalize("NFKC", ca) == cb:
            ops.append((i, i + 1, cb, "fullwidth"))
            i += 1
            j += 1
        elif ca and i > 0 and ca in "，。、；：" and a[i - 1] == ca:
            ops.append((i, i + 1, "", "doubled"))
            i += 1
        else:
            return None
    return ops


def _merge(ops: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, set[str]]]:
    merged: list[tuple[int, int, str, set[str]]] = []
    for s, e, rep, kind in ops:
        if merged and s <= merged[-1][1]:
            ps, pe, prep, kinds = merged[-1]
            merged[-1] = (ps, max(pe, e), prep + rep, kinds | {kind})
        else:
            merged.append((s, e, rep, {kind}))
    return merged


def _fix_text(text: str) -> str:
    out = _HALF_PARENS.sub(_full_parens, text) if "(" in text else text
    out = _autocorrect(out)
    if _FULLWIDTH_ALNUM.search(text):  # spacing is decided before width: a second pass spaces ＡＢＣ中文
        out = _autocorrect(out)
    if "." in out:
        out = _LINE_END_DOT.sub("。", out)
    return _DOUBLED.sub(r"\1", out)


def _line_pairs(text: str) -> Iterator[tuple[int, str, str]]:
    """(offset, line, corrected line) for lines that hold Chinese or full-width letters.

    The text is corrected in blocks of whole lines (one autocorrect call per block of up to
    :data:`_WHOLE_TEXT_MAX` characters); a line longer than :data:`_MAX_LINE` is data, not prose,
    and so is anything after the first :data:`_TYPO_MAX_CHARS` characters.
    """
    pos, n = 0, min(len(text), _TYPO_MAX_CHARS)
    while pos <= n:
        end = n
        if n - pos > _WHOLE_TEXT_MAX:
            end = text.rfind("\n", pos, pos + _WHOLE_TEXT_MAX)
            if end <= pos:
                end = text.find("\n", pos + _WHOLE_TEXT_MAX, n)
                end = n if end < 0 else end
        block = text[pos:end]
        fixed_lines: list[str] | None = None
        if len(block) <= _WHOLE_TEXT_MAX:
            if not _CJK_CHAR.search(block) and not _FULLWIDTH_ALNUM.search(block):
                pos = end + 1
                continue
            fixed_block = _fix_text(block)
            if fixed_block == block:
                pos = end + 1
                continue
            fixed_lines = fixed_block.split("\n")
        lines = block.split("\n")
        if fixed_lines is not None and len(fixed_lines) != len(lines):
            fixed_lines = None
        start = pos
        for k, line in enumerate(lines):
            offset = start
            start += len(line) + 1
            if fixed_lines is not None and fixed_lines[k] == line:
                continue
            if not line.strip() or len(line) > _MAX_LINE:
                continue
            if not _CJK_CHAR.search(line) and not _FULLWIDTH_ALNUM.search(line):
                continue
            fixed = fixed_lines[k] if fixed_lines is not None else _fix_text(line)
            if fixed != line:
                yield offset, line, fixed
        pos = end + 1


def typography_edits(
    text: str, kinds: tuple[str, ...], protected: list[tuple[int, int]] | None = None
) -> list[tuple[int, int, list[tuple[int, int, str, set[str]]]]]:
    """Per line that needs changes: (line start, line end, merged edits in absolute offsets)."""
    keep_out = list(protected_spans(text) if protected is None else protected)
    keep_out += islice(repeated_punctuation(text), MAX_ANCHORS)  # ！！/?? are wording-civility's to fix
    spans = Spans(sorted(keep_out))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # autocorrect is Rust: lone surrogates get one-for-one stand-ins
        text = _SURROGATES.sub("\ufffd", text)
    out: list[tuple[int, int, list[tuple[int, int, str, set[str]]]]] = []
    count = 0
    for start, line, fixed in _line_pairs(text):
        if count >= _MAX_EDITS:
            break
        ops = _align(line, fixed)
        if not ops:
            continue
        edits = []
        for s, e, rep, ks in _merge(ops):
            a, b = start + s, start + e
            ks = {k for k in ks if k in kinds}
            if ks and not (spans.hits(a, b) if b > a else spans.inside(a)):
                edits.append((a, b, rep, ks))
        if edits:
            out.append((start, start + len(line), edits))
            count += len(edits)
    return out


class TypographyParams(Params):
    kinds: tuple[str, ...] = ("spacing", "punctuation", "fullwidth", "doubled")
    """What to fix: CJK–Latin/digit `spacing`, half-width `punctuation` in Chinese, `fullwidth`
    letters/digits, `doubled` punctuation."""


@check("typography", family="language", severity="info", params=TypographyParams, external=True)
def typography(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Chinese typography: spacing, full-width punctuation, half-width letters and digits, doubled marks.

    ## What it checks
    Each line of the new text that holds Chinese, corrected with autocorrect (the Chinese
    copywriting rules) plus two rules of its own:
    - a space between Chinese and Latin letters or digits (`共收到21起` → `共收到 21 起`);
    - full-width punctuation inside Chinese sentences (`升级,期间` → `升级，期间`, `(线上)` → `（线上）`);
    - half-width Latin letters and digits (`ＡＢＣ１２３` → `ABC123`);
    - doubled punctuation (`，，` `。。`; repeated `！！`/`？？`/`!!` are `wording-civility`'s, and
      typography leaves them alone so the two fixes never overlap).
    URLs, e-mail addresses and code (backticks, fenced or indented blocks) are never touched;
    lines over 20,000 characters and text after the first 200,000 characters are not prose and
    are left alone.

    ## Why
    运营管理沟通规定 二(一)2(2): “使用清晰、简洁的语言”; seed 001 三(一)2: “文字信息應排版整齊”.
    Consistent typography makes mail easier to read and search.

    ## Bad
    ```
    今天18:00-19:00门禁系统升级,期间请走1楼东侧临时通道.
    ```

    ## Good
    ```
    今天 18:00-19:00 门禁系统升级，期间请走 1 楼东侧临时通道。
    ```

    ## Fix safety
    Safe: the edits change only blanks and the width of characters, never words; one edit per
    changed span, so a client can show or apply them individually.

    One finding per kind of problem, at its first place, counting the places; its fix holds the
    edits for every place of that kind.

    ## Params
    - `kinds` (list): any of `spacing`, `punctuation`, `fullwidth`, `doubled`. Default: all.
    """
    params = ctx.p(TypographyParams)
    text = msg.new_text
    if not text.strip():
        return
    by_kind: dict[str, list[tuple[int, int, str]]] = {}
    first_line: dict[str, tuple[int, int, list[tuple[int, int, str, set[str]]]]] = {}
    for line in typography_edits(text, params.kinds, cached_protected_spans(ctx, text)):
        for s, e, rep, kinds in line[2]:
            kind = next(k for k in _KIND_LABEL if k in kinds)
            by_kind.setdefault(kind, []).append((s, e, rep))
            first_line.setdefault(kind, line)
    for kind in _KIND_ORDER:
        edits = by_kind.get(kind)
        if not edits:
            continue
        lstart, lend, line_edits = first_line[kind]
        fixed = text[lstart:lend]
        for s, e, rep, _ in sorted(line_edits, reverse=True):
            fixed = fixed[: s - lstart] + rep + fixed[e - lstart :]
        what = _KIND_TEXT[kind]
        yield ctx.finding(
            message=Text(f"排版：{what.zh}（共{len(edits)}处）", f"typography: {what.en} ({len(edits)} places)"),
            suggestion=Text(f"例如改为：{fixed.strip()[:120]}", f"e.g. write: {fixed.strip()[:120]}"),
            field="body",
            start=edits[0][0] if edits[0][0] < edits[0][1] else max(lstart, edits[0][0] - 1),
            end=edits[0][1] if edits[0][0] < edits[0][1] else min(lend, edits[0][1] + 1),
            fix=Fix(
                Text(f"修正排版：{what.zh}", f"fix typography: {what.en}"),
                tuple(Edit("body", s, e, rep) for s, e, rep in edits),
                Applicability.SAFE,
            ),
        )
