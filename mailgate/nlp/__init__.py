"""Chinese NLP for the checks: a spaCy pipeline built offline on ``spacy.blank("zh")``.

Interface used by checks (through ``ctx.nlp``):

- :func:`analyze` (text, policy) -> :class:`Analysis`, run at most once per message (the
  context memoizes it) and only when a check asks for it.
- :meth:`Analysis.find` (lexicon) -> token-level matches, each with category and offsets:
  ``可能`` matches the token 可能, never the inside of 可能性.
- :attr:`Analysis.tokens` (text, start, end, tag, pos), :attr:`Analysis.sentences` (spans),
  :meth:`Analysis.is_boundary` (is an offset between two tokens), :attr:`Analysis.doc`.

Long texts are cut into chunks of at most :data:`MAX_CHUNK` characters (at a sentence end when
there is one), each its own spaCy ``Doc``; offsets are always into the whole analysed text.
Segmentation, the user dictionary and the tokenizer live in :mod:`mailgate.nlp.pipeline`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from mailgate.nlp.pipeline import SENT_END, Chunk, Pipeline, get_pipeline, pos_of

if TYPE_CHECKING:
    from spacy.tokens import Doc

    from mailgate.policy import Policy

MAX_CHUNK = 4000  # characters per Doc; bounds jieba's and spaCy's working memory
KEEP_DOCS_CHARS = 50_000  # longer texts build each chunk's Doc per find() and drop it
_SENTENCE = re.compile(r"[^。！？!?；\n]*[。！？!?；\n]+|[^。！？!?；\n]+")
_SOFT_BREAKS = ("，", ",", "、", " ", "\t", "：", ":")


@dataclass(frozen=True, slots=True)
class Match:
    category: str
    word: str
    start: int  # character offsets into the analysed text
    end: int


class Token(NamedTuple):
    text: str
    start: int
    end: int
    tag: str  # jieba tag (n v m x eng …)
    pos: str  # Universal POS mapped from the tag


@dataclass
class Analysis:
    text: str
    chunks: list[Chunk] = field(default_factory=list)
    pipeline: Pipeline | None = None
    _tokens: list[Token] | None = field(default=None, repr=False)
    _sentences: list[tuple[int, int]] | None = field(default=None, repr=False)
    _starts: list[int] | None = field(default=None, repr=False)
    _doc: Doc | None = field(default=None, repr=False)

    def find(
        self, lexicon: Mapping[str, tuple[str, ...]], *, overlapping: bool = False, limit: int | None = None
    ) -> list[Match]:
        """Token-level occurrences of the lexicon's words, left to right.

        Matching is case-insensitive (``ASAP`` = ``asap``) and on whole tokens. Unless
        ``overlapping``, a match inside or across an earlier, longer one is dropped
        (leftmost-longest). With ``limit``, at least the first ``limit`` matches are returned
        and the scan stops soon after (chunks already matched are not cut short).
        """
        if self.pipeline is None or not self.chunks or not lexicon:
            return []
        pipe = self.pipeline
        matcher = pipe.matcher(lexicon)
        strings = pipe.vocab.strings
        keep = len(self.text) <= KEEP_DOCS_CHARS
        probes = _probes(lexicon) if not keep else ()
        out: list[Match] = []
        for chunk in self.chunks:
            if probes:  # a long text: skip chunks where no word occurs at all
                low = chunk.text.lower()
                if not any(p in low for p in probes):
                    continue
            doc = pipe.match_doc(chunk)
            if keep:
                chunk.doc = doc
            with pipe.spacy_lock:
                hits = matcher(doc)
            for match_id, s, e in hits:
                start = chunk.starts[s]
                end = chunk.starts[e - 1] + len(chunk.words[e - 1])
                out.append(Match(strings[match_id], self.text[start:end], start, end))
            if limit is not None and len(out) >= limit:
                break  # chunks are in text order: later chunks only hold later matches
        out.sort(key=lambda m: (m.start, -m.end, m.category))
        if overlapping:
            return out
        kept: list[Match] = []
        last_end = -1
        for m in out:
            if m.start >= last_end:
                kept.append(m)
                last_end = m.end
        return kept

    @property
    def tokens(self) -> list[Token]:
        """Every token (whitespace included), with absolute offsets, jieba tag and UPOS."""
        if self._tokens is None:
            cache: dict[str, str] = {}

            def upos(t: str, w: str) -> str:
                key = t if t != "x" else "x:" + w
                found = cache.get(key)
                if found is None:
                    found = cache[key] = pos_of(t, w)
                return found

            toks: list[Token] = []
            make = Token._make
            for chunk in self.chunks:
                tags = self.pipeline.tags_of(chunk) if self.pipeline else ["x"] * len(chunk.words)
                toks.extend(
                    make((w, s, s + len(w), t, cache.get(t) or upos(t, w)))
                    for w, t, s in zip(chunk.words, tags, chunk.starts, strict=True)
                )
            self._tokens = toks
        return self._tokens

    @property
    def sentences(self) -> list[tuple[int, int]]:
        """Sentence spans (whitespace trimmed): a sentence ends after 。！？!?； or a line break."""
        if self._sentences is None:
            spans: list[tuple[int, int]] = []
            text = self.text
            for m in _SENTENCE.finditer(text):
                s, e = m.start(), m.end()
                while s < e and text[s].isspace():
                    s += 1
                while e > s and text[e - 1].isspace():
                    e -= 1
                if e > s:
                    spans.append((s, e))
            self._sentences = spans
        return self._sentences

    def sentence_at(self, offset: int) -> tuple[int, int] | None:
        """The sentence span holding ``offset``, if any."""
        spans = self.sentences
        i = bisect.bisect_right(spans, (offset, len(self.text) + 1)) - 1
        if i >= 0 and spans[i][0] <= offset < spans[i][1]:
            return spans[i]
        return None

    def is_boundary(self, offset: int) -> bool:
        """True when ``offset`` is the start or end of the text or falls between two tokens."""
        if offset <= 0 or offset >= len(self.text):
            return True
        if self._starts is None:
            if len(self.chunks) == 1:
                self._starts = self.chunks[0].starts
            else:
                self._starts = [s for c in self.chunks for s in c.starts]
        i = bisect.bisect_left(self._starts, offset)
        return i < len(self._starts) and self._starts[i] == offset

    @property
    def doc(self) -> Doc | None:
        """The whole text as one spaCy Doc (the chunks joined; built on first use)."""
        if self._doc is None and self.chunks and self.pipeline is not None:
            docs = [self.pipeline.tagged_doc(c) for c in self.chunks]
            if len(docs) == 1:
                self._doc = docs[0]
            else:
                from spacy.tokens import Doc

                self._doc = Doc.from_docs(docs, ensure_whitespace=False)
        return self._doc


def _probes(lexicon: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Lower-cased lexicon words, for a quick substring pre-filter over long texts."""
    return tuple({w.strip().lower() for words in lexicon.values() for w in words if w.strip()})


def chunk_spans(text: str, limit: int = MAX_CHUNK) -> Iterator[tuple[int, int]]:
    """Cut ``text`` into spans of at most ``limit`` characters, preferably after a sentence end."""
    n = len(text)
    start = 0
    while start < n:
        end = min(n, start + limit)
        if end < n:
            lo = start + limit // 2
            cut = max(text.rfind(c, lo, end) for c in SENT_END)
            if cut < 0:
                cut = max(text.rfind(c, lo, end) for c in _SOFT_BREAKS)
            if cut >= 0:
                end = cut + 1
        yield start, end
        start = end


def analyze(text: str, policy: Policy) -> Analysis:
    """Tokenize, tag and sentence-split ``text`` with the pipeline for ``policy``'s dictionary."""
    if not text or text.isspace():
        return Analysis(text)
    pipe = get_pipeline(policy.lexicons, policy.directory)
    chunks = [pipe.segment(text[a:b], a) for a, b in chunk_spans(text)]
    return Analysis(text, chunks, pipe)
