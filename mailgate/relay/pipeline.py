"""End of DATA: lint → decide → act, and the audit record of what happened.

Kept apart from the SMTP plumbing so the policy path reads top to bottom in one function.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import Envelope, Session

from mailgate import metrics
from mailgate.policy import Policy
from mailgate.relay import replies
from mailgate.relay.actions import (
    annotation_headers,
    normalize_line_endings,
    prepend_headers,
    replace_subject,
    strip_annotations,
)
from mailgate.relay.auditlog import AuditLog, Row
from mailgate.relay.config import RelaySettings
from mailgate.relay.decide import Decision, DecisionTable, override_reason, strip_override
from mailgate.relay.reportmail import CorrectedDraft, RateLimiter, build_report_mail, safe_fixes, should_report
from mailgate.relay.upstream import Delivery, Transaction, deliver_once
from mailgate.relay.worker import Linter, LintResult, MessageFacts
from mailgate.store import AuditEntry, QuarantineEntry, RetainedMessage, Store
from mailgate.store.models import new_id, utcnow
from mailgate.store.repo import retain_days

if TYPE_CHECKING:
    from mailgate.state import PolicyState

log = logging.getLogger("mailgate.relay")


class LintFailed(Exception):
    """The linter raised, timed out, or a check crashed: the client gets 451 and retries."""


class Pipeline:
    def __init__(
        self,
        settings: RelaySettings,
        state: PolicyState,
        linter: Linter,
        store: Store,
        report_delivery: Delivery,
    ) -> None:
        self.settings = settings
        self.state = state
        self.linter = linter
        self.store = store
        self.report_delivery = report_delivery
        self.limiter = RateLimiter(settings.report_rate)
        self.retain_days = retain_days(state.base.raw)
        self.audit_log = AuditLog(store)
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def policy(self) -> Policy:
        return self.state.policy

    @property
    def table(self) -> DecisionTable:
        return self.state.table

    def processing_timeout(self, size: int) -> float:
        upstream = self.settings.upstream.timeout if self.settings.upstream else 30.0
        return 2 * self._lint_timeout(size) + upstream + 30.0

    def _lint_timeout(self, size: int) -> float:
        return self.policy.limits.budget_for(size) * 1.5 + self.settings.lint_timeout

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _lint(self, data: bytes, mail_from: str, rcpts: Sequence[str]) -> LintResult:
        try:
            async with asyncio.timeout(self._lint_timeout(len(data))):  # no extra task, unlike wait_for
                answer = await self.linter.lint(data, mail_from or None, rcpts, version=self.state.version)
        except TimeoutError as exc:  # a hung worker: replace it rather than wait for it
            log.error("lint overran its deadline; replacing the lint workers")
            self.linter.recycle()
            raise LintFailed("timeout") from exc
        except Exception as exc:  # a crash, a broken worker pool
            log.exception("lint failed")
            raise LintFailed(type(exc).__name__) from exc
        result = answer if isinstance(answer, LintResult) else LintResult.of(answer)
        report = result.report
        if report.crashed:
            log.error("checks crashed: %s", ", ".join(report.crashed))
            raise LintFailed("crashed: " + ", ".join(report.crashed))
        metrics.observe_lint(report, "relay")
        return result

    async def process(self, session: Session, envelope: Envelope, txn: Transaction | None) -> str:
        started = time.monotonic()
        audit_id = new_id()
        mail_from = envelope.mail_from or ""
        rcpts = list(envelope.rcpt_tos)
        utf8 = bool(envelope.smtp_utf8)
        data = strip_annotations(normalize_line_endings(bytes(envelope.original_content or b"")))
        auth_user = str(session.auth_data) if session.authenticated and session.auth_data else None
        audit: dict[str, Any] = {  # the AuditEntry row
            "id": audit_id,
            "client": str(session.peer[0]) if isinstance(session.peer, tuple) else str(session.peer or ""),
            "auth_user": auth_user,
            "sender": mail_from,
            "recipients": rcpts,
            "verdict": "crash",
            "findings": [],
            "action": "tempfail",
        }

        def finish(code: int, reply: str, outcome: str | None = None) -> str:
            audit["smtp_code"] = code
            audit["outcome"] = outcome or reply.split("\r\n")[-1][:500]
            audit["latency_ms"] = (time.monotonic() - started) * 1000
            # Written by the audit log's thread, batched with other messages' rows: the reply does
            # not wait for it (the quarantine and the outbox, above, are written before the reply).
            verdict, action = audit["verdict"], audit["action"]
            if self.retain_days and verdict != "crash":
                self.audit_log.add(self._retained(audit_id, mail_from, rcpts, data), (AuditEntry, audit))
            else:
                self.audit_log.add((AuditEntry, audit))
            log.info("%s %s -> %s %s %s %d", audit_id, mail_from, rcpts, verdict, action, code)
            metrics.observe_decision(verdict, action)
            return reply

        try:
            result = await self._lint(data, mail_from, rcpts)
            override = None
            if result.message is not None and (reason := override_reason(result.message.subject)):
                data = replace_subject(data, strip_override(result.message.subject))
                result = await self._lint(data, mail_from, rcpts)
                override = reason
        except LintFailed as exc:
            return finish(451, replies.TEMPFAIL_LINT, f"lint failed: {exc}")

        report, message = result.report, result.message
        person = self.policy.directory.by_email(mail_from) if mail_from else None
        decision = self.table.decide(
            report.verdict, sender=mail_from, department=person.department if person else None, override=override
        )
        findings = sorted({f.check for f in report.findings})
        audit["verdict"] = report.verdict
        audit["findings"] = findings
        audit["action"] = decision.action
        audit["source"] = decision.source
        audit["message_id"] = (message.header("Message-ID") or "")[:998] if message else None
        audit["report"] = result.report_json
        if decision.override:
            audit["override_reason"] = decision.override
            audit["override_by"] = auth_user or mail_from
        link = self.settings.report_url.format(id=audit_id)

        spoof = self._sender_mismatch(message, mail_from)
        if spoof is not None:
            log.warning("%s header From %s with envelope sender %s", audit_id, spoof, mail_from)
            audit["flags"] = [f"sender-mismatch:{spoof}"]
            if self.settings.sender_mismatch == "reject":
                return finish(550, replies.SENDER_MISMATCH, "sender mismatch")

        if decision.action == "reject":
            return finish(550, replies.reject_reply(report.findings, link, utf8=utf8))

        if decision.action == "hold":
            entry = QuarantineEntry(
                mail_from=mail_from,
                rcpt_to=rcpts,
                data=data,
                mail_options=list(envelope.mail_options),
                audit_id=audit_id,
                verdict=report.verdict,
                findings=findings,
            )
            try:
                await asyncio.to_thread(self.store.add_quarantine, entry)
            except Exception:
                log.exception("quarantine write failed for %s", audit_id)
                return finish(451, replies.TEMPFAIL_STORE, "quarantine write failed")
            self._report_mail(result, data, mail_from, decision, link, self.settings.release_url.format(id=entry.id))
            return finish(250, f"250 2.0.0 OK: held for review as {entry.id}")

        if txn is None:  # cannot happen: a transaction exists once a recipient was accepted
            return finish(451, replies.TEMPFAIL_UPSTREAM, "no upstream transaction")
        out = data
        if decision.format:
            try:
                out = normalize_line_endings(await self.linter.format(out, version=self.state.version))
            except Exception:
                log.exception("format failed for %s; delivering unformatted", audit_id)
        if decision.action == "annotate":
            out = prepend_headers(out, annotation_headers(report.verdict, report.findings, audit_id))
        if spoof is not None:
            out = prepend_headers(out, [("X-Mailgate-Sender-Mismatch", f"envelope={mail_from}; from={spoof}")])
        reply = await txn.send(out)
        if not reply.ok:
            metrics.observe_upstream_error(reply.code)
            return finish(reply.code, replies.passed_back(reply.code, reply.text), f"upstream: {reply.code}")
        if decision.action == "advise":
            self._report_mail(result, data, mail_from, decision, link, "")
        queued = "local outbox" in reply.text  # say where it went when it did not go to a mail server
        return finish(250, replies.passed_back(250, reply.text) if queued else replies.OK_DELIVERED)

    def _retained(self, audit_id: str, mail_from: str, rcpts: list[str], data: bytes) -> Row:
        """Opt-in (``[storage] retain_days``): keep the bytes so a proposed policy can be replayed."""
        expires = utcnow() + dt.timedelta(days=self.retain_days)
        values = {"audit_id": audit_id, "mail_from": mail_from, "rcpt_to": rcpts, "data": data, "expires_at": expires}
        return RetainedMessage, values

    def _sender_mismatch(self, message: MessageFacts | None, mail_from: str) -> str | None:
        """HOSTILE 24: the header From of one of our domains on mail whose envelope sender is not ours."""
        if self.settings.sender_mismatch == "off" or not mail_from or message is None:
            return None
        sender = message.sender
        if sender is None or not sender.key:
            return None
        ours = {d.lower() for d in self.policy.internal_domains}
        header_domain = sender.key.rpartition("@")[2]
        envelope_domain = mail_from.rpartition("@")[2].lower()
        if header_domain in ours and envelope_domain not in ours:
            return sender.key
        return None

    def _report_mail(
        self, result: LintResult, data: bytes, mail_from: str, decision: Decision, link: str, release: str
    ) -> None:
        message, report = result.message, result.report
        if message is None or not report.findings or not should_report(message, mail_from, self.policy):
            return
        if not self.limiter.allow(mail_from):
            log.info("report mail to %s suppressed by the rate limit", mail_from)
            return

        async def build() -> bytes:
            draft = None
            if safe_fixes(report.findings):  # the corrected draft: one format pass in a lint worker
                try:
                    fixed = await self.linter.format(data, version=self.state.version)
                except Exception:
                    log.warning("no corrected draft for the report mail to %s: format failed", mail_from, exc_info=True)
                else:
                    if fixed != data:  # parsed off the event loop: the message may be megabytes
                        draft = await asyncio.to_thread(CorrectedDraft.of, fixed, report.findings)
            return build_report_mail(
                message=message,
                findings=report.findings,
                action=decision.action,
                sender=mail_from,
                report_from=self.settings.report_from,
                link=link,
                release_link=release,
                draft=draft,
            )

        task = asyncio.ensure_future(self._send_report(mail_from, build()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_report(self, to: str, mail: Awaitable[bytes]) -> None:
        try:
            data = await mail
        except Exception:  # a report mail is advice: its failure is logged, the relayed mail is unaffected
            log.exception("report mail to %s not built", to)
            return
        reply, _ = await deliver_once(self.report_delivery, self.settings.report_from, [to], data)
        if not reply.ok:
            log.warning("report mail to %s not delivered: %s %s", to, reply.code, reply.text)
