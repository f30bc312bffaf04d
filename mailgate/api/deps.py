"""What every route needs: the app's services and the caller's identity.

Auth is a dependency on the routers themselves (not per route), so a new route cannot forget it:
``viewer`` routers read, ``admin`` routers write. Only ``Authorization: Bearer <token>`` counts —
never a query parameter or a cookie. Every refusal is a uniform 401 (no or bad token) or 403
(a viewer token on a write).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.routing import APIRoute

from mailgate.api import ratelimit
from mailgate.api.ratelimit import RateLimiter
from mailgate.api.settings import ApiSettings
from mailgate.api.tokens import verify_token
from mailgate.state import PolicyState
from mailgate.store import Store
from mailgate.templating.gallery import Gallery


@dataclass
class Services:
    state: PolicyState
    store: Store
    settings: ApiSettings
    lint_slots: asyncio.Semaphore
    gallery: Gallery | None = None  # None: [api] gallery = false
    open_limiter: RateLimiter | None = None  # the open routes that lint, per client address
    auth_limiter: RateLimiter | None = None  # failed token attempts, per client address


@dataclass(frozen=True)
class Caller:
    name: str  # who, for the audit trail: "token:<name>/<id>" or "anonymous"
    role: str  # admin | viewer | anonymous


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


_UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED,
    detail={"code": "unauthorized", "message": "需要有效的令牌 / a valid bearer token is required"},
    headers={"WWW-Authenticate": "Bearer"},
)


async def caller(request: Request, svc: Annotated[Services, Depends(services)]) -> Caller:
    known: Caller | None = request.scope.get("mailgate.caller")
    if known is not None:  # already decided by AuthFirst, before the body was read
        return known
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise _UNAUTHORIZED
    who = await caller_of_token(svc, token, request)
    if who is None:
        raise _UNAUTHORIZED
    request.scope["mailgate.caller"] = who
    return who


async def caller_of_token(svc: Services, token: str, request: Request) -> Caller | None:
    """Who a bearer token belongs to; None for an empty, padded, unknown or revoked one, which
    counts as a failed attempt of the requesting client (429 once it made too many: see ratelimit)."""
    ratelimit.check(svc.auth_limiter, request, spend=False)
    row = None
    if token and token == token.strip():
        row = await asyncio.to_thread(verify_token, svc.store, token)
    if row is None:
        if svc.auth_limiter is not None:
            svc.auth_limiter.take(ratelimit.client_of(request))
        return None
    return Caller(name=f"token:{row.name or '-'}/{row.id[:8]}", role=row.role)


async def viewer(who: Annotated[Caller, Depends(caller)]) -> Caller:
    return who


async def admin(who: Annotated[Caller, Depends(caller)]) -> Caller:
    if who.role != "admin":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "forbidden", "message": "需要管理员令牌 / an admin token is required"},
        )
    return who


async def lint_caller(request: Request, svc: Annotated[Services, Depends(services)]) -> Caller:
    """``POST /v1/lint`` and ``/v1/format``: open when ``[api] public_lint``, else any token."""
    if svc.settings.public_lint and not request.headers.get("authorization"):
        ratelimit.check(svc.open_limiter, request)
        return Caller(name="anonymous", role="anonymous")
    return await caller(request, svc)


ServicesDep = Annotated[Services, Depends(services)]
ViewerDep = Annotated[Caller, Depends(viewer)]
AdminDep = Annotated[Caller, Depends(admin)]


_BAD_URL = HTTPException(
    status.HTTP_400_BAD_REQUEST,
    detail={"code": "bad-url", "message": "地址中含有 NUL 字符 / the URL contains a NUL character"},
)


def _nul_in_url(request: Request) -> bool:
    """No route takes a NUL, and PostgreSQL text cannot hold one: a NUL in a filter or an id would
    reach the database as a 500 (schemathesis found ``/v1/audit?sender=%00``)."""
    query: bytes = request.scope.get("query_string", b"")
    return "\x00" in request.url.path or b"%00" in query or b"\x00" in query


class AuthFirst(APIRoute):
    """Decides auth before FastAPI reads the body. FastAPI decodes a JSON body before it solves any
    dependency, so without this invalid JSON is a 422 (undecodable bytes a 400) ahead of the 401/403:
    the answer to a bad token would depend on the body. Routers that carry ``viewer``/``admin`` use it
    (``APIRouter(..., route_class=AuthFirst)``); routes without those dependencies are left as they are.
    After auth, a URL holding a NUL is refused (400 ``bad-url``): the answer without a token stays 401."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guards = {d.dependency for d in self.dependencies} & {viewer, admin}
        if not guards:
            return handler

        async def guarded(request: Request) -> Response:
            who = await caller(request, services(request))
            if admin in guards:
                await admin(who)
            if _nul_in_url(request):
                raise _BAD_URL
            return await handler(request)

        return guarded


async def open_limit(request: Request, svc: Annotated[Services, Depends(services)]) -> None:
    """For the open routes that lint (the gallery's posts): the per-client rate limit."""
    ratelimit.check(svc.open_limiter, request)
