"""Admin changes: each one a new policy version (who, when, diff), validated before it is stored."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, status

from mailgate.api.errors import problem
from mailgate.errors import ConfigError
from mailgate.state import PolicyState
from mailgate.store import PolicyVersion, Store, VersionConflict

Doc = dict[str, Any]


def diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Leaf-level differences between two JSON values: ``{"path", "old", "new"}``."""
    if isinstance(old, dict) and new is None:
        new = {}
    if isinstance(new, dict) and old is None:
        old = {}
    if _keyed(old) and _keyed(new):  # e.g. directory.people: one entry per changed person, not the list
        old, new = {p["email"].lower(): p for p in old}, {p["email"].lower(): p for p in new}
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[dict[str, Any]] = []
        for key in sorted({*old, *new}, key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += diff(old.get(key), new.get(key), sub)
        return out
    if old == new or (old == {} and new is None) or (new == {} and old is None):
        return []
    return [{"path": path, "old": old, "new": new}]


def _keyed(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(p, dict) and isinstance(p.get("email"), str) for p in value)


def unprocessable(message: str) -> HTTPException:
    return problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid", message)


def _commit(
    state: PolicyState, store: Store, mutate: Callable[[Doc], None], author: str, comment: str
) -> PolicyVersion | None:
    for _ in range(5):
        state.refresh()
        base, current = state.seen, state.doc
        doc = copy.deepcopy(current)
        mutate(doc)
        changes = diff(current, doc)
        if not changes:
            return None
        try:
            state.build(doc)
        except ConfigError as exc:
            raise unprocessable(str(exc)) from None
        try:
            row = store.add_policy_version(doc, base=base, author=author, diff=changes, comment=comment)
        except VersionConflict:
            continue  # someone else changed it first: re-read, re-apply, re-validate
        state.set(row.version, doc)
        return row
    raise problem(status.HTTP_409_CONFLICT, "conflict", "并发修改过多，请重试 / too many concurrent changes, retry")


async def commit(
    state: PolicyState, store: Store, mutate: Callable[[Doc], None], *, author: str, comment: str = ""
) -> dict[str, Any]:
    """Apply ``mutate`` to a copy of the admin layer and store it as the next version."""
    row = await asyncio.to_thread(_commit, state, store, mutate, author, comment)
    if row is None:
        return {"version": state.version, "changed": False, "diff": []}
    return {"version": row.version, "changed": True, "diff": row.diff}


def section(doc: Doc, *path: str) -> dict[str, Any]:
    """``doc[path[0]][path[1]]…``, created as empty tables where missing."""
    node = doc
    for key in path:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise unprocessable(f"{'.'.join(path)} is not a table")
    return node
