"""Run the enabled checks of a policy over one message.

``lint_bytes`` never raises for a bad message: it returns a report with
``verdict == "error"`` and a typed error code instead (SPEC §4).
"""

from __future__ import annotations

import time
from typing import Literal

from mailgate.context import Context, MessageMemo
from mailgate.errors import LintTimeoutError, MessageError
from mailgate.model import Finding, LintError, Message, Report, Text
from mailgate.parse import parse_message
from mailgate.policy import Policy

Scope = Literal["internal", "external"]


def scope_of(message: Message, policy: Policy) -> Scope:
    """``internal`` when every recipient's domain is internal (SPEC §1)."""
    recipients = message.recipients
    if recipients and all(a.valid and policy.is_internal(a.domain) for a in recipients):
        return "internal"
    if not recipients:
        return "internal"
    return "external"


def _new_text_chars(message: Message) -> int:
    return sum(1 for c in message.new_text if not c.isspace())


def lint_message(message: Message, policy: Policy, *, deadline: float | None = None) -> list[Finding]:
    """Findings of every enabled check that applies to ``message``, in registry order."""
    scope = scope_of(message, policy)
    memo = MessageMemo()
    short_reply = message.is_reply and _new_text_chars(message) < policy.short_reply_chars
    findings: list[Finding] = []
    for spec in policy.registry:
        settings = policy.checks[spec.id]
        if not settings.enabled:
            continue
        if scope == "external" and not spec.external:
            continue
        if message.is_reply and spec.message_type:
            continue
        if short_reply and spec.reply_exempt:
            continue
        ctx = Context(
            check_id=spec.id,
            severity=settings.severity,
            params=settings.params,
            policy=policy,
            message=message,
            scope=scope,
            memo=memo,
        )
        findings.extend(spec.run(message, ctx))
        if deadline is not None and time.monotonic() > deadline:
            raise LintTimeoutError(f"lint exceeded {policy.limits.time_budget_s:g} s")
    return findings


def lint_bytes(
    raw: bytes,
    policy: Policy,
    *,
    envelope_from: str | None = None,
    envelope_to: tuple[str, ...] = (),
) -> Report:
    """Parse and lint; a message that cannot be linted gets an error report."""
    started = time.monotonic()
    deadline = started + policy.limits.time_budget_s
    try:
        message = parse_message(
            raw, envelope_from=envelope_from, envelope_to=envelope_to, limits=policy.limits
        )
        findings = lint_message(message, policy, deadline=deadline)
    except MessageError as exc:
        err = LintError(code=exc.code, message=Text(f"{exc.zh}：{exc.detail}", exc.detail))  # type: ignore[arg-type]
        return Report("error", [], err, None, (time.monotonic() - started) * 1000)
    return Report(Report.verdict_of(findings), findings, None, message, (time.monotonic() - started) * 1000)
