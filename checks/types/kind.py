"""The message type a subject announces: a 【TAG】 naming the type, else a word of the topic.

The tags themselves are read by ``checks.tags`` (every bracket form, blanks inside); this
module only decides which tag or topic word marks the message as a type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from checks.tags import SubjectTag, leading_tags, tag_in
from mailgate.model import Message

LEXICON = "types"  # checks/data/types.toml: the labels, words and markers of this family
MAX_TAGS = 5  # leading tags read from a subject


@dataclass(frozen=True, slots=True)
class TypeMarker:
    """Where the subject says what kind of message this is (offsets in ``msg.subject``)."""

    start: int
    end: int
    text: str  # the tag name, or the topic word


def _marker(tag: SubjectTag) -> TypeMarker:
    return TypeMarker(tag.bracket_start, tag.end, tag.name)


def topic_start(msg: Message) -> int:
    """Where the subject's topic starts: after its leading tags and blanks."""
    return leading_tags(msg, MAX_TAGS)[1]


def type_marker(msg: Message, words: Sequence[str], other_words: Sequence[str]) -> TypeMarker | None:
    """The tag holding one of ``words``, else a topic word; a tag of the other type wins."""
    tags, start = leading_tags(msg, MAX_TAGS)
    for tag in tags:
        if any(w and w in tag.name for w in words):
            return _marker(tag)
    if any(w and w in tag.name for tag in tags for w in other_words):
        return None
    topic = msg.subject[start:]
    hits = [(i, w) for w in words if w and (i := topic.find(w)) >= 0]
    if not hits:
        return None
    i, w = min(hits)
    return TypeMarker(start + i, start + i + len(w), w)


def tagged(msg: Message, tags: Sequence[str], *, contains: bool = False) -> TypeMarker | None:
    """The subject's leading tag named one of ``tags`` (or containing one, with ``contains``)."""
    tag = tag_in(msg, tags, contains=contains, limit=MAX_TAGS)
    return _marker(tag) if tag is not None else None
