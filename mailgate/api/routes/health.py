"""Unauthenticated probes: /healthz (the process answers), /readyz (the store answers), /metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mailgate.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the store answers and the policy is loaded")
async def readyz(svc: ServicesDep) -> JSONResponse:
    try:
        version = await asyncio.wait_for(asyncio.to_thread(svc.store.latest_version), timeout=5)
    except Exception:
        return JSONResponse({"status": "unavailable", "reason": "store"}, status_code=503)
    return JSONResponse({"status": "ok", "policy_version": svc.state.version, "store_version": version})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
