"""Bytes in, one immutable :class:`~mailgate.model.Message` out.

The stdlib ``email`` package (``compat32`` policy, the fast one) is the MIME
parser of record; flanker parses addresses. Limits on size, header bytes,
header count, nesting depth, part count and decoded bytes raise the typed
errors of :mod:`mailgate.errors`. Defects that can be worked around (a
wrong charset label, bad base64) are recorded on the message, never raised.
"""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.utils
import re
from email import policy as email_policy

from mailgate.errors import MessageError, TooDeepError, TooLargeError, UnparseableError
from mailgate.model import Address, Attachment, Message
from mailgate.parse.charset import decode_bytes
from mailgate.parse.headers import decode_header_value, parse_address_list
from mailgate.parse.html import html_to_text
from mailgate.parse.quotes import find_closing, split_new_text
from mailgate.policy import Limits

__all__ = ["parse_message", "strip_subject_prefixes"]

_PREFIX = re.compile(r"(?:[ \t]*(?:re|fw|fwd|回复|答复|转发|回覆|轉寄)[ \t]*[:：][ \t]*)+", re.I)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_CID = re.compile(r"cid:([^\s\"'<>)]+)", re.I)


def strip_subject_prefixes(subject: str) -> int:
    """Offset of the subject after its reply/forward prefixes (0 when there are none)."""
    m = _PREFIX.match(subject)
    return m.end() if m else 0


def _check_header_limits(raw: bytes, limits: Limits) -> None:
    m = _HEADER_END.search(raw, 0, limits.max_header_bytes + 4)
    head_len = m.start() if m else len(raw)
    if head_len > limits.max_header_bytes:
        raise TooLargeError(f"header section exceeds {limits.max_header_bytes} bytes")
    head = raw[:head_len]
    lines = head.count(b"\n") + 1
    if lines > limits.max_headers * 4:
        raise TooLargeError(f"more than {limits.max_headers} header lines")


def _decode_part(part: email.message.Message, defects: list[str], budget: list[int]) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # defensive: compat32 is lenient, but never trust it blindly
        defects.append("undecodable-payload")
        raw = part.get_payload()
        payload = raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""
    if not isinstance(payload, bytes):
        payload = b""
    budget[0] -= len(payload)
    if budget[0] < 0:
        raise TooLargeError("decoded content exceeds the limit")
    return payload


def _text_of(part: email.message.Message, data: bytes, defects: list[str]) -> str:
    try:
        label = part.get_param("charset")
    except Exception:
        label = None
    if isinstance(label, tuple):  # RFC 2231 encoded parameter
        label = label[2]
    text, defect = decode_bytes(data, label if isinstance(label, str) else None)
    if defect:
        defects.append(defect)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", " ")


def _filename(part: email.message.Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        return None
    return decode_header_value(str(name))


def _walk(root: email.message.Message, limits: Limits):  # type: ignore[no-untyped-def]
    """Leaf parts with their depth, iteratively, within the depth and part-count limits."""
    stack: list[tuple[email.message.Message, int]] = [(root, 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > limits.max_parts:
            raise TooLargeError(f"more than {limits.max_parts} MIME parts")
        if depth > limits.max_depth:
            raise TooDeepError(f"MIME nesting deeper than {limits.max_depth}")
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list) and part.get_content_maintype() == "multipart":
            for sub in reversed(payload):
                if isinstance(sub, email.message.Message):
                    stack.append((sub, depth + 1))
            continue
        yield part, depth


def _date(value: str | None, defects: list[str]) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("invalid-date")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return parsed


def parse_message(
    raw: bytes,
    *,
    envelope_from: str | None = None,
    envelope_to: tuple[str, ...] = (),
    limits: Limits | None = None,
) -> Message:
    """Parse raw message bytes; raises only :class:`~mailgate.errors.MessageError` subclasses."""
    limits = limits or Limits()
    if len(raw) > limits.max_message_bytes:
        raise TooLargeError(f"message of {len(raw)} bytes exceeds {limits.max_message_bytes}")
    _check_header_limits(raw, limits)
    try:
        root = email.message_from_bytes(raw, policy=email_policy.compat32)
    except RecursionError as exc:
        raise TooDeepError("MIME nesting too deep to parse") from exc
    except MessageError:
        raise
    except Exception as exc:
        raise UnparseableError(f"MIME parser failed: {type(exc).__name__}") from exc
    try:
        return _build(root, envelope_from, envelope_to, limits)
    except RecursionError as exc:
        raise TooDeepError("MIME nesting too deep to parse") from exc
    except MessageError:
        raise
    except Exception as exc:
        raise UnparseableError(f"message structure not understood: {type(exc).__name__}") from exc


def _build(
    root: email.message.Message,
    envelope_from: str | None,
    envelope_to: tuple[str, ...],
    limits: Limits,
) -> Message:
    defects: list[str] = [type(d).__name__ for d in getattr(root, "defects", [])][:20]
    raw_headers = list(root.items())
    if len(raw_headers) > limits.max_headers:
        raise TooLargeError(f"more than {limits.max_headers} header fields")
    headers: list[tuple[str, str]] = []
    address_raw: dict[str, list[str]] = {"from": [], "to": [], "cc": [], "bcc": []}
    for name, value in raw_headers:
        value = value if isinstance(value, str) else str(value)
        lname = name.lower()
        if lname in address_raw:
            address_raw[lname].append(value)
            headers.append((name, value))
        else:
            headers.append((name, decode_header_value(value)))

    field_text: dict[str, str] = {}
    parsed: dict[str, tuple[Address, ...]] = {}
    for fname, values in address_raw.items():
        text, addrs = parse_address_list(", ".join(values), fname, limit=limits.max_addresses)
        field_text[fname] = text
        parsed[fname] = addrs
    if len(address_raw["from"]) > 1:
        defects.append("multiple-from")
    headers = [
        (n, field_text[n.lower()]) if n.lower() in field_text else (n, v) for n, v in headers
    ]
    sender = next((a for a in parsed["from"] if a.valid), parsed["from"][0] if parsed["from"] else None)

    bcc = list(parsed["bcc"])
    if envelope_to:
        known = {a.key for a in parsed["to"] + parsed["cc"] + parsed["bcc"]}
        for rcpt in envelope_to:
            if rcpt.strip().lower() not in known:
                known.add(rcpt.strip().lower())
                bcc.append(Address("", rcpt, "bcc", 0, 0, "@" in rcpt, rcpt))

    subject = next((v for n, v in headers if n.lower() == "subject"), "")
    topic_start = strip_subject_prefixes(subject)

    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    inline_candidates: list[tuple[str, Attachment]] = []
    budget = [limits.max_decoded_bytes]
    for part, _depth in _walk(root, limits):
        try:
            ctype = part.get_content_type()
        except Exception:
            ctype = "application/octet-stream"
        try:
            disposition = (part.get_content_disposition() or "").lower()
        except Exception:
            disposition = ""
        filename = _filename(part)
        maintype = ctype.partition("/")[0]
        if ctype == "message/rfc822" or (maintype == "message" and part.is_multipart()):
            attachments.append(Attachment(filename or "message.eml", ctype, _approx_size(part), False))
            continue
        is_text_body = maintype == "text" and disposition != "attachment" and not (
            filename and disposition == "inline" and ctype not in {"text/plain", "text/html"}
        )
        if is_text_body and ctype == "text/plain" and plain is None and not filename:
            plain = _text_of(part, _decode_part(part, defects, budget), defects)
            continue
        if is_text_body and ctype == "text/html" and html is None and not filename:
            html = _text_of(part, _decode_part(part, defects, budget), defects)
            continue
        if disposition == "attachment" or (maintype != "text" and (filename or maintype != "multipart")):
            if maintype == "multipart":
                continue
            data = _decode_part(part, defects, budget)
            att = Attachment(filename, ctype, len(data), disposition == "inline")
            cid = (part.get("Content-ID") or "").strip().strip("<>")
            if cid and disposition != "attachment":
                inline_candidates.append((cid, att))
            else:
                attachments.append(att)
        elif filename:
            data = _decode_part(part, defects, budget)
            attachments.append(Attachment(filename, ctype, len(data), False))

    referenced = {m.group(1).lower() for m in _CID.finditer(html)} if html else set()
    for cid, att in inline_candidates:
        if cid.lower() not in referenced:
            attachments.append(att)

    if plain is not None and plain.strip():
        body, is_html = plain, False
    elif html is not None:
        body, is_html = html_to_text(html).text, True
    else:
        body, is_html = plain or "", False
    if len(body) > limits.max_body_chars:
        raise TooLargeError(f"body text exceeds {limits.max_body_chars} characters")
    new_text = split_new_text(body)
    closing = find_closing(new_text, sender.display_name if sender else "")

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
        date=_date(next((v for n, v in headers if n.lower() == "date"), None), defects),
        envelope_from=envelope_from,
        envelope_to=tuple(envelope_to),
        defects=tuple(defects),
    )


def _approx_size(part: email.message.Message) -> int:
    payload = part.get_payload()
    if isinstance(payload, list):
        return sum(_approx_size(p) for p in payload if isinstance(p, email.message.Message))
    return len(payload) if isinstance(payload, str | bytes) else 0
