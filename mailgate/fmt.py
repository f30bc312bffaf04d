"""``mailgate format``: apply safe fixes, keeping the MIME structure.

Only the bytes that change are rewritten: the Subject header, added header
lines, the body of the text/plain part and of the text/html part. Each
rewritten part keeps its charset and Content-Transfer-Encoding; every other
byte of the message (other headers, attachments, boundaries) stays identical.
Fixes found on the plain text are found again on the HTML part's text and
mapped back into the HTML through the extraction offset map; an edit whose
span crosses markup is skipped rather than risked.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.message
import quopri
import re
from dataclasses import dataclass, field, replace
from email import policy as email_policy
from email.header import Header

from mailgate.lint import lint_bytes, lint_message
from mailgate.mimebytes import Span, locate
from mailgate.model import Applicability, Edit, Finding, Message, Report
from mailgate.parse.charset import codec_for, normalize_label
from mailgate.parse.html import html_to_text
from mailgate.parse.quotes import find_closing, split_new_text
from mailgate.policy import Policy

MAX_PASSES = 3


@dataclass
class FormatResult:
    data: bytes
    applied: list[Finding] = field(default_factory=list)
    error: str | None = None
    report: Report | None = None  # the lint of ``data`` itself, when the last pass made one

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def safe_edits(findings: list[Finding], fld: str) -> list[tuple[Finding, Edit]]:
    out: list[tuple[Finding, Edit]] = []
    for f in findings:
        if f.fix is None or f.fix.applicability is not Applicability.SAFE:
            continue
        out.extend((f, e) for e in f.fix.edits if e.field == fld)
    return out


def apply_edits(text: str, edits: list[Edit]) -> tuple[str, list[Edit]]:
    """Apply non-overlapping edits (first come wins); returns the new text and the edits applied."""
    chosen: list[Edit] = []
    for e in sorted(edits, key=lambda e: (e.start, e.end)):
        if not 0 <= e.start <= e.end <= len(text):
            continue
        if chosen and e.start < chosen[-1].end:
            continue
        if chosen and e.start == e.end == chosen[-1].start == chosen[-1].end:
            continue
        chosen.append(e)
    for e in reversed(chosen):
        text = text[: e.start] + e.text + text[e.end :]
    return text, chosen


def _leaves(root: email.message.Message) -> list[tuple[tuple[int, ...], email.message.Message]]:
    out: list[tuple[tuple[int, ...], email.message.Message]] = []
    stack: list[tuple[tuple[int, ...], email.message.Message]] = [((), root)]
    while stack:
        path, part = stack.pop()
        payload = part.get_payload()
        if part.get_content_maintype() == "multipart" and isinstance(payload, list):
            for i in reversed(range(len(payload))):
                child = payload[i]
                if isinstance(child, email.message.Message):
                    stack.append(((*path, i), child))
        else:
            out.append((path, part))
    return out


def _is_body(part: email.message.Message, subtype: str) -> bool:
    return (
        part.get_content_type() == f"text/{subtype}"
        and (part.get_content_disposition() or "") != "attachment"
        and not part.get_filename()
    )


def _decode(part: email.message.Message) -> tuple[str, str, str] | None:
    """(text with \\n newlines, the codec that decoded it, original newline), or None if unsafe to rewrite.

    The part's own label is tried first so that the fixed text is re-encoded the same way.
    """
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return None
    label = part.get_content_charset()
    for codec in dict.fromkeys(c for c in (_python_codec(normalize_label(label)), codec_for(label), "utf-8") if c):
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        newline = "\r\n" if "\r\n" in text else "\n"
        return text.replace("\r\n", "\n"), codec, newline
    return None


def _python_codec(label: str) -> str:
    try:
        return codecs.lookup(label).name if label else ""
    except LookupError:
        return ""


def _encode_body(part: email.message.Message, text: str, codec: str, newline: str, raw_body: bytes) -> bytes:
    data = None
    for name in (codec, codec_for(codec) or "utf-8"):
        try:
            data = text.replace("\n", newline).encode(name)
            break
        except (UnicodeEncodeError, LookupError):
            continue
    if data is None:
        raise ValueError("fixed text cannot be encoded in the part's charset")
    cte = (part.get("Content-Transfer-Encoding") or "").strip().lower()
    eol = b"\r\n" if b"\r\n" in raw_body else b"\n"
    if cte == "base64":
        b64 = base64.b64encode(data)
        lines = [b64[i : i + 76] for i in range(0, len(b64), 76)]
        return eol.join(lines) + eol
    if cte == "quoted-printable":
        qp = quopri.encodestring(data.replace(b"\r\n", b"\n"))
        return qp.replace(b"\n", eol) + (eol if not qp.endswith(b"\n") else b"")
    return data


def _html_edits(message: Message, html: str, policy: Policy) -> list[Edit]:
    """Safe body fixes found on the HTML part's own text, mapped into the HTML source."""
    extracted = html_to_text(html)
    text = extracted.text
    new_text = split_new_text(text)
    variant = replace(
        message,
        body=text,
        body_is_html=True,
        new_text=new_text,
        closing_start=find_closing(new_text, message.sender.display_name if message.sender else ""),
    )
    findings = lint_message(variant, policy)
    out = []
    offs = extracted.offsets
    for _, e in safe_edits(findings, "body"):
        if e.start == e.end:
            at = offs[e.start]
            out.append(Edit("body", at, at, _escape(e.text)))
            continue
        first, last = offs[e.start], offs[e.end - 1]
        if last - first != e.end - 1 - e.start:
            continue  # the span crosses markup or an entity: not safe to rewrite
        if "\n" in text[e.start : e.end]:
            continue
        out.append(Edit("body", first, last + 1, _escape(e.text)))
    return out


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_SUBJECT_LINE = re.compile(rb"^subject:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.I | re.M)
_ENCODED_CHARSET = re.compile(rb"=\?([^?\s]+)\?[bBqQ]\?")


def _rewrite_headers(raw: bytes, span_end: int, subject: str | None, added: list[str]) -> bytes:
    head, rest = raw[:span_end], raw[span_end:]
    eol = b"\r\n" if b"\r\n" in head[:2000] else b"\n"
    if subject is not None:
        m = _SUBJECT_LINE.search(head)
        charset = "utf-8"
        if m:
            cm = _ENCODED_CHARSET.search(m.group(0))
            if cm:
                charset = cm.group(1).decode("ascii", "replace")
        try:
            subject.encode(codec_for(charset) or "utf-8")
        except (UnicodeEncodeError, LookupError):
            charset = "utf-8"
        if subject.isascii():
            value = subject
        else:
            value = Header(subject, charset=_header_charset(charset), header_name="Subject").encode(
                linesep=eol.decode()
            )
        line = b"Subject: " + value.encode("ascii", "replace")
        head = head[: m.start()] + line + head[m.end() :] if m else head + eol + line
    for h in added:
        head = head + eol + h.encode("utf-8")
    return head + rest


def _header_charset(label: str) -> str:
    norm = normalize_label(label)
    return {"gbk": "gb18030", "gb2312": "gb2312", "x-gbk": "gb18030"}.get(norm, norm or "utf-8")


def format_bytes(raw: bytes, policy: Policy) -> FormatResult:
    """Apply every safe fix; never raises for a bad message (``error`` says why nothing changed)."""
    applied: list[Finding] = []
    data = raw
    for _ in range(MAX_PASSES):
        report = lint_bytes(data, policy)
        if report.error is not None or report.message is None:
            return FormatResult(data, applied, None if applied else report.error.message.en if report.error else None)
        try:
            new, used = _format_once(data, report.message, report.findings, policy)
        except (ValueError, UnicodeError, LookupError, binascii.Error) as exc:
            return FormatResult(data, applied, f"cannot apply fixes safely: {exc}")
        if not used or new == data:
            return FormatResult(data, applied, report=report)  # nothing more to fix: report is of data
        applied.extend(used)
        data = new
    return FormatResult(data, applied)


def _format_once(
    raw: bytes, message: Message, findings: list[Finding], policy: Policy
) -> tuple[bytes, list[Finding]]:
    used: list[Finding] = []
    # Subject.
    subject = None
    subj = safe_edits(findings, "subject")
    if subj:
        subject, chosen = apply_edits(message.subject, [e for _, e in subj])
        used += [f for f, e in subj if e in chosen]
    # Header additions.
    added = []
    for f, e in safe_edits(findings, "headers"):
        if e.text and message.header(e.text.partition(":")[0]) is None and e.text not in added:
            added.append(e.text)
            used.append(f)
    # Bodies: plain part from the findings, html part from its own text.
    root = email.message_from_bytes(raw, policy=email_policy.compat32)
    spans = {s.path: s for s in locate(raw)}
    replacements: list[tuple[Span, bytes]] = []
    body = safe_edits(findings, "body")
    for path, part in _leaves(root):
        span = spans.get(path)
        if span is None:
            continue
        if _is_body(part, "plain") and not message.body_is_html and body:
            decoded = _decode(part)
            if decoded is None or decoded[0].replace("\x00", " ") != message.body:
                continue
            text, codec, newline = decoded
            fixed, chosen = apply_edits(text, [e for _, e in body])
            if chosen:
                new_body = _encode_body(part, fixed, codec, newline, raw[span.body_start : span.body_end])
                replacements.append((span, new_body))
                used += [f for f, e in body if e in chosen and f not in used]
        elif _is_body(part, "html"):
            decoded = _decode(part)
            if decoded is None:
                continue
            text, codec, newline = decoded
            edits = _html_edits(message, text, policy)
            fixed, chosen = apply_edits(text, edits)
            if chosen:
                new_body = _encode_body(part, fixed, codec, newline, raw[span.body_start : span.body_end])
                replacements.append((span, new_body))
                if message.body_is_html:
                    used += [f for f, _ in body if f not in used]
    out = raw
    for span, new_body in sorted(replacements, key=lambda r: r[0].body_start, reverse=True):
        tail = out[span.body_start : span.body_end]
        # Keep the line break that precedes the next boundary.
        trailing = b""
        for eol in (b"\r\n", b"\n"):
            if tail.endswith(eol) and not new_body.endswith(eol):
                trailing = eol
                break
        out = out[: span.body_start] + new_body + trailing + out[span.body_end :]
    if subject is not None or added:
        top = _top_header_end(out)
        out = _rewrite_headers(out, len(out) if top is None else top, subject, added)
    return out, used


def _top_header_end(raw: bytes) -> int | None:
    m = re.search(rb"\r?\n\r?\n", raw)
    return m.start() if m else None
