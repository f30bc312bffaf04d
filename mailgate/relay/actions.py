"""Byte-level changes the relay makes to a message before it leaves: line endings normalised once,
the override marker stripped from the Subject, annotation headers added.

Only the changed header lines are rewritten; the body and every other header stay byte-identical.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.header import Header

from mailgate.model import Finding

_LINE_ENDINGS = re.compile(rb"\r\n|\r|\n")  # the same rule aiosmtplib applies when it sends
_HEADER_END = re.compile(rb"\r\n\r\n")
_SUBJECT = re.compile(rb"^subject:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*", re.I | re.M)


def normalize_line_endings(data: bytes) -> bytes:
    """Bare CR and bare LF become CRLF (Postfix ``smtpd_forbid_bare_newline = normalize``).

    The linter sees exactly the bytes upstream will receive (HOSTILE 3): a ``\\nBcc:`` inside a
    header line is a real ``Bcc`` header to both.
    """
    return _LINE_ENDINGS.sub(b"\r\n", data)


def _split(data: bytes) -> tuple[bytes, bytes]:
    m = _HEADER_END.search(data)
    if m is None:
        return data, b""
    return data[: m.start()], data[m.start() :]


def _encode_header(name: str, value: str) -> bytes:
    value = " ".join(value.split())  # no CR/LF from decoded text can become a header break
    if value.isascii():
        line = f"{name}: {value}"
        if len(line) <= 998:
            return line.encode("ascii")
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode("ascii")


def replace_subject(data: bytes, subject: str) -> bytes:
    """Rewrite the (first) Subject header with ``subject``; the rest of the message untouched."""
    head, rest = _split(data)
    m = _SUBJECT.search(head)
    line = _encode_header("Subject", subject)
    head = head[: m.start()] + line + head[m.end() :] if m else head + b"\r\n" + line
    return head + rest


def prepend_headers(data: bytes, headers: Sequence[tuple[str, str]]) -> bytes:
    """Add header lines at the top, the way MTAs add trace and status headers."""
    lines = b"".join(_encode_header(k, v) + b"\r\n" for k, v in headers)
    return lines + data


def annotation_headers(verdict: str, findings: Sequence[Finding], audit_id: str) -> list[tuple[str, str]]:
    ids = sorted({f.check for f in findings})
    return [
        ("X-Mailgate-Verdict", f"{verdict}; id={audit_id}"),
        ("X-Mailgate-Findings", ", ".join(ids) if ids else "none"),
    ]


_OURS = re.compile(
    rb"^x-mailgate-(?:verdict|findings|sender-mismatch):[^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n?", re.I | re.M
)


def strip_annotations(data: bytes) -> bytes:
    """Remove X-Mailgate-* status headers a client put there itself (they are ours to set)."""
    head, rest = _split(data)
    cleaned = _OURS.sub(b"", head + b"\r\n")
    return cleaned.removesuffix(b"\r\n") + rest
