"""API test harness: an app over a real store (SQLite file, or PostgreSQL when MAILGATE_TEST_PG is set)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailgate.api import ApiSettings, build_app
from mailgate.api.tokens import create_token
from mailgate.policy import Policy, load_policy
from mailgate.state import PolicyState
from mailgate.store import Store
from tests.conftest import EXAMPLES
from tests.db import fresh_store_url


@pytest.fixture(scope="session")
def demo_policy() -> Policy:
    return load_policy(EXAMPLES / "mailgate.toml", env={})


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    with fresh_store_url(tmp_path) as url:
        yield url


@dataclasses.dataclass
class Api:
    client: TestClient
    store: Store
    state: PolicyState
    admin: dict[str, str]  # Authorization headers
    viewer: dict[str, str]

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=kw.pop("headers", self.admin), **kw)


@pytest.fixture
def make_api(demo_policy: Policy, store_url: str) -> Iterator[Callable[..., Api]]:
    made: list[tuple[TestClient, Store]] = []

    def make(**settings: Any) -> Api:
        store = Store(store_url)
        state = PolicyState(demo_policy, store)
        state.refresh()
        app = build_app(state, store, ApiSettings(**settings), poll=False)
        client = TestClient(app)
        client.__enter__()
        made.append((client, store))
        _, admin = create_token(store, "admin", "test-admin")
        _, viewer = create_token(store, "viewer", "test-viewer")
        return Api(client, store, state, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {viewer}"})

    yield make
    for client, store in made:
        client.__exit__(None, None, None)
        store.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
