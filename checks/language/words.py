"""Word lookups shared by the language checks: many-word search, per-lexicon caches, excerpts."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from itertools import islice
from typing import Any, TypeVar, cast

from checks.language.spans import occurrences
from mailgate.nlp import Match


@lru_cache(maxsize=4)
def lowered(text: str) -> str:
    return text.lower()


def excerpt(text: str, start: int, end: int, width: int = 12) -> str:
    a = max(0, start - width)
    b = min(len(text), end + width)
    out = text[a:b].replace("\n", " ").strip()
    return ("…" if a > 0 else "") + out + ("…" if b < len(text) else "")


class WordSearch:
    """Substring search for many words at once: CJK words by first character, ASCII words as whole words.

    Built once per lexicon (see :func:`by_identity`); a text is scanned with one ``str.find``
    loop per word whose first character occurs in it, so the cost tracks the words present.
    """

    def __init__(self, words: Mapping[str, tuple[str, ...]]) -> None:
        self.by_first: dict[str, list[tuple[str, str]]] = {}
        ascii_cat: dict[str, str] = {}
        for cat, ws in words.items():
            for w in ws:
                w = w.strip()
                if not w:
                    continue
                if w.isascii():
                    ascii_cat.setdefault(w.lower(), cat)
                else:
                    self.by_first.setdefault(w[0], []).append((w, cat))
        self.ascii_cat = ascii_cat
        alt = "|".join(re.escape(w) for w in sorted(ascii_cat, key=len, reverse=True))
        self.ascii_rx = re.compile(rf"(?<![A-Za-z0-9_])(?:{alt})(?![A-Za-z0-9_])", re.I) if alt else None

    def find(self, text: str, limit: int = 100_000, present: set[str] | None = None) -> list[Match]:
        """Occurrences (overlapping, unsorted); at most the first ``limit`` of each word.

        ``present`` (the set of the text's characters, if the caller has it) skips words whose
        first character does not occur.
        """
        out: list[Match] = []
        if self.by_first:
            if present is None and len(text) < 200_000:
                present = set(text)
            for first, entries in self.by_first.items():
                if present is not None and first not in present:
                    continue
                for w, cat in entries:
                    out.extend(Match(cat, w, i, i + len(w)) for i in islice(occurrences(text, w), limit))
        if self.ascii_rx is not None:
            low = lowered(text)
            if any(w in low for w in self.ascii_cat):
                for m in islice(self.ascii_rx.finditer(text), limit):
                    out.append(Match(self.ascii_cat.get(m.group(0).lower(), ""), m.group(0), m.start(), m.end()))
        return out


T = TypeVar("T")


def by_identity(store: dict[int, tuple[object, Any]], key: object, build: Callable[[], T]) -> T:
    """``build()`` once per ``key`` object (lexicon mappings live as long as their policy)."""
    hit = store.get(id(key))
    if hit is not None and hit[0] is key:
        return cast(T, hit[1])
    if len(store) > 32:
        store.clear()
    value = build()
    store[id(key)] = (key, value)
    return value
