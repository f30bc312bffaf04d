"""The report mail sent to a sender whose message was advised or held (zh-CN, jinja2).

It lists each finding with its suggestion and, when safe fixes apply, the corrected draft: its
subject and text inline (what was corrected, then the draft) and, for a held message — which the
sender may fix and send again — the whole corrected message attached as ``修正稿.eml``.

Report mails never loop: none for bounces (null sender), auto-submitted mail, reports (ours or
anyone's ``multipart/report``), list or bulk mail, or senders outside the internal domains; and
at most ``report_rate`` per sender per hour.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from typing import Protocol

import jinja2

from mailgate.errors import MessageError
from mailgate.model import Address, Applicability, Finding, Fix
from mailgate.parse import parse_message
from mailgate.policy import Policy

REPORT_HEADER = "X-Mailgate-Report"

TEMPLATE = """\
{{ name or sender }}，您好：

{% if action == "hold" -%}
您于 {{ date }} 发出的邮件《{{ subject }}》未通过公司邮件规范检查，已暂存待审核，尚未送达收件人。
管理员审核通过后会放行；您也可以按下列建议修改后重新发送。
{%- else -%}
您于 {{ date }} 发出的邮件《{{ subject }}》已送达，但有以下几处可以改进，供下次参考。
{%- endif %}

{% for f in findings -%}
{{ loop.index }}. [{{ f.check }}] {{ f.message }}
{%- if f.suggestion %}
   建议：{{ f.suggestion }}
{%- endif %}
{% endfor %}
{%- if more %}
另有 {{ more }} 条问题，见完整报告。
{% endif %}
完整报告：{{ link }}
{%- if action == "hold" %}
审核与放行：{{ release_link }}
{%- endif %}
{%- if draft %}

按规范自动修正后的草稿（已做的安全修正：{{ draft.fixes|join("；") }}）
{%- if attached %}。完整的修正稿在附件“修正稿.eml”中，可打开后修改、重新发送{% endif %}：
———— 修正稿 ————
标题：{{ draft.subject }}

{{ draft.body }}
{%- if draft.cut %}
……（以下省略 {{ draft.cut }} 字{% if attached %}，见附件{% endif %}）
{%- endif %}
———— 修正稿结束 ————
{%- endif %}

此邮件由邮件规范网关自动发送，请勿直接回复。
"""

DECISION_TEMPLATE = """\
您好：

您于 {{ at }} 发出、被暂存待审核的邮件《{{ subject }}》
{%- if status == "released" %}已由管理员审核放行，现已投递给收件人。
{%- else %}已由管理员审核后丢弃，不会投递。如仍需发送，请按检查报告中的建议修改后重新发送。
{%- endif %}

暂存邮件页面：{{ link }}

此邮件由邮件规范网关自动发送，请勿直接回复。
"""


class MailFacts(Protocol):
    """What the report mail reads of the sender's message: a parsed ``Message`` or the relay's
    ``MessageFacts`` (the headers a worker sends back)."""

    @property
    def subject(self) -> str: ...
    @property
    def sender(self) -> Address | None: ...
    def header(self, name: str) -> str | None: ...


_env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
_template = _env.from_string(TEMPLATE)
_decision = _env.from_string(DECISION_TEMPLATE)
MAX_LISTED = 20
DRAFT_SHOWN = 6000  # characters of the corrected text shown inline
ATTACH_MAX = 2_000_000  # a larger corrected message is not attached (the inline text still is)
DRAFT_NAME = "修正稿.eml"


def safe_fixes(findings: Sequence[Finding]) -> list[Fix]:
    """The fixes ``mailgate format`` would apply unasked (what a corrected draft corrects)."""
    return [f.fix for f in findings if f.fix is not None and f.fix.applicability is Applicability.SAFE]


@dataclass(frozen=True)
class CorrectedDraft:
    """The sender's message after the safe fixes (``mailgate format``), as the report mail shows it."""

    subject: str
    body: str
    cut: int  # characters of the body not shown inline
    fixes: tuple[str, ...]  # what was corrected (zh-CN), once each
    data: bytes

    @classmethod
    def of(cls, fixed: bytes, findings: Sequence[Finding]) -> CorrectedDraft | None:
        """None when the fixed message cannot be read back (then the mail simply has no draft)."""
        try:  # mailgate's own parser: the charset fallbacks of the lint (a GBK body without a label …)
            msg = parse_message(fixed)
        except MessageError:  # cannot be read back: no draft, but still the report
            return None
        subject = _one_line(msg.subject)
        body = msg.body.replace("\r\n", "\n").strip("\n")
        fixes = dict.fromkeys(fix.description.get("zh-CN") for fix in safe_fixes(findings))
        return cls(subject, body[:DRAFT_SHOWN], max(0, len(body) - DRAFT_SHOWN), tuple(fixes), fixed)


def mailable_sender(envelope_from: str, policy: Policy) -> bool:
    """An internal person's address: not a bounce, not outside the company, not a robot's."""
    local, _, domain = envelope_from.lower().rpartition("@")
    if not envelope_from or not policy.is_internal(domain):
        return False
    return local not in {"mailer-daemon", "postmaster", "mailgate", "noreply", "no-reply"}


def should_report(message: MailFacts | None, envelope_from: str, policy: Policy) -> bool:
    """False for anything that could make a loop or go outside the company."""
    if message is None or not mailable_sender(envelope_from, policy):
        return False
    auto = (message.header("Auto-Submitted") or "no").strip().lower()
    if auto != "no":
        return False
    if message.header(REPORT_HEADER) is not None:
        return False
    if (message.header("Precedence") or "").strip().lower() in {"bulk", "junk", "list", "auto_reply"}:
        return False
    if message.header("List-Id") is not None:
        return False
    ctype = (message.header("Content-Type") or "").lower()
    return "multipart/report" not in ctype


class RateLimiter:
    """At most ``limit`` events per key in any ``window`` seconds (in memory, per relay process)."""

    def __init__(self, limit: int, window: float = 3600.0) -> None:
        self.limit, self.window = limit, window
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        q = self._events[key.lower()]
        while q and q[0] <= now - self.window:
            q.popleft()
        if len(q) >= self.limit:
            return False
        q.append(now)
        return True


def _one_line(text: str) -> str:
    """Decoded header text may hold CR/LF (RFC 2047 tricks): never let it become a header break."""
    return " ".join(text.split())


def build_report_mail(
    *,
    message: MailFacts,
    findings: Sequence[Finding],
    action: str,
    sender: str,
    report_from: str,
    link: str,
    release_link: str = "",
    draft: CorrectedDraft | None = None,
) -> bytes:
    name = _one_line(message.sender.display_name) if message.sender is not None else ""
    attach = draft is not None and action == "hold" and len(draft.data) <= ATTACH_MAX
    ranked = sorted(findings, key=lambda f: -f.severity.rank)
    listed = [
        {"check": f.check, "message": f.message.get("zh-CN"), "suggestion": f.suggestion.get("zh-CN")}
        for f in ranked[:MAX_LISTED]
    ]
    body = _template.render(
        name=name,
        sender=sender,
        action=action,
        date=message.header("Date") or "",
        subject=_one_line(message.subject),
        findings=listed,
        more=max(0, len(ranked) - MAX_LISTED),
        link=link,
        release_link=release_link,
        draft=draft,
        attached=attach,
    )
    mail = EmailMessage(policy=SMTP_POLICY)
    mail["From"] = f"邮件规范网关 <{report_from}>"
    mail["To"] = sender
    label = "已暂存待审核" if action == "hold" else "改进建议"
    mail["Subject"] = f"【邮件规范检查】{label}：{_one_line(message.subject)}"[:200]
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain=report_from.rpartition("@")[2] or None)
    original_id = message.header("Message-ID")
    if original_id and "\n" not in original_id and "\r" not in original_id:
        mail["In-Reply-To"] = original_id.strip()
    mail["Auto-Submitted"] = "auto-generated"
    mail[REPORT_HEADER] = action
    mail.set_content(body, charset="utf-8")
    if attach and draft is not None:
        # application/octet-stream, base64: message/rfc822 may not be base64-encoded (RFC 2046 §5.2.1)
        # and the draft's own 8-bit text must not depend on the next hop's 8BITMIME; clients open
        # an .eml attachment by its name.
        mail.add_attachment(draft.data, maintype="application", subtype="octet-stream", filename=DRAFT_NAME)
    return bytes(mail)


def build_decision_mail(*, subject: str, sender: str, status: str, at: str, link: str, report_from: str) -> bytes:
    """The notice to the sender of a held message that an administrator released or discarded it."""
    label = "已放行" if status == "released" else "已丢弃"
    mail = EmailMessage(policy=SMTP_POLICY)
    mail["From"] = f"邮件规范网关 <{report_from}>"
    mail["To"] = sender
    mail["Subject"] = f"【邮件规范检查】{label}：{_one_line(subject)}"[:200]
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain=report_from.rpartition("@")[2] or None)
    mail["Auto-Submitted"] = "auto-generated"
    mail[REPORT_HEADER] = status
    body = _decision.render(subject=_one_line(subject), status=status, at=at, link=link)
    mail.set_content(body, charset="utf-8")
    return bytes(mail)
