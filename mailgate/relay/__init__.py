"""The SMTP relay that ``mailgate serve`` runs (SPEC §3): a before-queue policy proxy.

    server.py    aiosmtpd SMTP subclass + handler: limits, who may relay, the upstream transaction
    pipeline.py  end of DATA: lint (worker.py) → decide (decide.py) → act (actions.py), audit
    auditlog.py  the audit rows, written after the reply in batches by one background thread
    worker.py    the lint worker processes, on socket pairs read by the event loop
    upstream.py  the real mail server (aiosmtplib) or the local outbox
    replies.py   SMTP replies rendered from findings
    reportmail.py the report mail to the sender (zh-CN, jinja2), loop-proof and rate-limited
"""

from __future__ import annotations

import logging

from mailgate.model import china_time
from mailgate.policy import Policy
from mailgate.relay.config import RelaySettings, relay_settings
from mailgate.relay.pipeline import Pipeline
from mailgate.relay.reportmail import build_decision_mail, mailable_sender
from mailgate.relay.server import Relay
from mailgate.relay.upstream import ConnectionPool, Delivery, OutboxDelivery, SmtpUpstream, deliver_once
from mailgate.relay.worker import Linter, PoolLinter, ThreadLinter
from mailgate.report import subject_of
from mailgate.store import QuarantineEntry, Store
from mailgate.store.repo import storage_url

log = logging.getLogger("mailgate.relay")


def open_store(policy: Policy) -> Store:
    return Store(storage_url(policy.raw))


def delivery_for(
    settings: RelaySettings,
    store: Store,
    *,
    kind: str = "mail",
    local_hostname: str | None = None,
    pooled: bool = True,
) -> Delivery:
    """Upstream SMTP or the outbox; ``local_hostname`` is our EHLO name (default: ``[relay] hostname``,
    else aiosmtplib looks the FQDN up per connection). ``pooled=False`` for a delivery made for one
    transaction (a release, a notice): its connection ends with QUIT instead of idling in a pool
    nobody will use again."""
    if settings.upstream is not None:
        pool = ConnectionPool() if pooled else None
        return SmtpUpstream(settings.upstream, pool, local_hostname=local_hostname or settings.hostname)
    return OutboxDelivery(store, kind=kind)


async def notify_decision(policy: Policy, settings: RelaySettings, store: Store, entry: QuarantineEntry) -> bool:
    """Tell the sender of a held message that an administrator released or discarded it (the API,
    its page and ``mailgate quarantine`` all call this after settling). Only internal people get
    one (never a bounce, a robot or an outside address); True when the next hop took it. A notice
    that cannot be sent is logged: the decision itself stands."""
    if entry.status not in ("released", "discarded") or not mailable_sender(entry.mail_from, policy):
        return False
    data = build_decision_mail(
        subject=subject_of(entry.data),
        sender=entry.mail_from,
        status=entry.status,
        at=china_time(entry.at).strftime("%Y-%m-%d %H:%M"),
        link=settings.release_url.format(id=entry.id),
        report_from=settings.report_from,
    )
    try:
        delivery = delivery_for(settings, store, kind="report", pooled=False)
        reply, _ = await deliver_once(delivery, settings.report_from, [entry.mail_from], data)
    except Exception:
        log.warning("decision notice for %s not sent", entry.id, exc_info=True)
        return False
    if not reply.ok:
        log.warning("decision notice for %s refused: %s %s", entry.id, reply.code, reply.text)
    return reply.ok


def build_relay(
    policy: Policy,
    *,
    settings: RelaySettings | None = None,
    linter: Linter | None = None,
    store: Store | None = None,
) -> Relay:
    """A relay wired from the config; tests pass their own linter, store or settings."""
    settings = settings or relay_settings(policy)
    from mailgate.state import PolicyState  # mailgate.state imports relay.decide: import late

    store = store or open_store(policy)
    state = PolicyState(policy, store)
    state.refresh()
    linter = linter or PoolLinter(settings.config_path, settings.worker_count)
    if isinstance(linter, ThreadLinter) and linter.state is None:
        linter.state = state
    hostname = settings.smtp_hostname  # looked up once, here, not per upstream connection
    report_delivery = delivery_for(settings, store, kind="report", local_hostname=hostname)
    pipeline = Pipeline(settings, state, linter, store, report_delivery)
    return Relay(settings, delivery_for(settings, store, local_hostname=hostname), pipeline)


__all__ = ["Relay", "RelaySettings", "build_relay", "delivery_for", "open_store", "relay_settings"]
