"""New text versus quoted earlier messages, and the closing (SPEC §1).

``new_text`` keeps the offsets of the body: it is the body cut at the first
quote header, with ``>`` lines inside it replaced by spaces. The closing is
the trailing block of at most 6 short lines (salutation, name, department,
contact) at the end of the new text.
"""

from __future__ import annotations

import re

_QUOTE_HEADER = re.compile(
    r"""^[ \t]*(?:
        -{2,}[ \t]*(?:原始邮件|Original\ Message|Forwarded\ message|转发的邮件|转发邮件|回复的原邮件)[ \t]*-{2,}
      | ={3,}[ \t]*(?:原始邮件|Original\ Message)[ \t]*={3,}
      | Begin\ forwarded\ message:
      | 在\ ?.{1,120}?写道\ ?[：:]
      | On\ .{1,160}?wrote:
      | 于\ ?.{1,120}?写道\ ?[：:]
    )[ \t]*$""",
    re.X | re.I,
)
# A wrapped "在 …" / "On …" line followed by "写道：" / "wrote:" on the next line.
_QUOTE_OPEN = re.compile(r"^[ \t]*(?:在|On )\S.{0,120}$")
_QUOTE_CLOSE = re.compile(r"^.{0,120}(?:写道\ ?[：:]|wrote:)[ \t]*$", re.I)
_HEADER_FROM = re.compile(r"^[ \t]*\*?(?:发件人|From|寄件者)\*?[ \t]*[：:]", re.I)
_HEADER_NEXT = re.compile(
    r"^[ \t]*\*?(?:发送时间|发件时间|时间|日期|Sent|Date|收件人|To|抄送|Cc|主题|Subject)\*?[ \t]*[：:]", re.I
)
_UNDERSCORES = re.compile(r"^[ \t]*_{10,}[ \t]*$")

_CLOSING_WORDS = re.compile(
    r"谢谢|多谢|感谢|此致|敬礼|顺祝|祝好|祝商祺|商祺|致礼|best\b|regards|thanks|thank you|cheers|sincerely|"
    r"发自我的|sent from my|电话|手机|分机|tel\b|mobile|phone|邮箱|email|e-mail|微信",
    re.I,
)
_SENTENCE_PUNCT = re.compile(r"[。；;]")
_LIST_ITEM = re.compile(
    r"^\s*(?:\d{1,3}[.、)）]|[(（]\d{1,3}[)）]|[一二三四五六七八九十]{1,3}[、.]|[（(][一二三四五六七八九十]{1,3}[)）]|"
    r"[①-⑳]|[-•·*]\s)"
)
MAX_CLOSING_LINES = 6
MAX_CLOSING_CHARS = 40


def split_new_text(body: str) -> str:
    """The new text of ``body``: same length up to the cut, quotes blanked."""
    lines = body.splitlines(keepends=True)
    out: list[str] = []
    pos = 0
    for i, line in enumerate(lines):
        bare = line.rstrip("\r\n")
        if _is_quote_header(lines, i, bare):
            return "".join(out)
        if bare.lstrip().startswith(">"):
            out.append(" " * len(bare) + line[len(bare) :])
        else:
            out.append(line)
        pos += len(line)
    return "".join(out)


def _is_quote_header(lines: list[str], i: int, bare: str) -> bool:
    if len(bare) > 300:
        return False
    if _QUOTE_HEADER.match(bare):
        return True
    if _UNDERSCORES.match(bare):
        nxt = _next_nonblank(lines, i)
        return nxt is not None and bool(_HEADER_FROM.match(nxt))
    if _HEADER_FROM.match(bare):
        following = [ln.rstrip("\r\n") for ln in lines[i + 1 : i + 5]]
        return sum(1 for ln in following if _HEADER_NEXT.match(ln)) >= 2
    if _QUOTE_OPEN.match(bare) and i + 1 < len(lines):
        nxt = lines[i + 1].rstrip("\r\n")
        return bool(_QUOTE_CLOSE.match(nxt)) and (
            bare.lstrip().startswith("在") == ("写道" in nxt)
        )
    return False


def _next_nonblank(lines: list[str], i: int) -> str | None:
    for ln in lines[i + 1 : i + 4]:
        if ln.strip():
            return ln.rstrip("\r\n")
    return None


def find_closing(new_text: str, sender_name: str = "") -> int:
    """Offset where the closing begins (``len(new_text)`` when there is none)."""
    end = len(new_text.rstrip())
    if end == 0:
        return len(new_text)
    # Lines of the tail, newest last: (start offset, text)
    spans: list[tuple[int, str]] = []
    pos = end
    while pos > 0 and len(spans) < 40:
        start = new_text.rfind("\n", 0, pos) + 1
        spans.append((start, new_text[start:pos]))
        pos = start - 1
    spans.reverse()
    # A "-- " signature separator among the last lines starts the closing.
    for start, line in spans[-(MAX_CLOSING_LINES + 1) :]:
        if line.strip() in {"--", "-- ", "—", "——"}:
            return start
    best = len(new_text)
    count = 0
    block: list[tuple[int, str]] = []
    for start, line in reversed(spans):
        text = line.strip()
        if not text:
            if block and _looks_like_closing(block, sender_name):
                best = block[-1][0]
                block = []
                continue
            break
        if len(text) > MAX_CLOSING_CHARS or _LIST_ITEM.match(text) or count >= MAX_CLOSING_LINES:
            break
        if text.endswith(("：", ":")) and not _CLOSING_WORDS.search(text):
            break
        block.append((start, text))
        count += 1
    if block and _looks_like_closing(block, sender_name):
        best = block[-1][0]
    return best


def _looks_like_closing(block: list[tuple[int, str]], sender_name: str) -> bool:
    texts = [t for _, t in block]
    if any(_CLOSING_WORDS.search(t) for t in texts):
        return True
    if sender_name and any(sender_name in t for t in texts):
        return True
    # Short name/department lines without sentence punctuation.
    return len(texts) <= 3 and all(len(t) <= 20 and not _SENTENCE_PUNCT.search(t) for t in texts)
