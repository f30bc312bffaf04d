"""Run the enabled checks of a policy over one message.

``lint_bytes`` never raises for a bad message: it returns a report with
``verdict == "error"`` and a typed error code instead (SPEC §4). A check that
raises is a bug: it is logged with its traceback, named in ``Report.crashed``,
and the other checks still run. The per-message time budget (5 s + 1 s/MB by
default) is enforced between checks and, in the main thread, by a timer that
interrupts a check that runs away.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator
from typing import Literal

from mailgate.context import Context, MessageMemo
from mailgate.errors import LintTimeoutError, MessageError
from mailgate.model import Finding, LintError, Message, Report, Text
from mailgate.parse import parse_message
from mailgate.policy import Policy

Scope = Literal["internal", "external"]
log = logging.getLogger("mailgate.lint")


def scope_of(message: Message, policy: Policy) -> Scope:
    """``internal`` when every recipient's domain is internal (SPEC §1)."""
    recipients = message.recipients
    if not recipients:
        return "internal"
    if all(a.valid and policy.is_internal(a.domain) for a in recipients):
        return "internal"
    return "external"


def _new_text_chars(message: Message) -> int:
    return sum(1 for c in message.new_text if not c.isspace())


def lint_message(
    message: Message,
    policy: Policy,
    *,
    deadline: float | None = None,
    crashed: list[str] | None = None,
) -> list[Finding]:
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
        try:
            findings.extend(spec.run(message, ctx))
        except (LintTimeoutError, MessageError):
            raise
        except Exception:
            log.exception("check %s raised on message %s", spec.id, message.header("Message-ID"))
            if crashed is None:
                raise
            crashed.append(spec.id)
        if deadline is not None and time.monotonic() > deadline:
            raise LintTimeoutError(f"lint exceeded its time budget of {deadline:.1f} s")
    return findings


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread only; elsewhere only the soft deadline applies)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def fire(signum: int, frame: object) -> None:
        raise LintTimeoutError(f"lint exceeded its time budget of {seconds:.1f} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def lint_bytes(
    raw: bytes,
    policy: Policy,
    *,
    envelope_from: str | None = None,
    envelope_to: tuple[str, ...] = (),
) -> Report:
    """Parse and lint; a message that cannot be linted gets an error report."""
    started = time.monotonic()
    budget = policy.limits.budget_for(len(raw))
    crashed: list[str] = []
    try:
        with _alarm(budget * 1.2):
            message = parse_message(
                raw, envelope_from=envelope_from, envelope_to=envelope_to, limits=policy.limits
            )
            findings = lint_message(message, policy, deadline=started + budget, crashed=crashed)
    except MessageError as exc:
        detail = exc.detail if exc.code != "timeout" else f"no result within {budget:.1f} s"
        err = LintError(code=exc.code, message=Text(f"{exc.zh}：{detail}", detail))  # type: ignore[arg-type]
        return Report("error", [], err, None, (time.monotonic() - started) * 1000)
    elapsed = (time.monotonic() - started) * 1000
    return Report(Report.verdict_of(findings), findings, None, message, elapsed, tuple(crashed))
