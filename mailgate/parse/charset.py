"""Decode bytes under any charset label a (Chinese) mail client sends, deterministically.

Labels are normalised (quotes, a trailing ``;``, case, ``_``/``-``) and mapped
onto the widest compatible codec: gb2312/gbk → gb18030, big5 → big5hkscs,
us-ascii → utf-8 (8-bit bytes under an ASCII label are almost always UTF-8).
Only real text codecs are ever selected by a label (never ``rot13``, ``zip``,
``undefined``, ``idna`` …).

When the labelled codec fails, or is unknown, or decodes without error into
text no Chinese writer would produce (a Big5 body labelled GBK decodes into
rare characters, kana and private-use code points), the candidates UTF-8,
GB18030 and Big5-HKSCS are tried strictly and scored by the share of their
CJK characters that are common characters (GB2312 level 1 or Big5 common
set); the best plausible one wins. The outcome is recorded as a defect:

- ``unknown-charset:<label>`` — the label names no codec we accept;
- ``wrong-charset:<label>`` — the label's codec failed or gave implausible text;
- ``undecodable:<label>`` — nothing decoded strictly: replacement characters.

:func:`decode_bytes` never raises.
"""

from __future__ import annotations

import codecs
from functools import lru_cache

__all__ = ["codec_for", "decode_bytes", "normalize_label", "plausibility"]

_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "euc-cn": "gb18030",
    "euccn": "gb18030",
    "x-euc-cn": "gb18030",
    "csgb2312": "gb18030",
    "gb-2312": "gb18030",
    "gb-2312-80": "gb18030",
    "gb2312-80": "gb18030",
    "gb2312-1980": "gb18030",
    "iso-ir-58": "gb18030",
    "chinese": "gb18030",
    "gb18030": "gb18030",
    "gb-18030": "gb18030",
    "gb18030-2000": "gb18030",
    "gb18030-2005": "gb18030",
    "gb18030-2022": "gb18030",
    "big5": "big5hkscs",
    "big-5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "csbig5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "big5hkscs": "big5hkscs",
    "cp950": "big5hkscs",
    "ms950": "big5hkscs",
    "windows-950": "big5hkscs",
    "hz-gb-2312": "hz",
    "hz-gb2312": "hz",
    "hz": "hz",
    "ks-c-5601-1987": "cp949",
    "ks-c-5601": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms-kanji": "cp932",
    "windows-31j": "cp932",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ansi-x3.4-1968": "utf-8",
    "iso646-us": "utf-8",
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "x-utf-8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "iso-8859-8-i": "iso-8859-8",
}

# Codecs a label may never select: not text encodings, or not charsets at all.
_FORBIDDEN = frozenset(
    {"undefined", "idna", "punycode", "raw-unicode-escape", "unicode-escape", "mbcs", "oem", "palmos"}
)
# Codecs that map ASCII bytes to the same text, so pure-ASCII data needs no decoding work.
_ASCII_SAFE_EXCLUDED = frozenset({"utf-7", "hz", "utf-16", "utf-16-le", "utf-16-be", "utf-32"})
_ASCII_LABELS = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "7bit", "8bit"})
_CJK_LEGACY = frozenset({"gb18030", "big5hkscs"})
# Western single-byte labels that old Chinese clients put on GBK or UTF-8 bytes.
_WESTERN = frozenset({"latin-1", "iso8859-1", "cp1252", "iso8859-15"})
_CANDIDATES = ("utf-8", "gb18030", "big5hkscs")
_SAMPLE = 4000  # characters scored per candidate
_PLAUSIBLE = 0.85  # share of common characters in real Chinese text is ~0.97+
_MARGIN = 0.25


def normalize_label(label: str | None) -> str:
    """``' "GBK;" '`` → ``gbk``; the empty string for a missing label."""
    if not label:
        return ""
    label = label.strip().strip("\"'").strip().rstrip(";").strip().strip("\"'").strip().lower()
    return label[:64]


@lru_cache(maxsize=512)
def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when we do not know (or refuse) it."""
    norm = normalize_label(label)
    if not norm:
        return None
    dashed = norm.replace("_", "-").replace(" ", "-")
    for key in (norm, dashed, dashed.removeprefix("x-"), dashed.removeprefix("cs")):
        if key in _ALIASES:
            return _ALIASES[key]
    for key in (norm, dashed.removeprefix("x-")):
        try:
            info = codecs.lookup(key)
        except (LookupError, ValueError, TypeError):
            continue
        if not getattr(info, "_is_text_encoding", True) or info.name in _FORBIDDEN:
            return None
        if info.name in {"gb2312", "gbk"}:
            return "gb18030"
        if info.name == "big5":
            return "big5hkscs"
        return info.name
    return None


def _common_from(codec: str, leads: range, trails: list[int], stop: int | None = None) -> set[str]:
    out: set[str] = set()
    for lead in leads:
        for trail in trails:
            if stop is not None and (lead << 8 | trail) > stop:
                return out
            try:
                out.add(bytes((lead, trail)).decode(codec))
            except UnicodeDecodeError:
                continue
    return out


@lru_cache(maxsize=1)
def _common_chars() -> frozenset[str]:
    """GB2312 level 1 (3,755 most used simplified) ∪ Big5 common set (5,401 traditional)."""
    gb = _common_from("gb2312", range(0xB0, 0xD8), list(range(0xA1, 0xFF)))
    big5_trails = list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF))
    big5 = _common_from("big5", range(0xA4, 0xC7), big5_trails, stop=0xC67E)
    return frozenset(gb | big5)


def plausibility(text: str) -> float | None:
    """Share of the (first few thousand) non-ASCII characters that real text uses.

    Common CJK ideographs, CJK and full-width punctuation and Latin letters
    count as plausible; rare ideographs, kana, private-use, box drawing and
    replacement characters do not. None when the text has no non-ASCII
    character to judge by.
    """
    common = _common_chars()
    good = total = 0
    for ch in text[:100_000]:
        if ch < "\x80":
            continue
        total += 1
        if ch in common or _plausible_other(ch):
            good += 1
        if total >= _SAMPLE:
            break
    return good / total if total else None


def _plausible_other(ch: str) -> bool:
    """CJK and full-width punctuation, general punctuation, Latin letters with diacritics."""
    return (
        "\u3000" <= ch <= "\u303f"
        or "\uff01" <= ch <= "\uff5e"
        or "\u2010" <= ch <= "\u2027"
        or "\u00c0" <= ch <= "\u024f"
        or ch in "\u00a0\u00a9\u00ae\u00b0\u00b7\u00d7\u00f7"
    )


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError):
        return None


def _best_alternative(data: bytes, exclude: str) -> tuple[str, str, float] | None:
    """The most plausible strict decode among the candidates (utf-8 wins outright when valid)."""
    best: tuple[str, str, float] | None = None
    for alt in _CANDIDATES:
        if alt == exclude:
            continue
        text = _strict(data, alt)
        if text is None:
            continue
        if alt == "utf-8":
            return text, alt, 1.0  # valid multi-byte UTF-8 is strong evidence on its own
        score = plausibility(text)
        if score is None:
            score = 1.0
        if best is None or score > best[2]:
            best = (text, alt, score)
    return best


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode ``data``; returns (text, defect or None). Never raises."""
    norm = normalize_label(label)
    codec = codec_for(label)
    if data.isascii() and (codec is None or codec not in _ASCII_SAFE_EXCLUDED):
        return data.decode("ascii"), (f"unknown-charset:{norm}" if norm and codec is None else None)
    if codec is not None:
        text = _strict(data, codec)
        if text is not None:
            return _second_opinion(data, text, codec, norm)
        return _fallback(data, codec, norm, f"wrong-charset:{norm}")
    return _fallback(data, None, norm, f"unknown-charset:{norm}" if norm else None)


def _second_opinion(data: bytes, text: str, codec: str, norm: str) -> tuple[str, str | None]:
    """The labelled codec decoded ``data``; is the text plausible, or does another codec fit far better?"""
    if codec in _WESTERN:  # GBK or UTF-8 under a Latin-1 label is a classic of old Chinese clients
        alt = _best_alternative(data, codec)
        if alt is not None and alt[2] >= 0.9 and _non_ascii(alt[0]) >= 4:
            return alt[0], f"wrong-charset:{norm}"
        return text, None
    if codec not in _CJK_LEGACY:
        return text, None
    score = plausibility(text)
    if score is None or score >= _PLAUSIBLE:
        return text, None
    alt = _best_alternative(data, codec)
    if alt is not None and alt[2] >= _PLAUSIBLE and alt[2] - score >= _MARGIN:
        return alt[0], f"wrong-charset:{norm}"
    return text, None


def _fallback(data: bytes, codec: str | None, norm: str, defect: str | None) -> tuple[str, str | None]:
    """The label failed or is unknown: UTF-8, plausible Chinese, the labelled codec lenient, Western."""
    alt = _best_alternative(data, codec or "")
    if alt is not None and alt[2] >= _PLAUSIBLE:
        return alt[0], defect
    # Lenient decodes (replacement characters count as implausible): UTF-8 or Chinese
    # with a few broken sequences under a wrong label.
    best: tuple[float, str] | None = None
    for option in _CANDIDATES:
        if option == codec:
            continue
        text = _replace(data, option)
        score = plausibility(text) or 0.0
        if best is None or score > best[0]:
            best = (score, text)
    if best is not None and best[0] >= _PLAUSIBLE:
        return best[1], defect
    if codec is not None and codec not in _WESTERN and norm not in _ASCII_LABELS:
        # A multi-byte label with some broken sequences: its own codec, with replacements.
        return _replace(data, codec), f"undecodable:{norm}"
    western = _strict(data, "cp1252")
    return (western if western is not None else data.decode("latin-1")), defect


def _non_ascii(text: str) -> int:
    return sum(1 for ch in text[:_SAMPLE] if ch >= "\x80")


def _replace(data: bytes, codec: str) -> str:
    try:
        return data.decode(codec, errors="replace")
    except (UnicodeError, LookupError):
        return data.decode("utf-8", errors="replace")
