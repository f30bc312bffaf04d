"""The SMTP relay that ``mailgate serve`` runs (SPEC §3): a before-queue policy proxy.

    server.py    aiosmtpd SMTP subclass + handler: limits, who may relay, the upstream transaction
    pipeline.py  end of DATA: lint (worker.py) → decide (decide.py) → act (actions.py), audit
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


def delivery_for(settings: RelaySettings, store: Store, *, kind: str = "mail") -> Delivery:
    if settings.upstream is not None:
        return SmtpUpstream(settings.upstream)
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
    pipeline = Pipeline(settings, state, linter, store, delivery_for(settings, store, kind="report"))
    return Relay(settings, delivery_for(settings, store), pipeline)


__all__ = ["Relay", "RelaySettings", "build_relay", "delivery_for", "open_store", "relay_settings"]
