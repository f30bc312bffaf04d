"""Text from HTML with an offset map back into the HTML source.

One linear scan: tags become line breaks where they are block-level, the
contents of ``script``/``style``/``head`` are dropped, entities are decoded.
``offsets[i]`` is the index in the HTML of text character ``i`` so that a
fix found in the text can be applied to the HTML part too.
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass

_BLOCK = frozenset(
    ["p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr", "section", "article", "header", "footer", "dt", "dd", "title", "address"]
)
_SKIP = frozenset({"script", "style", "head", "title", "xml"})
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)[^>]{0,10000}>|<!--.*?-->|<![^>]{0,10000}>", re.S)
_ENTITY = re.compile(r"&(#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[a-zA-Z][a-zA-Z0-9]{1,31};?)")
_WS = re.compile(r"[ \t\r\n\f\v]+")


@dataclass(frozen=True, slots=True)
class HtmlText:
    text: str
    offsets: tuple[int, ...]  # len(text) + 1 entries; the last is len(html)


def html_to_text(source: str) -> HtmlText:
    out: list[str] = []
    offs: list[int] = []
    skip_until: str | None = None
    pos = 0
    pre = False

    def emit_text(segment: str, base: int) -> None:
        # Collapse whitespace like a browser, keep offsets of the characters we keep.
        i = 0
        n = len(segment)
        while i < n:
            c = segment[i]
            if c == "&":
                m = _ENTITY.match(segment, i)
                if m:
                    decoded = htmllib.unescape(m.group(0))
                    for ch in decoded:
                        _put(" " if ch == "\xa0" else ch, base + i)
                    i = m.end()
                    continue
            if c in " \t\r\n\f\v" and not pre:
                j = i
                while j < n and segment[j] in " \t\r\n\f\v":
                    j += 1
                if out and out[-1] not in " \n":
                    _put(" ", base + i)
                i = j
                continue
            _put(c, base + i)
            i += 1

    def _put(ch: str, at: int) -> None:
        out.append(ch)
        offs.append(at)

    def newline(at: int, force: bool) -> None:
        while out and out[-1] == " ":
            out.pop()
            offs.pop()
        if force or (out and out[-1] != "\n"):
            _put("\n", at)

    for m in _TAG.finditer(source):
        if skip_until is None and m.start() > pos:
            emit_text(source[pos : m.start()], pos)
        pos = m.end()
        name = (m.group(2) or "").lower()
        closing = m.group(1) == "/"
        if skip_until is not None:
            if closing and name == skip_until:
                skip_until = None
            continue
        if not name:
            continue
        if name in _SKIP and not closing and not m.group(0).endswith("/>"):
            skip_until = name
            continue
        if name == "pre":
            pre = not closing
        if name == "br":
            newline(m.start(), True)
        elif name in _BLOCK:
            newline(m.start(), False)
    if skip_until is None and pos < len(source):
        emit_text(source[pos:], pos)
    text = "".join(out)
    offs.append(len(source))
    return HtmlText(text, tuple(offs))
