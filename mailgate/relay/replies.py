"""SMTP replies rendered from data: findings, upstream answers, our own refusals.

Replies are UTF-8 (zh-CN) only when the client used ``SMTPUTF8``; otherwise they are English and
pure ASCII. Every line stays under the RFC 5321 limit of 512 octets.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from mailgate.model import Finding, Severity

MAX_FINDINGS = 10
MAX_LINE = 400  # octets of text per reply line (512 with the code, leaving room)

_PUNCT = str.maketrans({"【": "[", "】": "]", "《": '"', "》": '"', "“": '"', "”": '"', "‘": "'", "’": "'", "、": ","})
_NON_ASCII_RUN = re.compile(r"[^\x20-\x7e]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def to_ascii(text: str) -> str:
    """Readable ASCII: full-width forms folded, other non-ASCII runs shown as ``...``."""
    text = unicodedata.normalize("NFKC", text.translate(_PUNCT))
    return _NON_ASCII_RUN.sub("...", _CONTROL.sub(" ", text))


def _clip(text: str, utf8: bool) -> str:
    text = _CONTROL.sub(" ", text).strip()
    data = text.encode("utf-8" if utf8 else "ascii", "replace")
    if len(data) <= MAX_LINE:
        return text
    return data[: MAX_LINE - 3].decode("utf-8", "ignore") + "..."


def multiline(code: int, lines: Sequence[str], *, utf8: bool = False) -> str:
    """``550-…`` continuation lines and a final ``550 …`` line (one string, CRLF-separated)."""
    clean = [_clip(line if utf8 else to_ascii(line), utf8) for line in lines] or [""]
    out = [f"{code}-{line}" for line in clean[:-1]]
    out.append(f"{code} {clean[-1]}")
    return "\r\n".join(out)


def reject_reply(findings: Sequence[Finding], link: str, *, utf8: bool) -> str:
    """``550 5.7.1``: one line per error or warning (errors first, at most 10), then the report link.

    Info findings (typography, layout, signature) stay in the full report: the client's
    bounce dialog is for what blocks the mail.
    """
    locale = "zh-CN" if utf8 else "en"
    ranked = sorted((f for f in findings if f.severity is not Severity.INFO), key=lambda f: -f.severity.rank)
    head = "邮件未发送：不符合公司邮件规范，请修改后重发" if utf8 else "Message not sent: it breaks the mail rules"
    lines = [f"5.7.1 {head}"]
    for f in ranked[:MAX_FINDINGS]:
        msg = f.message.get(locale)
        sug = f.suggestion.get(locale)
        sep = "；建议：" if utf8 else "; fix: "
        lines.append(f"5.7.1 [{f.check}] {msg}{sep + sug if sug else ''}")
    more = len(findings) - min(len(ranked), MAX_FINDINGS)
    if more > 0:
        lines.append(f"5.7.1 另有 {more} 条问题见完整报告" if utf8 else f"5.7.1 {more} more in the full report")
    override = "确需发送时，在主题末尾加上 [override: 理由] 后重发" if utf8 else (
        "To send it anyway, resend with [override: reason] at the end of the subject"
    )
    lines.append(f"5.7.1 {override}")
    lines.append(f"5.7.1 {'完整报告' if utf8 else 'Full report'}: {link}")
    return multiline(550, lines, utf8=utf8)


def passed_back(code: int, message: str) -> str:
    """An upstream answer handed to our client: code kept, text cleaned to ASCII lines."""
    lines = [ln for ln in message.replace("\r", "").split("\n") if ln.strip()] or ["upstream refused the message"]
    return multiline(code, lines)


# Our own fixed replies (no internal detail ever reaches the client).
OK_DELIVERED = "250 2.0.0 OK: delivered"
TEMPFAIL_LINT = "451 4.3.0 Temporary local problem, please try again later"
TEMPFAIL_UPSTREAM = "451 4.4.1 Upstream mail server unavailable, please try again later"
TEMPFAIL_STORE = "451 4.3.0 Temporary storage problem, please try again later"
RELAY_DENIED = "554 5.7.1 Relay access denied"
TOO_MANY_RCPTS = "452 4.5.3 Too many recipients"
BAD_ADDRESS = "553 5.1.3 Bad address syntax"
BAD_SENDER = "553 5.1.7 Bad sender address syntax"
TOO_BIG = "552 5.3.4 Message size exceeds fixed limit"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
NO_SMTPUTF8_UPSTREAM = "553 5.6.7 Internationalised address not supported by the next hop"
IMPROPER_PIPELINING = "503 5.5.0 Improper pipelining: wait for each reply (PIPELINING is not offered)"
DATA_IDLE = "421 4.4.2 Timeout waiting for message data, closing connection"
AUTH_LOCKED = "454 4.7.0 Too many failed authentications, try again later"
NEEDS_SMTPUTF8 = "553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter"
SENDER_NOT_OWNED = "553 5.7.1 Sender address rejected: not owned by the authenticated user"
SENDER_NEEDS_AUTH = "550 5.7.1 Sender address rejected: this domain's senders must authenticate"
SENDER_MISMATCH = "550 5.7.1 The From: header names one of our domains but the envelope sender does not"
