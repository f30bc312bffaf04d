"""Byte ranges of MIME parts inside the raw message, for surgical rewrites.

``locate(raw)`` returns the header block of the message and, for every leaf
part reached through ``multipart/*`` containers, its path (child indexes),
the byte range of its header block and of its body. A rewrite then replaces
exactly those bytes and leaves every other byte of the message identical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_BOUNDARY = re.compile(rb"""boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))""", re.I)
_CTYPE = re.compile(rb"^content-type:[ \t]*([^;\r\n]*)((?:[^\r\n]|\r?\n[ \t])*)", re.I | re.M)
MAX_DEPTH = 30


@dataclass(frozen=True, slots=True)
class Span:
    path: tuple[int, ...]
    header_start: int
    header_end: int  # end of the header block (before the blank line)
    body_start: int
    body_end: int


def split_headers(raw: bytes, start: int, end: int) -> tuple[int, int]:
    """(header_end, body_start) of the entity in ``raw[start:end]``."""
    if raw.startswith((b"\r\n", b"\n"), start):  # no headers at all
        return start, start + (2 if raw.startswith(b"\r\n", start) else 1)
    m = _HEADER_END.search(raw, start, end)
    if not m:
        return end, end
    return m.start(), m.end()


def _content_type(header: bytes) -> tuple[bytes, bytes | None]:
    m = _CTYPE.search(header)
    if not m:
        return b"text/plain", None
    ctype = m.group(1).strip().lower()
    b = _BOUNDARY.search(m.group(2))
    boundary = (b.group(1) or b.group(2)) if b else None
    return ctype, boundary


def locate(raw: bytes) -> list[Span]:
    out: list[Span] = []
    _walk(raw, 0, len(raw), (), out, 0)
    return out


def _walk(raw: bytes, start: int, end: int, path: tuple[int, ...], out: list[Span], depth: int) -> None:
    header_end, body_start = split_headers(raw, start, end)
    ctype, boundary = _content_type(raw[start:header_end])
    if ctype.startswith(b"multipart/") and boundary and depth < MAX_DEPTH:
        delim = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?=\r?\n|$)", re.M)
        marks = [m for m in delim.finditer(raw, body_start, end)]
        children: list[tuple[int, int]] = []
        for i, m in enumerate(marks):
            if m.group(1):  # closing delimiter
                break
            child_start = m.end()
            if raw.startswith(b"\r\n", child_start):
                child_start += 2
            elif raw.startswith(b"\n", child_start):
                child_start += 1
            child_end = marks[i + 1].start() if i + 1 < len(marks) else end
            children.append((child_start, child_end))
        for idx, (cs, ce) in enumerate(children):
            _walk(raw, cs, ce, (*path, idx), out, depth + 1)
        return
    out.append(Span(path, start, header_end, body_start, end))
