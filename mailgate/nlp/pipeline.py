"""The spaCy pipeline: ``spacy.blank("zh")`` with a jieba (rjieba) tokenizer, built offline.

One :class:`Pipeline` per user dictionary (the policy's lexicon words and the directory's
names): building one loads the jieba dictionary (~0.3 s, ~70 MB), so :func:`get_pipeline` keeps
the last few, keyed by the dictionary contents; an admin changing a lexicon gets a new one.

The tokenizer is the only component. It sets, per token, the jieba tag (``tag_``), a Universal
POS (``pos_``) mapped from it, and sentence starts (a sentence ends after ``。！？!?；`` or a line
break), all through one ``Doc.from_array`` call: no per-token Python attribute writes.

User dictionary control:

- every lexicon word and directory name written in CJK only becomes a jieba word (``add_word`` at the
  frequency jieba suggests), so a phrase such as ``相关部门`` or a name such as ``胡佳怡`` is one
  token;
- a dictionary word made of a lexicon word (2+ characters) plus one attachable character (a
  locative or a measure word: ``近期内`` ``好几个`` ``若干个``) is given frequency 0, so it splits
  into the lexicon word and the suffix; a word with a derivational suffix (``可能性``) is left
  alone, so ``可能`` does not match inside it.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import rjieba

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.matcher import PhraseMatcher
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

# A sentence ends after one of these (runs of them stay together).
SENT_END = frozenset("。！？!?；\n")
# Characters that attach to a word without changing its meaning: locatives and measure words.
# ``近期内`` -> 近期 + 内, ``好几个`` -> 好几 + 个; never 性/化/率 (``可能性`` stays one word),
# never particles (``不得了`` is its own word). Only lexicon words of 2+ characters are split off.
SPLIT_SUFFIXES = "内前后里中时个次位名项天"
# jieba tag initials of tokens that may give characters to a lexicon word cut across two tokens:
# numerals and measures (m q: 几次), locatives (f: 以内), particles and function words (u p c y e o x).
_FUNCTION_TAGS = frozenset("mqfupcyeox")
VOCAB_LIMIT = 300_000  # lexemes before the spaCy vocabulary is started afresh

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_ALL_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff·]+")

# jieba (ICTCLAS) tag -> Universal POS. Unknown tags fall back on their first letter; see pos_of.
_POS_BY_TAG = {
    "a": "ADJ", "ad": "ADV", "an": "NOUN", "ag": "ADJ", "b": "ADJ", "c": "CCONJ",
    "d": "ADV", "df": "ADV", "dg": "ADV", "e": "INTJ", "eng": "X", "f": "NOUN",
    "g": "X", "h": "X", "i": "X", "j": "PROPN", "k": "PART", "l": "X", "m": "NUM",
    "mq": "NUM", "n": "NOUN", "ng": "NOUN", "nr": "PROPN", "nrfg": "PROPN", "nrt": "PROPN",
    "ns": "PROPN", "nt": "PROPN", "nz": "PROPN", "o": "INTJ", "p": "ADP", "q": "NOUN",
    "r": "PRON", "rg": "PRON", "rr": "PRON", "rz": "PRON", "s": "NOUN", "t": "NOUN",
    "tg": "NOUN", "u": "PART", "ud": "PART", "ug": "PART", "uj": "PART", "ul": "PART",
    "uv": "PART", "uz": "PART", "v": "VERB", "vd": "VERB", "vg": "VERB", "vi": "VERB",
    "vn": "NOUN", "vq": "VERB", "x": "X", "y": "PART", "z": "ADJ", "zg": "ADJ",
}


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def pos_of(tag: str, word: str) -> str:
    """The Universal POS of a jieba tag (``x`` split into SPACE, PUNCT and X by the word)."""
    pos = _POS_BY_TAG.get(tag) or (_POS_BY_TAG.get(tag[:1], "X") if tag else "X")
    if pos == "X" and tag == "x":
        if word.isspace():
            return "SPACE"
        if not word.isalnum():
            return "PUNCT"
    return pos


@dataclass(slots=True)
class Chunk:
    """One segmented piece of the analysed text; Docs and tags are built on demand."""

    offset: int  # character offset of the chunk in the analysed text
    text: str
    words: list[str]
    starts: list[int]  # absolute character offset of every token
    tags: list[str] | None = None
    doc: Doc | None = None  # words-only Doc for matching, kept for small texts


@dataclass
class Pipeline:
    """The spaCy ``Language`` with the jieba tokenizer, plus caches keyed by lexicon contents."""

    nlp: Language
    jieba: rjieba.Jieba
    lexicon: frozenset[str] = frozenset()  # CJK lexicon words known to the dictionary
    _prefixes: frozenset[str] = frozenset()
    _firsts: frozenset[str] = frozenset()
    _longest: int = 0
    _cuts: dict[str, int] = field(default_factory=dict)
    _marks: dict[str, bool] = field(default_factory=dict)
    _first_rx: re.Pattern[str] | None = None
    _tag_ids: dict[str, tuple[int, int]] = field(default_factory=dict)
    _matchers: OrderedDict[tuple[Any, ...], PhraseMatcher] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    spacy_lock: threading.RLock = field(default_factory=threading.RLock)  # spaCy's Vocab is not thread-safe

    def __post_init__(self) -> None:
        # Tokens worth a look: proper prefixes of a lexicon word (好 of 好几) and compounds that
        # start with one (酌情处理); the verdict per distinct token is cached in ``_marks``.
        self._prefixes = frozenset(w[:k] for w in self.lexicon for k in range(1, len(w)))
        self._firsts = frozenset(w[0] for w in self.lexicon if len(w) >= 2)
        self._longest = max((len(w) for w in self.lexicon), default=0)
        chars = "".join(sorted({w[0] for w in self.lexicon if w}))
        self._first_rx = re.compile(f"[{re.escape(chars)}]") if chars else None

    @property
    def vocab(self) -> Vocab:
        return self.nlp.vocab

    def _detachable(self, rest: str) -> bool:
        return (len(rest) == 1 and rest in SPLIT_SUFFIXES) or (len(rest) >= 2 and self.jieba.has_word(rest))

    def _compound_cut(self, w: str) -> int:
        """Where to split a compound token (0: keep it), longest lexicon word first; cached."""
        cut = self._cuts.get(w)
        if cut is None:
            cut = 0
            if len(w) >= 3:
                for k in range(min(len(w) - 1, self._longest), 1, -1):
                    if w[:k] in self.lexicon and self._detachable(w[k:]):
                        cut = k
                        break
            self._remember(w, cut)
        return cut

    def _function_word(self, w: str) -> bool:
        """A token that is no content word of its own: 几次 (m), 以内 (f), 的 (u) … but not 事项 (n).

        Only such a token may lend characters to a lexicon word ending in it (好 + 几次 -> 好几 + 次);
        a noun, verb or adjective keeps them (这个 + 事项 is not 这个事 + 项).
        """
        if not self.jieba.has_word(w):
            return True
        tags = self.jieba.tag(w)
        return len(tags) != 1 or tags[0][1][:1] in _FUNCTION_TAGS

    def _across_cut(self, both: str, first: int) -> int:
        """Where to re-cut two tokens ``both`` (the first ``first`` characters long) so a lexicon word ends."""
        key = f"{first}\x00{both}"
        cut = self._cuts.get(key)
        if cut is None:
            cut = 0
            if not self._function_word(both[first:]):
                self._remember(key, cut)
                return cut
            for k in range(min(len(both) - 1, self._longest), first, -1):
                if both[:k] in self.lexicon and self._detachable(both[k:]):
                    cut = k
                    break
            self._remember(key, cut)
        return cut

    def _remember(self, key: str, cut: int) -> None:
        if len(self._cuts) > 200_000:
            self._cuts.clear()
        self._cuts[key] = cut

    def _mark(self, w: str) -> bool:
        """Whether a token may need re-cutting: a compound holding a lexicon word, or a prefix of one."""
        if len(self._marks) > 200_000:
            self._marks.clear()
        if w in self.lexicon:
            return False
        return w in self._prefixes or (len(w) >= 3 and w[0] in self._firsts and self._compound_cut(w) > 0)

    def _resegment(self, words: list[str]) -> list[str]:
        """Bring lexicon words out of compounds jieba formed around them.

        A token that starts with a lexicon word followed by a word of its own (酌情处理 ->
        酌情 + 处理) or an attachable character is split; a lexicon word cut across two tokens
        (好 + 几次 -> 好几 + 次) is re-cut the same way. A token that is itself a lexicon word is
        never split, and neither is a derivation (可能性: 性 is not a detachable word).
        """
        lexicon = self.lexicon
        prefixes = self._prefixes
        marks = self._marks
        hot = set()
        for w in set(words):  # distinct tokens only; the verdict per token is cached
            mark = marks.get(w)
            if mark is None:
                mark = marks[w] = self._mark(w)
            if mark:
                hot.add(w)
        if not hot:
            return words
        todo = [i for i, w in enumerate(words) if w in hot]
        out: list[str] = []
        i, n = 0, len(words)
        for j in todo:
            if j < i:
                continue
            out.extend(words[i:j])
            i = j
            w = words[i]
            if w in lexicon:
                out.append(w)
                i += 1
                continue
            cut = self._compound_cut(w)
            if cut:
                out += (w[:cut], w[cut:])
                i += 1
                continue
            if w in prefixes and i + 1 < n and words[i + 1] not in lexicon:
                both = w + words[i + 1]
                cut = self._across_cut(both, len(w))
                if cut:
                    out += (both[:cut], both[cut:])
                    i += 2
                    continue
            out.append(w)
            i += 1
        out.extend(words[i:])
        return out

    def segment(self, text: str, offset: int = 0) -> Chunk:
        """Cut ``text`` into words (jieba, HMM on) with absolute offsets; nothing spaCy yet."""
        try:
            words = self.jieba.cut(text)
        except UnicodeEncodeError:  # lone surrogates from undecodable bytes: one-for-one stand-ins
            text = _SURROGATES.sub("\ufffd", text)
            words = self.jieba.cut(text)
        if "".join(words) != text:  # jieba dropped or changed something: realign on the text
            words = _realign(text, words)
        if self._first_rx is not None and self._first_rx.search(text):
            words = self._resegment(words)
        starts = list(accumulate(map(len, words), initial=offset))
        starts.pop()
        return Chunk(offset, text, words, starts)

    def tags_of(self, chunk: Chunk) -> list[str]:
        """jieba tags of the chunk's words (``tag`` segments exactly like ``cut``).

        Words the lexicon re-cut (see :meth:`_resegment`) are tagged on their own.
        """
        if chunk.tags is None:
            pairs = self.jieba.tag(chunk.text)
            if len(pairs) == len(chunk.words) and all(w == p[0] for w, p in zip(chunk.words, pairs, strict=True)):
                chunk.tags = [t for _, t in pairs]
            else:
                by_start: dict[int, tuple[str, str]] = {}
                pos = chunk.offset
                for w, t in pairs:
                    by_start[pos] = (w, t)
                    pos += len(w)
                tags = []
                for w, start in zip(chunk.words, chunk.starts, strict=True):
                    found = by_start.get(start)
                    if found is not None and found[0] == w:
                        tags.append(found[1])
                    else:
                        own = self.jieba.tag(w)
                        tags.append(own[0][1] if len(own) == 1 else (own[-1][1] if own else "x"))
                chunk.tags = tags
        return chunk.tags

    def match_doc(self, chunk: Chunk) -> Doc:
        """A words-only Doc: all the PhraseMatcher needs (no tags, no sentence starts)."""
        from spacy.tokens import Doc

        if chunk.doc is not None:
            return chunk.doc
        with self.spacy_lock:
            self._bound_vocab()
            return Doc(self.vocab, words=chunk.words, spaces=[False] * len(chunk.words))

    def _bound_vocab(self) -> None:
        """Start a fresh vocabulary once it holds :data:`VOCAB_LIMIT` words.

        Every distinct token (order numbers, names …) becomes a lexeme for good, so a relay
        that runs for months would otherwise grow without bound. Matchers are rebuilt lazily.
        """
        if len(self.nlp.vocab) < VOCAB_LIMIT:
            return
        import spacy

        nlp = spacy.blank("zh")
        nlp.tokenizer = self
        self.nlp = nlp
        self._tag_ids.clear()
        with self._lock:
            self._matchers.clear()

    def _ids(self, tag: str, word: str) -> tuple[int, int]:
        """(TAG string id, POS id) of a token; ``x`` tokens are keyed by their text."""
        key = tag if tag != "x" else "x:" + word
        ids = self._tag_ids.get(key)
        if ids is None:
            from spacy.parts_of_speech import IDS as POS_IDS

            ids = (self.vocab.strings.add(tag or "x"), POS_IDS[pos_of(tag, word)])
            if len(self._tag_ids) < 100_000:
                self._tag_ids[key] = ids
        return ids

    def tagged_doc(self, chunk: Chunk) -> Doc:
        """A Doc with ``tag_``, ``pos_`` and sentence starts, set in one ``from_array`` call."""
        from spacy.attrs import POS, SENT_START, TAG
        from spacy.tokens import Doc

        words = chunk.words
        tags = self.tags_of(chunk)
        n = len(words)
        with self.spacy_lock:
            self._bound_vocab()
            doc = Doc(self.vocab, words=words, spaces=[False] * n)
            if n:
                cache, ids = self._tag_ids, self._ids
                pairs = [cache.get(t if t != "x" else "x:" + w) or ids(t, w) for w, t in zip(words, tags, strict=True)]
                arr = np.empty((n, 3), dtype=np.uint64)
                arr[:, :2] = np.array(pairs, dtype=np.uint64)
                ends = np.fromiter((w[-1] in SENT_END or "\n" in w for w in words), dtype=bool, count=n)
                sent = np.full(n, -1, dtype=np.int64)
                sent[0] = 1
                sent[1:][ends[:-1]] = 1
                arr[:, 2] = sent.view(np.uint64)
                doc.from_array([TAG, POS, SENT_START], arr)  # type: ignore[arg-type]
        return doc

    def __call__(self, text: str) -> Doc:
        """The tokenizer protocol: ``nlp(text)`` and ``nlp.make_doc(text)`` land here."""
        return self.tagged_doc(self.segment(text))

    def matcher(self, lexicon: Mapping[str, tuple[str, ...]]) -> PhraseMatcher:
        """A PhraseMatcher (attr LOWER, so ``ASAP`` and ``asap`` match) for one lexicon, cached."""
        key = tuple(sorted((cat, tuple(words)) for cat, words in lexicon.items()))
        with self._lock:
            found = self._matchers.get(key)
            if found is not None:
                self._matchers.move_to_end(key)
                return found
        from spacy.matcher import PhraseMatcher
        from spacy.tokens import Doc

        with self.spacy_lock:
            m = PhraseMatcher(self.vocab, attr="LOWER")
            for cat, words in key:
                patterns = []
                for word in dict.fromkeys(w.strip() for w in words):
                    if word:
                        toks = self.segment(word).words  # the same cut as the texts get
                        patterns.append(Doc(self.vocab, words=toks, spaces=[False] * len(toks)))
                if patterns:
                    m.add(cat, patterns)
        with self._lock:
            self._matchers[key] = m
            while len(self._matchers) > 32:
                self._matchers.popitem(last=False)
        return m


def _realign(text: str, words: list[str]) -> list[str]:
    """Tokens that cover ``text`` exactly, when jieba's output does not concatenate to it."""
    out: list[str] = []
    pos = 0
    for w in words:
        at = text.find(w, pos) if w else -1
        if at < 0:
            continue
        if at > pos:
            out.append(text[pos:at])
        out.append(w)
        pos = at + len(w)
    if pos < len(text):
        out.append(text[pos:])
    return out


def build_pipeline(words: Iterable[str], names: Iterable[str] = ()) -> Pipeline:
    """A fresh pipeline whose jieba dictionary knows ``words`` (lexicons) and ``names`` (people)."""
    import spacy

    jb = rjieba.Jieba()
    lexicon = {w.strip() for w in words if w and _ALL_CJK.fullmatch(w.strip())}
    for name in sorted({n.strip() for n in names if n and _ALL_CJK.fullmatch(n.strip())}):
        if not jb.has_word(name):
            jb.add_word(name, None, "nr")
    for word in sorted(lexicon):
        if not jb.has_word(word):
            parts = jb.tag(word)
            jb.add_word(word, None, parts[-1][1] if parts and parts[-1][1] else "x")
    for word in sorted(w for w in lexicon if len(w) >= 2):
        for suffix in SPLIT_SUFFIXES:
            longer = word + suffix
            if longer not in lexicon and jb.has_word(longer):
                jb.add_word(longer, 0, None)
    nlp = spacy.blank("zh")
    pipe = Pipeline(nlp=nlp, jieba=jb, lexicon=frozenset(lexicon))
    nlp.tokenizer = pipe
    return pipe


_CACHE: OrderedDict[frozenset[str], Pipeline] = OrderedDict()
_CACHE_SIZE = 2
_BUILD_LOCK = threading.Lock()
_LAST: list[Any] = [None, None, None]  # (lexicons object, directory object, pipeline): identity fast path


def get_pipeline(lexicons: Mapping[str, Mapping[str, tuple[str, ...]]], names: Any) -> Pipeline:
    """The process-wide pipeline for this dictionary; ``names`` is a Directory or a list of names."""
    last_lex, last_names, last_pipe = _LAST
    if last_pipe is not None and last_lex is lexicons and last_names is names:
        return cast(Pipeline, last_pipe)
    name_list = names.names() if hasattr(names, "names") else list(names)
    words = {w for cats in lexicons.values() for ws in cats.values() for w in ws}
    key = frozenset({"w:" + w for w in words} | {"n:" + n for n in name_list})
    with _BUILD_LOCK:
        pipe = _CACHE.get(key)
        if pipe is None:
            pipe = build_pipeline(words, name_list)
            _CACHE[key] = pipe
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        else:
            _CACHE.move_to_end(key)
        _LAST[:] = [lexicons, names, pipe]
    return pipe
