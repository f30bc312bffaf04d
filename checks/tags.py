"""The subject's leading 【TAG】: the one place that reads it, for every check that needs it.

People type the tag in other brackets or with blanks — ``[TAG]`` ``〔TAG〕`` ``〖TAG〗``
``［TAG］`` ``【 TAG 】`` — and all of them are read here as a tag; whether the form is the
canonical ``【TAG】`` is for ``subject-tag`` to judge. Reply/forward prefixes are already
measured by the parser (``msg.topic_start``), so tags are read from there on and every offset
is an offset in ``msg.subject``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from mailgate.model import Message

# An opening bracket, at most 24 characters with no bracket of either kind, a closing bracket.
_BRACKET_TAG = re.compile(r"[ \t\u3000]*([\[［〔〖【])([^\[\]［］〔〕〖〗【】\r\n]{0,24})([\]］〕〗】])")
_BLANKS = re.compile(r"[\s\u3000]+")


def strip_blanks(text: str) -> str:
    """``text`` without any whitespace (ASCII, ideographic, line breaks)."""
    return _BLANKS.sub("", text)


def fold(text: str) -> str:
    """``text`` for comparison: whitespace removed, casefolded."""
    return strip_blanks(text).casefold()


@dataclass(frozen=True, slots=True)
class SubjectTag:
    """A bracketed tag in the subject.

    ``start``/``end`` are offsets in ``msg.subject`` of the whole bracket group, blanks before it
    included (what a rewrite replaces); ``bracket_start`` is the offset of its opening bracket
    (where the tag itself begins). ``name`` is the text inside, blanks removed.
    """

    start: int
    end: int
    name: str
    canonical: bool  # written exactly as 【name】 with nothing before it
    bracket_start: int


def tag_at(subject: str, pos: int) -> SubjectTag | None:
    """The tag written at ``pos`` (blanks before it allowed); None when there is none or it is empty."""
    m = _BRACKET_TAG.match(subject, pos)
    if m is None:
        return None
    name = strip_blanks(m.group(2))
    if not name:
        return None
    return SubjectTag(m.start(), m.end(), name, m.group(0) == f"【{name}】", m.start(1))


def leading_tags(msg: Message, limit: int | None = None) -> tuple[list[SubjectTag], int]:
    """The tags that begin the subject (after reply prefixes), at most ``limit`` of them, and
    where the text after them starts (blanks skipped)."""
    subject = msg.subject
    tags: list[SubjectTag] = []
    pos = msg.topic_start
    while limit is None or len(tags) < limit:
        tag = tag_at(subject, pos)
        if tag is None:
            break
        tags.append(tag)
        pos = tag.end
    while pos < len(subject) and subject[pos].isspace():
        pos += 1
    return tags, pos


def subject_tag(msg: Message) -> SubjectTag | None:
    """The tag the subject carries: the bracketed tag that begins it (after reply prefixes)."""
    return tag_at(msg.subject, msg.topic_start)


def tag_in(
    msg: Message, names: Collection[str], *, contains: bool = False, limit: int | None = None
) -> SubjectTag | None:
    """The first leading tag named one of ``names`` (or, with ``contains``, holding one of them)."""
    for tag in leading_tags(msg, limit)[0]:
        if tag.name in names or (contains and any(n and n in tag.name for n in names)):
            return tag
    return None


def topic_span(msg: Message) -> tuple[int, int]:
    """Offsets in ``msg.subject`` of the topic: after every leading tag, else the whole base,
    blanks trimmed."""
    start = leading_tags(msg)[1]
    end = len(msg.subject)
    while end > start and msg.subject[end - 1].isspace():
        end -= 1
    return start, end
