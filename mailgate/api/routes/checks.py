"""Tuning the checks: documentation, params schema, effective values and where each comes from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from mailgate.api.changes import Doc, commit, section
from mailgate.api.deps import AdminDep, AuthFirst, ServicesDep, admin, viewer
from mailgate.api.errors import problem
from mailgate.explain import check_info
from mailgate.model import Severity

read = APIRouter(prefix="/v1/checks", tags=["checks"], dependencies=[Depends(viewer)], route_class=AuthFirst)
write = APIRouter(prefix="/v1/checks", tags=["checks"], dependencies=[Depends(admin)], route_class=AuthFirst)


class CheckPatch(BaseModel):
    """Fields to change; absent fields stay as they are. ``params`` is validated by the check's schema."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    severity: Severity | None = None
    params: dict[str, Any] = Field(default_factory=dict)


def _info(svc: ServicesDep, check_id: str) -> dict[str, Any]:
    policy = svc.state.policy
    if check_id not in policy.registry:
        raise problem(status.HTTP_404_NOT_FOUND, "not-found", f"no check {check_id!r}")
    return {**check_info(policy, policy.registry.get(check_id)), "policy_version": svc.state.version}


@read.get("", summary="Every check with its documentation, params schema, values and their sources")
async def list_checks(svc: ServicesDep) -> dict[str, Any]:
    policy = svc.state.policy
    return {"policy_version": svc.state.version, "checks": [check_info(policy, spec) for spec in policy.registry]}


@read.get("/{check_id}", summary="One check")
async def get_check(check_id: str, svc: ServicesDep) -> dict[str, Any]:
    return _info(svc, check_id)


@write.patch("/{check_id}", summary="Change enabled, severity or params (422 with the reason when invalid)")
async def patch_check(check_id: str, body: CheckPatch, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    _info(svc, check_id)

    def mutate(doc: Doc) -> None:
        entry = section(doc, "checks", check_id)
        if body.enabled is not None:
            entry["enabled"] = body.enabled
        if body.severity is not None:
            entry["severity"] = body.severity.value
        entry.update(body.params)

    change = await commit(svc.state, svc.store, mutate, author=who.name, comment=f"checks.{check_id}")
    return {**_info(svc, check_id), "change": change}


@write.delete("/{check_id}/admin", summary="Drop the admin changes of one check (back to the config file)")
async def reset_check(check_id: str, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    _info(svc, check_id)

    def mutate(doc: Doc) -> None:
        doc.get("checks", {}).pop(check_id, None)

    change = await commit(svc.state, svc.store, mutate, author=who.name, comment=f"reset checks.{check_id}")
    return {**_info(svc, check_id), "change": change}
