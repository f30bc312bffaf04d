"""Text from HTML with an offset map back into the HTML source.

One linear scan with ``str.find`` (no regex that can run away on a
megabyte of ``<`` or an unterminated comment): block-level tags and ``<br>``
become line breaks, an empty paragraph holding only ``&nbsp;`` (Outlook's
blank line) becomes a blank line, the contents of ``script``/``style``/
``head``/``title`` are dropped, entities are decoded, runs of HTML
whitespace collapse to one space outside ``<pre>``.

``offsets[i]`` is the index in the HTML of text character ``i`` (one more
entry, ``len(html)``, at the end), so that a fix found in the text can be
applied to the HTML part too.
"""

from __future__ import annotations

import html as htmllib
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["HtmlText", "html_to_text"]

_BLOCK = frozenset(
    {
        *("p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6"),
        *("blockquote", "pre", "hr", "section", "article", "header", "footer", "dt", "dd", "dl"),
        *("address", "center", "form", "fieldset", "nav", "aside", "main", "figure", "figcaption"),
        *("caption", "tbody", "thead", "tfoot"),
    }
)
_SKIP = frozenset({"script", "style", "head", "title", "xml", "template", "noscript"})
_TAG_NAME = re.compile(r"</?([a-zA-Z][a-zA-Z0-9:-]{0,40})")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[a-zA-Z][a-zA-Z0-9]{1,31};?)")
_TEXT_TOKEN = re.compile(r"[^&\xa0 \t\r\n\f\v]+|[ \t\r\n\f\v]+|\xa0|&")
_HTML_WS = " \t\r\n\f\v"
_ENTITY_CACHE: dict[str, str] = {}
# Where a skipped element ends (case-insensitive search: ``str.lower`` can change offsets).
_SKIP_END = {name: re.compile(rf"</{name}\b", re.I) for name in _SKIP}
_BODY_START = re.compile(r"<body\b", re.I)


@dataclass(frozen=True, slots=True)
class HtmlText:
    text: str
    offsets: Sequence[int]  # len(text) + 1 entries; the last is len(html)


class _Builder:
    """Accumulates text chunks and their source offsets; tracks the current line."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.offs = array("q")
        self.last = "\n"  # last character emitted ("\n" at the start: no leading blank)
        self.content = False  # the current line has visible text
        self.nbsp = False  # the current line had a non-breaking space
        self.trailing_space = False  # the last chunk is one collapsible space

    def run(self, text: str, at: int) -> None:
        self.chunks.append(text)
        self.offs.extend(range(at, at + len(text)))
        self.last = text[-1]
        self.content = True
        self.trailing_space = False

    def char(self, ch: str, at: int) -> None:
        self.chunks.append(ch)
        self.offs.append(at)
        self.last = ch
        self.content = True
        self.trailing_space = False

    def space(self, at: int, nbsp: bool = False) -> None:
        if nbsp:
            self.nbsp = True
        if self.last in " \n":
            return
        self.chunks.append(" ")
        self.offs.append(at)
        self.last = " "
        self.trailing_space = True

    def newline(self, at: int, force: bool) -> None:
        if self.trailing_space:
            self.chunks.pop()
            self.offs.pop()
            self.trailing_space = False
            self.last = self.chunks[-1][-1] if self.chunks else "\n"
        if not self.content and self.nbsp:
            force = True  # <p>&nbsp;</p>: a blank line
        if force or self.last != "\n":
            self.chunks.append("\n")
            self.offs.append(at)
            self.last = "\n"
        self.content = False
        self.nbsp = False


def _emit_text(b: _Builder, source: str, start: int, end: int, pre: bool) -> None:
    pos = start
    while pos < end:
        m = _TEXT_TOKEN.match(source, pos, end)
        if m is None:  # unreachable: the token pattern matches any character
            b.char(source[pos], pos)
            pos += 1
            continue
        tok = m.group(0)
        c = tok[0]
        if c == "&":
            em = _ENTITY.match(source, pos, end)
            if em is None:
                b.char("&", pos)
                pos += 1
                continue
            raw = em.group(0)
            decoded = _ENTITY_CACHE.get(raw)
            if decoded is None:
                decoded = htmllib.unescape(raw)
                if len(_ENTITY_CACHE) < 4096:
                    _ENTITY_CACHE[raw] = decoded
            if decoded == raw:
                b.run(raw, pos)
            else:
                for ch in decoded:
                    if ch == "\xa0":
                        b.space(pos, nbsp=True)
                    else:
                        b.char(ch, pos)
            pos = em.end()
            continue
        if c == "\xa0":
            b.space(pos, nbsp=True)
        elif c in _HTML_WS:
            if pre:
                for k, ch in enumerate(tok):
                    if ch == "\n":
                        b.newline(pos + k, True)
                    elif ch != "\r":
                        b.char(" ", pos + k)
            else:
                b.space(pos)
        else:
            b.run(tok, pos)
        pos = m.end()


def _next_match(memo: dict[str, int], key: str, pattern: re.Pattern[str], source: str, i: int) -> int:
    """Start of the next match of ``pattern`` at or after ``i`` (-1: none), remembered per key.

    Without the memo a page of ten thousand unclosed ``<script>`` tags would be
    searched to its end ten thousand times.
    """
    known = memo.get(key)
    if known is not None and (known < 0 or known >= i):
        return known
    m = pattern.search(source, i)
    memo[key] = m.start() if m else -1
    return memo[key]


def html_to_text(source: str) -> HtmlText:
    b = _Builder()
    n = len(source)
    i = 0
    pre = False
    found: dict[str, int] = {}  # memo of _next_match: each pattern scans the source at most once
    while i < n:
        lt = source.find("<", i)
        if lt < 0:
            _emit_text(b, source, i, n, pre)
            break
        if lt > i:
            _emit_text(b, source, i, lt, pre)
        if source.startswith("<!--", lt):
            end = source.find("-->", lt + 4)
            i = n if end < 0 else end + 3
            continue
        nxt = source[lt + 1 : lt + 2]
        if not (nxt.isascii() and (nxt.isalpha() or nxt in "/!?")):
            b.char("<", lt)
            i = lt + 1
            continue
        gt = source.find(">", lt + 1)
        if gt < 0:  # no tag can close any more: the rest is text
            _emit_text(b, source, lt, n, pre)
            break
        i = gt + 1
        m = _TAG_NAME.match(source, lt, gt)
        if m is None:  # <!DOCTYPE …>, <?xml …?>
            continue
        name = m.group(1).lower()
        closing = source[lt + 1] == "/"
        if name in _SKIP and not closing and source[gt - 1] != "/":
            end = _next_match(found, name, _SKIP_END[name], source, i)
            if name == "head":  # a missing </head> ends at <body>, as in a browser
                body = _next_match(found, "<body", _BODY_START, source, i)
                if body >= 0 and (end < 0 or body < end):
                    i = body
                    continue
            if end >= 0:
                close = source.find(">", end)
                i = n if close < 0 else close + 1
            continue
        if name == "pre":
            pre = not closing
        if name == "br":
            b.newline(lt, True)
        elif name in _BLOCK:
            b.newline(lt, False)
    text = "".join(b.chunks)
    b.offs.append(n)
    return HtmlText(text, b.offs)
