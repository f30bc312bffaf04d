"""Chinese NLP for the checks: a spaCy pipeline built offline on ``spacy.blank("zh")``.

Interface used by checks (through ``ctx.nlp``):

- :func:`analyze` (text, policy) -> :class:`Analysis`, run at most once per message.
- :meth:`Analysis.find` (lexicon) -> token-level matches, each with category and offsets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailgate.policy import Policy


@dataclass(frozen=True, slots=True)
class Match:
    category: str
    word: str
    start: int  # character offsets into the analysed text
    end: int


@dataclass
class Analysis:
    text: str

    def find(self, lexicon: Mapping[str, tuple[str, ...]]) -> list[Match]:
        raise NotImplementedError("the NLP pipeline is being built")


def analyze(text: str, policy: Policy) -> Analysis:
    return Analysis(text)
