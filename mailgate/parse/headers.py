"""Header decoding (RFC 2047) and address lists with offsets.

Header values are unfolded, raw 8-bit bytes are decoded (UTF-8, else GB18030
…), and RFC 2047 encoded words are decoded by our own linear decoder:
adjacent words of one charset are joined *before* decoding (a GBK character
split over two words decodes whole), whitespace between encoded words is
dropped, a malformed word (``=?gb2312?B?!!!?=``) stays as written, and
control characters in the result (CR, LF, NUL …) become spaces, so a decoded
value can never be re-serialised as a header break.

Address lists are split by us in one linear pass (quotes, comments, angle
brackets and group syntax respected; ``,`` ``;`` ``，`` ``；`` as separators,
at most ``limit`` entries), so each entry keeps its offsets in the decoded
header; each entry is then parsed by flanker's RFC 5322 parser (cached) and
checked strictly (lengths, host-name labels). One bad entry never hides the
others, and an entry that does not parse never yields a mailbox taken from
its display name or comment (CVE-2023-27043): ``alice@corp.cn)<evil@ext.com>``
is an invalid entry for ``evil@ext.com``.
"""

from __future__ import annotations

import binascii
import logging
import re
from functools import lru_cache

from flanker.addresslib import address as flanker_address

from mailgate.model import Address
from mailgate.parse.charset import decode_bytes

__all__ = [
    "decode_header_value",
    "fix_8bit",
    "parse_address_field",
    "parse_address_list",
    "split_addresses",
]

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?]{0,4096})\?=")
_B64_TEXT = re.compile(r"[A-Za-z0-9+/]*={0,3}")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]+")
_SPECIAL = re.compile(r'[\\"()<>,;，；:]')
_SEPARATORS = ",;，；"
_ANGLE_SPEC = re.compile(r"<([^<>]*)>?")
_ADDR_IN_NAME = re.compile(r"[^\s<>\"'()@,;:]+@[^\s<>\"'()@,;:]+\.[^\s<>\"'()@,;:]+")
_LABEL = re.compile(r"(?!-)[0-9a-z\u00a1-\U0010ffff-]{1,63}(?<!-)", re.I)
_TLD = re.compile(r"[a-z\u00a1-\U0010ffff][0-9a-z\u00a1-\U0010ffff-]{0,62}", re.I)

# flanker logs every lexer error (and sets its lexer logger to INFO on import): a hostile
# header must not flood our logs.
for _name in ("flanker", "flanker.addresslib.address", "flanker.addresslib._parser.lexer"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


def fix_8bit(value: str) -> str:
    """Raw 8-bit header bytes arrive as surrogate escapes from the bytes parser: decode them."""
    if value.isascii():
        return value
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    text, _ = decode_bytes(raw, "utf-8")
    return text


def _decode_word(charset: str, encoding: str, text: str) -> bytes | None:
    """The bytes of one encoded word, or None when it is malformed."""
    if encoding in "bB":
        text = text.strip()
        if not _B64_TEXT.fullmatch(text):
            return None
        text = text.rstrip("=")
        if len(text) % 4 == 1:
            return None
        try:
            return binascii.a2b_base64(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
    try:
        return binascii.a2b_qp(text.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return None


def _decode_words(value: str) -> str:
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset = ""

    def flush() -> None:
        nonlocal pending_charset
        if pending:
            text, _ = decode_bytes(b"".join(pending), pending_charset or "utf-8")
            out.append(text)
            pending.clear()
        pending_charset = ""

    pos = 0
    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos : m.start()]
        charset = m.group(1).partition("*")[0].lower()  # RFC 2231 language suffix
        data = _decode_word(charset, m.group(2), m.group(3))
        if data is None:
            flush()
            out.append(gap)
            out.append(m.group(0))
            pos = m.end()
            continue
        if not pending or gap.strip(" \t\r\n"):
            flush()
            out.append(gap)
        elif charset != pending_charset:
            flush()  # whitespace between two encoded words is dropped
        pending.append(data)
        pending_charset = charset
        pos = m.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def decode_header_value(value: str) -> str:
    """Unfold, decode 8-bit bytes and RFC 2047 words; control characters become spaces."""
    if value.isascii() and value.isprintable() and "=?" not in value:
        return value.strip()  # the common case: nothing to do
    if "\n" in value or "\r" in value:
        value = _FOLD.sub("", value)
    value = fix_8bit(value)
    if "=?" in value:
        value = _decode_words(value)
    if _CTL.search(value):
        value = _CTL.sub(" ", value)
    return value.strip()


def split_addresses(text: str, limit: int | None = None) -> list[tuple[int, int]]:
    """Spans of the entries of an address list, in one linear pass (at most ``limit`` + 1)."""
    spans: list[tuple[int, int]] = []
    start = 0
    in_quote = False
    angle = 0
    comment = 0
    skip_next = -1
    for m in _SPECIAL.finditer(text):
        i = m.start()
        if i == skip_next:
            continue
        c = text[i]
        if c == "\\":
            skip_next = i + 1
        elif in_quote:
            if c == '"':
                in_quote = False
        elif comment:
            if c == "(":
                comment += 1
            elif c == ")":
                comment -= 1
        elif c == '"':
            in_quote = True
        elif c == "(":
            comment = 1
        elif c == "<":
            angle += 1
        elif c == ">":
            if angle:
                angle -= 1
        elif c == ":":
            # ``group-name:`` starts a group; its members follow (a phrase has no @ or <).
            if not angle and "@" not in text[start:i] and "<" not in text[start:i]:
                start = i + 1
        elif c in _SEPARATORS and not angle:
            if limit is None or text[start:i].strip():
                spans.append((start, i))
            start = i + 1
            if limit is not None and len(spans) > limit:
                break
    else:
        spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _valid_spec(spec: str) -> bool:
    """Strict checks flanker leaves out: lengths, and a host name of LDH (or IDN) labels."""
    local, at, domain = spec.rpartition("@")
    if not at or not local or len(local) > 64 or len(spec) > 254:
        return False
    if domain.startswith("[") or "." not in domain:
        return False  # IP literals and dotless hosts are not company mailboxes
    labels = domain.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels[:-1]):
        return False
    return bool(_TLD.fullmatch(labels[-1]))


@lru_cache(maxsize=8192)
def _parse_one(entry: str) -> tuple[str, str, bool]:
    """(display name, addr-spec, valid) for one entry.

    flanker validates the syntax, but never sees an encoded word: it would
    decode it itself, with a charset guesser (chardet) that is slow and
    unpredictable. Encoded words in the phrase are masked as a plain atom for
    flanker, and the display name is decoded by us from the entry as written.
    """
    lt = entry.rfind("<")
    masked = entry
    if "=?" in entry:
        if lt < 0:  # an encoded word in an addr-spec, or a phrase with no address
            return "", decode_header_value(entry.strip().strip('"')), False
        masked = _ENCODED_WORD.sub("x", entry[:lt]) + entry[lt:]
    try:
        parsed = flanker_address.parse(masked)
    except Exception:  # flanker is a third-party parser: never trust it not to raise
        parsed = None
    spec_out = getattr(parsed, "address", None) if parsed is not None else None
    if isinstance(spec_out, str) and "@" in spec_out:
        if masked is entry:
            name = decode_header_value(str(getattr(parsed, "display_name", "") or ""))
        else:
            name = _phrase(entry[:lt] if lt >= 0 else "")
        return name, spec_out, _valid_spec(spec_out)
    # Keep what we can read for the finding, but mark it invalid. The mailbox is the
    # angle-addr when there is one, never an address-like display name or comment.
    if lt >= 0:
        m = _ANGLE_SPEC.match(entry, lt)
        spec = (m.group(1) if m else entry[lt + 1 :]).strip()
        return _phrase(entry[:lt]), spec, False
    return "", entry.strip().strip('"'), False


def _phrase(text: str) -> str:
    """A display name as written: quotes and quoted-pairs removed, encoded words decoded."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return decode_header_value(text.strip('"').strip())


def _shown(name: str, spec: str) -> str:
    """``name <spec>``, the name quoted when it holds a character that would split the list."""
    if not name:
        return spec
    if any(c in name for c in ',;，；<>"@():'):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{spec}>"


def parse_address_field(raw: str, field: str, *, limit: int = 2000) -> tuple[str, tuple[Address, ...], list[str]]:
    """Decoded header text, its addresses (each with its span in that text) and defects."""
    raw = _CTL.sub(" ", fix_8bit(_FOLD.sub("", raw)))
    defects: list[str] = []
    spans = split_addresses(raw, limit)
    if len(spans) > limit:
        spans = spans[:limit]
        defects.append(f"too-many-addresses:{field}")
    pieces: list[str] = []
    out: list[Address] = []
    pos = 0
    for s, e in spans:
        entry = raw[s:e][:2000]
        name, spec, valid = _parse_one(entry)
        shown = _shown(name, spec) if valid else decode_header_value(entry)
        if pieces:
            pos += 2
        out.append(Address(name, spec, field, pos, pos + len(shown), valid, entry))
        pieces.append(shown)
        pos += len(shown)
        if not valid:
            defects.append(f"invalid-address:{field}")
        elif "@" in name:
            claimed = _ADDR_IN_NAME.search(name)
            if claimed and claimed.group(0).lower() != spec.lower():
                defects.append(f"address-in-display-name:{field}")
    return ", ".join(pieces), tuple(out), sorted(set(defects), key=defects.index)


def parse_address_list(raw: str, field: str, *, limit: int = 2000) -> tuple[str, tuple[Address, ...]]:
    """Decoded header text and its addresses, each with its span in that text."""
    text, addrs, _ = parse_address_field(raw, field, limit=limit)
    return text, addrs
