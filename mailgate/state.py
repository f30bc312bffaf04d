"""The live policy: ``mailgate.toml`` with the newest admin version from the store laid over it.

Every process that lints (relay, API, lint workers) holds a :class:`PolicyState` and calls
:meth:`PolicyState.refresh` often (the relay and the API every ``[api] policy_poll`` seconds,
0.5 by default). A refresh is one indexed ``SELECT max(version)``; only a new version is read and
built. So a change made through the API of any instance sharing the database takes effect
everywhere within a second, without a restart. A stored version that no longer validates (say
a check's parameter was renamed by an upgrade) is logged and skipped, never half-applied.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from mailgate.errors import ConfigError
from mailgate.policy import Policy, build_policy
from mailgate.relay.decide import DecisionTable
from mailgate.store import Store
from mailgate.store.repo import storage_url

log = logging.getLogger("mailgate.state")


def apply_admin(base: Policy, doc: Mapping[str, Any]) -> Policy:
    """``base`` (as built from the config file) with an admin layer over it; ConfigError if invalid."""
    directory = None if "directory" in doc else base.directory
    return build_policy(base.raw, registry=base.registry, directory=directory, admin=doc)


class PolicyState:
    def __init__(self, base: Policy, store: Store | None = None) -> None:
        self.base = base
        self.store = store
        self.version = 0
        self.doc: dict[str, Any] = {}
        self.policy = base
        self.table = DecisionTable.from_config(base.raw.get("policy", {}))
        self._lock = threading.Lock()
        self._skipped: int | None = None

    def build(self, doc: Mapping[str, Any]) -> tuple[Policy, DecisionTable]:
        """Validate an admin layer into a policy and its decision table (ConfigError if invalid)."""
        policy = apply_admin(self.base, doc)
        return policy, DecisionTable.from_config(policy.raw.get("policy", {}))

    def refresh(self) -> bool:
        """Load the newest version if it changed; True when the policy changed."""
        if self.store is None:
            return False
        latest = self.store.latest_version()
        if latest == self.version or latest == self._skipped:
            return False
        with self._lock:
            if latest == self.version:
                return False
            try:  # the newest version that validates (a new instance must not fall back to config only)
                for row in self.store.policy_history(limit=50, before=latest + 1):
                    if row.version <= self.version:
                        return False
                    if self._apply(row.version, dict(row.doc or {})):
                        return True
                return False
            finally:
                self._skipped = latest if self.version != latest else None

    @property
    def seen(self) -> int:
        """The newest stored version considered (in effect, or skipped as invalid): the next change's base."""
        return max(self.version, self._skipped or 0)

    def at(self, version: int) -> Policy:
        """The policy at ``version`` (lint workers: the relay says which version is in effect)."""
        if version != self.version:
            with self._lock:
                if version != self.version:
                    if self.store is None:
                        self.store = Store(storage_url(self.base.raw))
                    row = self.store.get_policy_version(version) if version else None
                    self._apply(version, dict(row.doc or {}) if row is not None else {})
        return self.policy

    def set(self, version: int, doc: Mapping[str, Any]) -> bool:
        """Adopt a version just written by this process (no need to wait for the next poll)."""
        with self._lock:
            if version <= self.version:
                return False
            return self._apply(version, dict(doc))

    def _apply(self, version: int, doc: dict[str, Any]) -> bool:
        try:
            policy, table = self.build(doc)
        except ConfigError as exc:
            log.error("policy version %d does not validate, keeping version %d: %s", version, self.version, exc)
            self._skipped = max(version, self._skipped or 0)
            return False
        self.version, self.doc, self.policy, self.table = version, doc, policy, table
        log.info("policy version %d in effect", version)
        return True

