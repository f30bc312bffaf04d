"""Header decoding (RFC 2047) and address lists with offsets.

Address lists are split by us (quotes, comments and angle brackets respected;
``,`` ``;`` ``，`` ``；`` as separators) so that each entry keeps its offsets
in the decoded header, then each entry is parsed by flanker's RFC 5322
parser. One bad entry therefore never hides the others.
"""

from __future__ import annotations

import re
from email.header import decode_header
from functools import lru_cache

from mailgate.model import Address
from mailgate.parse.charset import decode_bytes

_ENCODED_WORD = re.compile(r"=\?[^?\s]{1,40}\?[bBqQ]\?[^?\s]*\?=")
_CTL = re.compile(r"[\r\n\x00]+")
_SEPARATORS = ",;，；"


def decode_header_value(value: str) -> str:
    """Decode RFC 2047 words; control characters (CR, LF, NUL) become spaces."""
    if "=?" in value and _ENCODED_WORD.search(value):
        try:
            chunks = decode_header(value)
        except Exception:  # malformed encoded words: keep the raw text
            chunks = [(value, None)]
        parts: list[str] = []
        for chunk, charset in chunks:
            if isinstance(chunk, bytes):
                text, _ = decode_bytes(chunk, charset or "utf-8")
                parts.append(text)
            else:
                parts.append(chunk)
        value = "".join(parts)
    else:
        value = fix_8bit(value)
    value = _CTL.sub(" ", value)
    return value.strip()


def split_addresses(text: str) -> list[tuple[int, int]]:
    """Spans of the entries of an address list, in one linear pass."""
    spans: list[tuple[int, int]] = []
    start = 0
    in_quote = False
    angle = 0
    comment = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if in_quote:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c == "(":
            comment += 1
        elif c == ")" and comment:
            comment -= 1
        elif c == "<":
            angle += 1
        elif c == ">" and angle:
            angle -= 1
        elif c in _SEPARATORS and not angle and not comment:
            spans.append((start, i))
            start = i + 1
        i += 1
    spans.append((start, n))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


@lru_cache(maxsize=4096)
def _parse_one(entry: str) -> tuple[str, str, bool]:
    """(display name, addr-spec, valid) for one entry."""
    from flanker.addresslib import address as flanker_address

    try:
        parsed = flanker_address.parse(entry)
    except Exception:
        parsed = None
    if parsed is not None and getattr(parsed, "address", None) and "@" in parsed.address:
        name = decode_header_value(parsed.display_name or "")
        return name, parsed.address, True
    # Keep what we can read for the finding, but mark it invalid.
    m = re.search(r"<([^<>]*)>", entry)
    spec = m.group(1).strip() if m else entry.strip().strip('"')
    name = entry[: m.start()].strip().strip('"') if m else ""
    return name, spec, False


def fix_8bit(value: str) -> str:
    """Raw 8-bit header bytes arrive as surrogate escapes from the bytes parser: decode them."""
    if any("\udc80" <= c <= "\udcff" for c in value):
        raw = value.encode("ascii", "surrogateescape")
        value, _ = decode_bytes(raw, "utf-8")
    return value


def parse_address_list(raw: str, field: str, *, limit: int = 2000) -> tuple[str, tuple[Address, ...]]:
    """Decoded header text and its addresses, each with its span in that text."""
    raw = _CTL.sub(" ", fix_8bit(raw))
    pieces: list[str] = []
    out: list[Address] = []
    pos = 0
    for s, e in split_addresses(raw)[:limit]:
        entry = raw[s:e]
        name, spec, valid = _parse_one(entry)
        shown = (f"{name} <{spec}>" if name else spec) if valid else decode_header_value(entry)
        if pieces:
            pos += 2
        out.append(Address(name, spec, field, pos, pos + len(shown), valid, entry))
        pieces.append(shown)
        pos += len(shown)
    return ", ".join(pieces), tuple(out)
