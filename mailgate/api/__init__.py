"""The admin HTTP API (FastAPI): lint over HTTP, live tuning, versioned policy, directory, quarantine.

    settings.py  ``[api]`` settings          deps.py     services and auth dependencies
    tokens.py    bearer tokens (hashed)      limits.py   body size / JSON depth before parsing
    changes.py   admin change → new version  app.py      the application factory
    routes/      one module per area
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from mailgate.api.app import create_app
from mailgate.api.deps import Services
from mailgate.api.ratelimit import RateLimiter
from mailgate.api.settings import ApiSettings, api_settings
from mailgate.state import PolicyState
from mailgate.store import Store
from mailgate.templating.gallery import Gallery


def build_app(state: PolicyState, store: Store, settings: ApiSettings, *, poll: bool = True) -> FastAPI:
    gallery = Gallery(store) if settings.gallery else None
    limiter = RateLimiter(settings.open_rate, settings.open_burst) if settings.open_rate > 0 else None
    failures = RateLimiter(settings.auth_fail_rate, settings.auth_fail_burst) if settings.auth_fail_rate > 0 else None
    svc = Services(state=state, store=store, settings=settings, lint_slots=asyncio.Semaphore(settings.lint_workers),
                   gallery=gallery, open_limiter=limiter, auth_limiter=failures)  # fmt: skip
    return create_app(svc, poll=poll)


__all__ = ["ApiSettings", "Services", "api_settings", "build_app", "create_app"]
