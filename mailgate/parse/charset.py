"""Decode bytes under any charset label a (Chinese) mail client sends, deterministically.

Labels are normalised and mapped onto the widest compatible codec
(gb2312/gbk → gb18030, big5 → big5hkscs). An unknown or missing label
falls back to utf-8, then gb18030, then utf-8 with replacement, and the
fallback is recorded as a defect ``unknown-charset:<label>``.
"""

from __future__ import annotations

import codecs
from functools import lru_cache

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
    "gb_2312-80": "gb18030",
    "gb2312-80": "gb18030",
    "chinese": "gb18030",
    "gb18030": "gb18030",
    "gb-18030": "gb18030",
    "big5": "big5hkscs",
    "big-5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "cp950": "big5hkscs",
    "hz-gb-2312": "hz",
    "hz-gb2312": "hz",
    "hz": "hz",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "us-ascii": "utf-8",  # 8-bit bytes under an ASCII label are almost always utf-8
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "iso-8859-8-i": "iso-8859-8",
    "latin1": "latin-1",
}


def normalize_label(label: str | None) -> str:
    if not label:
        return ""
    label = label.strip().strip("\"'").strip().rstrip(";").strip().lower()
    return label


@lru_cache(maxsize=256)
def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when we do not know it."""
    norm = normalize_label(label)
    if not norm:
        return None
    if norm in _ALIASES:
        return _ALIASES[norm]
    try:
        name = codecs.lookup(norm).name
    except (LookupError, ValueError):
        return None
    # Never let a label select a codec that is not a text encoding (e.g. "rot13", "zip").
    if name in {"rot-13", "zlib_codec", "bz2_codec", "base64_codec", "hex_codec", "quopri_codec", "uu_codec"}:
        return None
    if name in {"gb2312", "gbk"}:
        return "gb18030"
    return name


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode ``data``; returns (text, defect or None). Never raises."""
    codec = codec_for(label)
    if codec is not None:
        try:
            return data.decode(codec), None
        except (UnicodeDecodeError, LookupError):
            pass
        # A wrong label: try the usual suspects before replacing.
        for alt in ("utf-8", "gb18030"):
            if alt != codec:
                try:
                    return data.decode(alt), f"wrong-charset:{normalize_label(label)}"
                except UnicodeDecodeError:
                    continue
        return data.decode(codec, errors="replace"), f"undecodable:{normalize_label(label)}"
    defect = f"unknown-charset:{normalize_label(label)}" if normalize_label(label) else None
    for alt in ("utf-8", "gb18030"):
        try:
            return data.decode(alt), defect
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), defect or "undecodable:"
