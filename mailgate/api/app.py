"""The FastAPI application that ``mailgate serve`` runs on ``[api] listen`` (issue: admin HTTP API).

    create_app(services) → FastAPI

Routers carry their auth as a router dependency (``viewer`` to read, ``admin`` to write); the only
open routes are /healthz, /readyz, /metrics and, with ``[api] public_lint = true``, POST /v1/lint
and /v1/format. /docs and /openapi.json need a viewer token too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from mailgate.api.deps import Services, viewer
from mailgate.api.limits import BodyLimits
from mailgate.api.routes import (
    checks,
    directory,
    gallery,
    health,
    holds,
    lint,
    policy,
    quarantine,
    reports,
    simulate,
    stats,
    templates,
)
from mailgate.errors import ConfigError

log = logging.getLogger("mailgate.api")

API_ROUTERS = [
    health.router,
    lint.router,
    checks.read,
    checks.write,
    policy.read,
    policy.write,
    directory.read,
    directory.write,
    quarantine.read,
    quarantine.write,
    stats.read,
    simulate.router,
    reports.read,
    reports.pages,  # /reports/{audit_id}: open by design (a capability URL, see routes/reports.py)
    templates.read,
    templates.write,
    holds.pages,  # /quarantine/{id}: open by design (the release link of a hold's report mail)
    gallery.pages,  # /gallery: open by design (employees draft mail; [api] gallery = false turns it off)
]


async def _poll(svc: Services) -> None:
    while True:
        await asyncio.sleep(svc.settings.policy_poll)
        try:
            await asyncio.to_thread(svc.state.refresh)
        except Exception:
            log.warning("policy refresh failed; keeping version %d", svc.state.version, exc_info=True)


def create_app(svc: Services, *, poll: bool = True) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.ensure_future(_poll(svc)) if poll else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            if svc.gallery is not None:
                svc.gallery.close()

    app = FastAPI(
        title="mailgate admin API",
        version="1",
        description="Lint mail, tune every check, version the policy (zh-CN messages first, English beside).",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.services = svc
    for router in API_ROUTERS:
        app.include_router(router)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(viewer)])
    async def openapi() -> JSONResponse:
        return JSONResponse(schema(app))

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(viewer)], response_class=HTMLResponse)
    async def docs() -> HTMLResponse:
        spec = json.dumps(schema(app), ensure_ascii=False).replace("</", "<\\/")
        return HTMLResponse(_DOCS.replace("__SPEC__", spec), headers={"Content-Security-Policy": _DOCS_CSP})

    @app.exception_handler(ConfigError)
    async def config_error(request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": {"code": "invalid", "message": str(exc)}}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"detail": {"code": "internal", "message": "内部错误，已记录 / internal error, logged"}},
                            status_code=500)  # fmt: skip

    app.add_middleware(BodyLimits, max_bytes=svc.settings.max_body_bytes, max_depth=svc.settings.max_json_depth)
    return app


OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def schema(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        spec.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        spec["security"] = [{"bearer": []}]
        for path, operations in spec.get("paths", {}).items():
            if path in OPEN_PATHS or path.startswith("/reports/"):
                for operation in operations.values():
                    operation["security"] = []  # open by design
        app.openapi_schema = spec
    return app.openapi_schema


_DOCS_CSP = "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; style-src https://cdn.jsdelivr.net"
_DOCS = """<!doctype html><html><head><meta charset="utf-8"><title>mailgate API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div><script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({dom_id: "#ui", spec: __SPEC__});</script></body></html>"""
