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

from mailgate.policy import Policy
from mailgate.relay.config import RelaySettings, relay_settings
from mailgate.relay.pipeline import Pipeline
from mailgate.relay.server import Relay
from mailgate.relay.upstream import Delivery, OutboxDelivery, SmtpUpstream
from mailgate.relay.worker import Linter, PoolLinter, ThreadLinter
from mailgate.store import Store
from mailgate.store.repo import storage_url


def open_store(policy: Policy) -> Store:
    return Store(storage_url(policy.raw))


def delivery_for(
    settings: RelaySettings, store: Store, *, kind: str = "mail", local_hostname: str | None = None
) -> Delivery:
    """Upstream SMTP or the outbox; ``local_hostname`` is our EHLO name (default: ``[relay] hostname``,
    else aiosmtplib looks the FQDN up per connection)."""
    if settings.upstream is not None:
        return SmtpUpstream(settings.upstream, local_hostname=local_hostname or settings.hostname)
    return OutboxDelivery(store, kind=kind)


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
