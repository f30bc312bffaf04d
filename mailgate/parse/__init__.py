"""Bytes in, one immutable :class:`~mailgate.model.Message` out.

The stdlib ``email`` package (``compat32`` policy: the fast, lenient one,
which never raises on header access) is the MIME parser of record; flanker
checks address syntax. Before the stdlib sees the bytes, one linear pre-scan
bounds what it would do: message and header-section size, header lines,
MIME nesting depth (boundaries declared in ``Content-Type`` headers and not
yet closed), part count (boundary delimiter lines) and boundary length, each
raising the typed errors of :mod:`mailgate.errors` (``too-large``,
``too-deep``). After parsing, an iterative walk — into attached
``message/rfc822`` too — enforces the depth and part limits exactly; a
``RecursionError`` from the stdlib is ``too-deep``. Decoded bytes are
budgeted; nothing is ever decompressed. Nothing else escapes: any other
failure is ``unparseable``. Parse time is linear in the input.

SPEC §1 in one place: the sender is the first mailbox of the first ``From``
header (strictly: never a display name or comment); recipients come from
To/Cc/Bcc plus envelope recipients (as Bcc); the subject is decoded and its
reply/forward prefixes are skipped by ``topic_start``; the body is the first
text/plain part (text from the first text/html part when there is no
non-blank plain text); attachments are parts with ``Content-Disposition:
attachment`` or non-text parts with a file name, except inline parts whose
``Content-ID`` an HTML part refers to (``cid:``); ``new_text`` and
``closing_start`` come from :mod:`mailgate.parse.quotes`.

Defects that can be worked around are recorded on ``Message.defects`` and
never raised: a wrong or unknown charset (``wrong-charset:gbk``,
``unknown-charset:x-unknown``, ``undecodable:utf-8``), bad transfer encoding
(``bad-base64``, ``invalid-base64`` for base64-labelled plain text, the
stdlib's defect class names), two ``From`` headers (``multiple-from``), an
address that does not parse (``invalid-address:from``), an address-like
display name that differs from the real mailbox (``address-in-display-name:from``),
more addresses than the limit (``too-many-addresses:to``), an over-long
header (``long-header:subject``, cut at 100 KB like Postfix's
``header_size_limit``), a boundary longer than RFC 2046's 70 characters
(``long-boundary``), an unreadable ``Date`` (``invalid-date``).
"""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.utils
import re
from collections.abc import Iterator
from email import policy as email_policy
from urllib.parse import unquote

from mailgate.errors import MessageError, TooDeepError, TooLargeError, UnparseableError
from mailgate.model import Address, Attachment, Message
from mailgate.parse.charset import decode_bytes
from mailgate.parse.headers import decode_header_value, parse_address_field
from mailgate.parse.html import html_to_text
from mailgate.parse.quotes import find_closing, split_new_text
from mailgate.policy import Limits

__all__ = ["parse_message", "strip_subject_prefixes"]

MAX_HEADER_CHARS = 102_400  # one header's value (Postfix header_size_limit)
MAX_BOUNDARY = 2048  # Postfix mime_boundary_length_limit
MAX_DEFECTS = 50
MAX_FROM = 20  # mailboxes kept from From headers
_ADDRESS_FIELDS = ("from", "to", "cc", "bcc")

_PREFIX = re.compile(
    r"(?:[ \t\u3000]*(?:re|fw|fwd|回复|答复|转发|回覆|回復|答覆|轉寄|轉發)(?:\[\d{1,3}\]|\(\d{1,3}\))?"
    r"[ \t\u3000]*[:：][ \t\u3000]*)+",
    re.I,
)
_HEADER_END = re.compile(rb"\r?\n\r?\n|\r\r")
_NOT_HEADER_LINE = re.compile(rb"^(?![ \t]|[\x21-\x39\x3b-\x7e]{1,200}:|From )", re.M)
_CONTENT_TYPE_LINE = re.compile(rb"^content-type[ \t]*:", re.I | re.M)
_BOUNDARY_PARAM = re.compile(rb"boundary[ \t]*=[ \t]*(?:\"([^\"\r\n]{0,4100})|([^\s;\"]{1,4100}))", re.I)
_DELIMITER_LINE = re.compile(rb"^--([^\r\n]{1,2100})", re.M)
_CID_REF = re.compile(rb"cid:([^\s\"'<>)]{1,500})", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]{0,300}?charset\s*=\s*[\"']?([A-Za-z0-9_.:\-]{1,40})", re.I)
_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_NUL = "\x00"
_NOT_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")


def strip_subject_prefixes(subject: str) -> int:
    """Offset of the subject after its reply/forward prefixes (0 when there are none)."""
    m = _PREFIX.match(subject)
    return m.end() if m else 0


# ---------------------------------------------------------------- limits before parsing


def _check_header_limits(raw: bytes, limits: Limits) -> None:
    window = limits.max_header_bytes + 4
    m = _HEADER_END.search(raw, 0, window)
    if m is None:  # no blank line: the headers end at the first line that is not a header (stdlib)
        m = _NOT_HEADER_LINE.search(raw, 0, window)
    head_len = m.start() if m else len(raw)
    if head_len > limits.max_header_bytes:
        raise TooLargeError(f"header section exceeds {limits.max_header_bytes} bytes")
    lines = raw.count(b"\n", 0, head_len) or raw.count(b"\r", 0, head_len)
    if lines + 1 > limits.max_headers * 4:
        raise TooLargeError(f"more than {limits.max_headers} header lines")


def _declarations(raw: bytes) -> list[tuple[int, bytes]]:
    """(offset, boundary) of every ``boundary=`` parameter of a ``Content-Type`` header line.

    Only header lines count (a body that talks about ``boundary=`` declares
    nothing), and each header value is bounded, so the scan is linear.
    """
    out: list[tuple[int, bytes]] = []
    for m in _CONTENT_TYPE_LINE.finditer(raw):
        start = m.end()
        stop = min(len(raw), start + 8192)
        end = start
        while end < stop:  # the header value: this line and its folded continuation lines
            nl = raw.find(b"\n", end, stop)
            if nl < 0:
                end = stop
                break
            end = nl + 1
            if raw[end : end + 1] not in (b" ", b"\t"):
                break
        value = raw[start:end]
        b = _BOUNDARY_PARAM.search(value)
        if b is not None:
            boundary = b.group(1) if b.group(1) is not None else b.group(2)
            out.append((start + b.start(), boundary.rstrip(b" \t")))
    return out


def _prescan_structure(raw: bytes, limits: Limits, defects: list[str]) -> None:
    """Bound nesting depth, part count and boundary length in one pass, before the stdlib parser.

    The stdlib checks every line against every open boundary, so a deep
    nesting is quadratic there; this scan simulates its boundary stack on the
    raw bytes: a declaration (``boundary=…`` in a ``Content-Type`` header)
    opens a level, a delimiter line of an open boundary closes the levels
    above it, a close delimiter closes its own level too. Ordinary messages
    (a few boundaries, a few dozen delimiter lines) only have their boundary
    lengths checked.
    """
    declarations = _declarations(raw)
    if not declarations:
        return
    for _, boundary in declarations:
        if len(boundary) > MAX_BOUNDARY:
            raise TooLargeError(f"MIME boundary longer than {MAX_BOUNDARY} characters")
        if len(boundary) > 70:
            defects.append("long-boundary")
    if len(declarations) <= limits.max_depth and raw.count(b"\n--") <= 2 * limits.max_parts:
        return  # cannot be too deep, cannot have too many parts: the walk checks exactly
    declared = {b for _, b in declarations if b}
    stack: list[bytes] = []
    delimiters = 0
    max_delimiters = 2 * limits.max_parts + 8
    pending = iter(declarations)
    upcoming = next(pending, None)

    def open_levels(until: int) -> None:
        nonlocal upcoming
        while upcoming is not None and upcoming[0] < until:
            if upcoming[1]:
                stack.append(upcoming[1])
                if len(stack) > limits.max_depth:
                    raise TooDeepError(f"MIME nesting deeper than {limits.max_depth}")
            upcoming = next(pending, None)

    for m in _DELIMITER_LINE.finditer(raw):
        open_levels(m.start())
        line = m.group(1).rstrip(b" \t\r")
        closing = False
        if line not in declared:
            if not (line.endswith(b"--") and line[:-2] in declared):
                continue
            line, closing = line[:-2], True
        delimiters += 1
        if delimiters > max_delimiters:
            raise TooLargeError(f"more than {limits.max_parts} MIME parts")
        if line in stack:
            while stack and stack[-1] != line:
                stack.pop()
            if closing and stack:
                stack.pop()
    open_levels(len(raw) + 1)


# ---------------------------------------------------------------- walking the tree


def _walk(root: email.message.Message, limits: Limits) -> list[tuple[email.message.Message, bool]]:
    """Every part as (part, enclosed), in document order, iteratively, within the limits.

    ``enclosed`` parts belong to an attached message: they count towards the
    limits but are neither body nor attachment of this message.
    """
    out: list[tuple[email.message.Message, bool]] = []
    stack: list[tuple[email.message.Message, int, bool]] = [(root, 0, False)]
    while stack:
        part, depth, enclosed = stack.pop()
        if len(out) >= limits.max_parts:
            raise TooLargeError(f"more than {limits.max_parts} MIME parts")
        if depth > limits.max_depth:
            raise TooDeepError(f"MIME nesting deeper than {limits.max_depth}")
        out.append((part, enclosed))
        payload = part.get_payload()
        if isinstance(payload, list):
            inner = enclosed or _maintype(part) == "message"
            for sub in reversed(payload):
                if isinstance(sub, email.message.Message):
                    stack.append((sub, depth + 1, inner))
    return out


def _content_type(part: email.message.Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _maintype(part: email.message.Message) -> str:
    return _content_type(part).partition("/")[0]


def _disposition(part: email.message.Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def _filename(part: email.message.Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        return None
    text = decode_header_value(str(name))
    return text or None


def _payload_bytes(part: email.message.Message, defects: list[str]) -> bytes:
    try:
        cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    except Exception:
        cte = ""
    if cte == "base64":
        raw = part.get_payload()
        if isinstance(raw, str):
            foreign = _foreign_to_base64(raw)
            if foreign * 50 > min(len(raw), 65536):
                # ``base64`` on text that is not base64: the bytes as sent are the content.
                defects.append("invalid-base64")
                return raw.encode("utf-8", "surrogateescape")
            if foreign:
                defects.append("bad-base64")  # a few stray characters: skipped by the decoder
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # compat32 is lenient, but never trust it blindly
        defects.append("undecodable-payload")
        raw = part.get_payload()
        payload = raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""
    return payload if isinstance(payload, bytes) else b""


def _foreign_to_base64(text: str) -> int:
    """Characters outside the base64 alphabet and whitespace (8-bit ones count as many)."""
    sample = text[:65536]
    if not sample.isascii():
        return len(sample)
    return len(_NOT_BASE64.sub("", sample))


def _decode_part(part: email.message.Message, defects: list[str], budget: list[int]) -> bytes:
    payload = _payload_bytes(part, defects)
    budget[0] -= len(payload)
    if budget[0] < 0:
        raise TooLargeError("decoded content exceeds the limit")
    return payload


def _text_of(part: email.message.Message, data: bytes, defects: list[str], html: bool = False) -> str:
    try:
        label = part.get_param("charset")
    except Exception:
        label = None
    if isinstance(label, tuple):  # RFC 2231 encoded parameter
        label = label[2]
    if not isinstance(label, str):
        label = None
    if html and not label:
        m = _META_CHARSET.search(data, 0, 4096)
        if m:
            label = m.group(1).decode("ascii")
    text, defect = decode_bytes(data, label)
    if defect:
        defects.append(defect)
    return _normalize_text(text)


def _normalize_text(text: str) -> str:
    """One newline convention (``\\n``) for every line-splitting method; no NUL, no BOM."""
    if "\r" in text or not text.isascii():
        text = _LINE_BREAKS.sub("\n", text)
    if _NUL in text:
        text = text.replace(_NUL, " ")
    return text[1:] if text.startswith("\ufeff") else text


def _approx_size(part: email.message.Message) -> int:
    """Encoded size of a part and everything inside it (iterative)."""
    total = 0
    stack = [part]
    while stack:
        p = stack.pop()
        payload = p.get_payload()
        if isinstance(payload, list):
            stack.extend(x for x in payload if isinstance(x, email.message.Message))
        elif isinstance(payload, str | bytes):
            total += len(payload)
    return total


def _date(value: str | None, defects: list[str]) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except Exception:
        parsed = None
    if parsed is None:
        defects.append("invalid-date")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return parsed


# ---------------------------------------------------------------- entry point


def parse_message(
    raw: bytes,
    *,
    envelope_from: str | None = None,
    envelope_to: tuple[str, ...] = (),
    limits: Limits | None = None,
) -> Message:
    """Parse raw message bytes; raises only :class:`~mailgate.errors.MessageError` subclasses."""
    limits = limits or Limits()
    defects: list[str] = []
    try:
        raw = bytes(raw)
        if len(raw) > limits.max_message_bytes:
            raise TooLargeError(f"message of {len(raw)} bytes exceeds {limits.max_message_bytes}")
        _check_header_limits(raw, limits)
        _prescan_structure(raw, limits, defects)
        root = email.message_from_bytes(raw, policy=email_policy.compat32)
        return _build(root, envelope_from, envelope_to, limits, defects)
    except RecursionError as exc:
        raise TooDeepError("MIME nesting too deep to parse") from exc
    except MessageError:
        raise
    except MemoryError as exc:
        raise TooLargeError("message needs more memory than allowed") from exc
    except Exception as exc:
        raise UnparseableError(f"message structure not understood: {type(exc).__name__}") from exc


def _headers(
    root: email.message.Message, limits: Limits, defects: list[str]
) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    raw_headers = list(root.raw_items())
    if len(raw_headers) > limits.max_headers:
        raise TooLargeError(f"more than {limits.max_headers} header fields")
    headers: list[tuple[str, str]] = []
    address_raw: dict[str, list[str]] = {f: [] for f in _ADDRESS_FIELDS}
    for name, value in raw_headers:
        name = decode_header_value(name if isinstance(name, str) else str(name))
        value = value if isinstance(value, str) else str(value)
        lname = name.lower()
        if lname in address_raw:
            address_raw[lname].append(value)
        if len(value) > MAX_HEADER_CHARS:
            defects.append(f"long-header:{lname[:40]}")
            value = value[:MAX_HEADER_CHARS]
        headers.append((name, decode_header_value(value)))
    return headers, address_raw


def _build(
    root: email.message.Message,
    envelope_from: str | None,
    envelope_to: tuple[str, ...],
    limits: Limits,
    defects: list[str],
) -> Message:
    defects.extend(type(d).__name__ for d in root.defects[:20])
    headers, address_raw = _headers(root, limits, defects)

    field_text: dict[str, str] = {}
    parsed: dict[str, tuple[Address, ...]] = {}
    budget_addresses = limits.max_addresses  # shared by To, Cc and Bcc; From gets its own small one
    for fname, values in address_raw.items():
        limit = MAX_FROM if fname == "from" else max(1, budget_addresses)
        text, addrs, found = parse_address_field(", ".join(values), fname, limit=limit)
        if fname != "from":
            budget_addresses -= len(addrs)
        field_text[fname] = text
        parsed[fname] = addrs
        defects.extend(found)
    if len(address_raw["from"]) > 1:
        defects.append("multiple-from")
    # The sender, strictly: the first mailbox of the first From header (valid or not).
    sender = parsed["from"][0] if parsed["from"] else None
    if len(parsed["from"]) > 1 and len(address_raw["from"]) == 1:
        defects.append("multiple-from-mailboxes")

    bcc = list(parsed["bcc"])
    if envelope_to:
        known = {a.key for a in parsed["to"] + parsed["cc"] + parsed["bcc"]}
        for rcpt in envelope_to:
            key = rcpt.strip().lower()
            if key and key not in known:
                known.add(key)
                bcc.append(Address("", rcpt.strip(), "bcc", 0, 0, "@" in rcpt, rcpt))

    subjects = [v for n, v in headers if n.lower() == "subject"]
    if len(subjects) > 1:
        defects.append("multiple-subject")
    subject = subjects[0] if subjects else ""
    topic_start = strip_subject_prefixes(subject)

    body, is_html, attachments = _content(root, limits, defects)
    if len(body) > limits.max_body_chars:
        raise TooLargeError(f"body text exceeds {limits.max_body_chars} characters")
    new_text = split_new_text(body)
    closing = find_closing(new_text, sender.display_name if sender else "")

    date = _date(next((v for n, v in headers if n.lower() == "date"), None), defects)
    return Message(
        headers=tuple(headers),
        subject=subject,
        topic_start=topic_start,
        is_reply=topic_start > 0,
        sender=sender,
        to=parsed["to"],
        cc=parsed["cc"],
        bcc=tuple(bcc),
        field_text=field_text,
        body=body,
        body_is_html=is_html,
        new_text=new_text,
        closing_start=closing,
        attachments=tuple(attachments),
        date=date,
        envelope_from=envelope_from,
        envelope_to=tuple(envelope_to),
        defects=tuple(dict.fromkeys(defects))[:MAX_DEFECTS],
    )


def _content(root: email.message.Message, limits: Limits, defects: list[str]) -> tuple[str, bool, list[Attachment]]:
    """Body text (text/plain, else text from text/html), whether it came from HTML, attachments."""
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    inline: list[tuple[str, Attachment]] = []
    cid_refs: set[str] = set()
    budget = [limits.max_decoded_bytes]
    parts = _walk(root, limits)
    for part, enclosed in parts:
        if enclosed:
            continue
        ctype = _content_type(part)
        maintype = ctype.partition("/")[0]
        if maintype == "multipart" and part.is_multipart():
            continue
        disposition = _disposition(part)
        filename = _filename(part)
        if maintype == "message" and part.is_multipart():
            attachments.append(Attachment(filename or "message.eml", ctype, _approx_size(part), False))
            continue
        if maintype == "text" and disposition != "attachment" and not filename:
            if ctype == "text/html":
                data = _decode_part(part, defects, budget)
                cid_refs.update(_cids(data))
                if html is None:
                    html = _text_of(part, data, defects, html=True)
                continue
            if ctype == "text/plain":
                if plain is None:
                    plain = _text_of(part, _decode_part(part, defects, budget), defects)
                continue
            continue  # text/calendar, text/x-vcard … without a name: neither body nor attachment
        if disposition == "attachment" or filename:
            data = _decode_part(part, defects, budget)
            att = Attachment(filename, ctype, len(data), disposition == "inline")
            cid = _content_id(part)
            if cid and maintype != "text":
                inline.append((cid, att))
            else:
                attachments.append(att)
        elif maintype != "text":
            # A non-text part without a name: an inline image is only an attachment when
            # no HTML refers to it (decided below); other nameless parts are not attachments.
            cid = _content_id(part)
            if cid:
                data = _decode_part(part, defects, budget)
                inline.append((cid, Attachment(None, ctype, len(data), disposition == "inline")))
    for cid, att in inline:
        if cid not in cid_refs and att.filename is not None:
            attachments.append(att)
    for part, enclosed in parts:
        if not enclosed and part is not root:
            defects.extend(type(d).__name__ for d in getattr(part, "defects", ())[:5])

    if plain is not None and plain.strip():
        return plain, False, attachments
    if html is not None:
        return _normalize_text(html_to_text(html).text), True, attachments
    return plain or "", False, attachments


def _content_id(part: email.message.Message) -> str:
    try:
        value = part.get("Content-ID")
    except Exception:
        return ""
    if not value:
        return ""
    return str(value).strip().strip("<>").strip().lower()


def _cids(data: bytes) -> Iterator[str]:
    if b"cid:" not in data and b"CID:" not in data and b"Cid:" not in data:
        return
    for m in _CID_REF.finditer(data):
        yield unquote(m.group(1).decode("ascii", "replace")).lower()
