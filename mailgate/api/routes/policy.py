"""Tags, lexicons, the recipient-rule table, the verdict→action policy, and its version history."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from mailgate.api.changes import Doc, commit, section
from mailgate.api.deps import AdminDep, AuthFirst, ServicesDep, admin, viewer
from mailgate.api.errors import iso, problem
from mailgate.relay.decide import DEFAULTS

read = APIRouter(prefix="/v1", tags=["policy"], dependencies=[Depends(viewer)], route_class=AuthFirst)
write = APIRouter(prefix="/v1", tags=["policy"], dependencies=[Depends(admin)], route_class=AuthFirst)

MAX_VERSION = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL
TAG_CHECK = "subject-tag"
RULES_CHECK = "recipients-scope"
ActionName = Literal["deliver", "reject", "hold", "advise", "annotate", "monitor"]
Word = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\r\n\x00]+$")]
Name = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[^\r\n\x00/]+$")]


def _not_found(what: str) -> HTTPException:
    return problem(status.HTTP_404_NOT_FOUND, "not-found", what)


# -- tags ----------------------------------------------------------------------------------------


class Tags(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[^\r\n\x00【】\[\]]+$")]] = Field(
        min_length=1, max_length=200
    )


@read.get("/tags", summary="The allowed subject tags")
async def get_tags(svc: ServicesDep) -> dict[str, Any]:
    params = svc.state.policy.checks[TAG_CHECK].params
    return {"tags": list(params.tags), "policy_version": svc.state.version}  # type: ignore[attr-defined]


@write.put("/tags", summary="Replace the allowed subject tags")
async def put_tags(body: Tags, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    tags = list(dict.fromkeys(body.tags))

    def mutate(doc: Doc) -> None:
        section(doc, "checks", TAG_CHECK)["tags"] = tags

    change = await commit(svc.state, svc.store, mutate, author=who.name, comment="tags")
    return {**(await get_tags(svc)), "change": change}


# -- lexicons ------------------------------------------------------------------------------------


class WordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    add: list[Word] = Field(default_factory=list, max_length=1000)
    remove: list[Word] = Field(default_factory=list, max_length=1000)


@read.get("/lexicons", summary="Every lexicon: category → words in effect")
async def get_lexicons(svc: ServicesDep) -> dict[str, Any]:
    lex = svc.state.policy.lexicons
    return {"lexicons": {n: {c: list(w) for c, w in cats.items()} for n, cats in lex.items()}}


@read.get("/lexicons/{name}", summary="One lexicon")
async def get_lexicon(name: Name, svc: ServicesDep) -> dict[str, Any]:
    lex = svc.state.policy.lexicons
    if name not in lex:
        raise _not_found(f"no lexicon {name!r}")
    return {"name": name, "categories": {c: list(w) for c, w in lex[name].items()}}


@write.patch("/lexicons/{name}", summary="Add or remove words, per category")
async def patch_lexicon(
    name: Name, body: dict[Annotated[str, Field(max_length=100)], WordChange], svc: ServicesDep, who: AdminDep
) -> dict[str, Any]:
    lex = svc.state.policy.lexicons
    if name not in lex:
        raise _not_found(f"no lexicon {name!r}")
    unknown = set(body) - set(lex[name])
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={"code": "invalid", "message": f"unknown categories {sorted(unknown)}; have {sorted(lex[name])}"},
        )

    def mutate(doc: Doc) -> None:
        cats = section(doc, "lexicons", name)
        for cat, change in body.items():
            entry = cats.setdefault(cat, {"add": [], "remove": []})
            adds = [w for w in entry.get("add", []) if w not in change.remove]
            removes = [w for w in entry.get("remove", []) if w not in change.add]
            entry["add"] = list(dict.fromkeys(adds + change.add))
            entry["remove"] = list(dict.fromkeys(removes + change.remove))

    change = await commit(svc.state, svc.store, mutate, author=who.name, comment=f"lexicons.{name}")
    return {**(await get_lexicon(name, svc)), "change": change}


# -- recipient rules ------------------------------------------------------------------------------


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: Annotated[str, Field(min_length=1, max_length=20)]
    require: str = Field(max_length=40)
    department: str = Field(default="", max_length=100)


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[Rule] = Field(max_length=200)


@read.get("/recipient-rules", summary="The recipient-rule table (tag → who must receive it)")
async def get_rules(svc: ServicesDep) -> dict[str, Any]:
    params = svc.state.policy.checks[RULES_CHECK].params
    rules = [r.model_dump(mode="json") for r in params.rules]  # type: ignore[attr-defined]
    return {"rules": rules, "policy_version": svc.state.version}


@write.put("/recipient-rules", summary="Replace the recipient-rule table")
async def put_rules(body: Rules, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    rules = [r.model_dump() for r in body.rules]

    def mutate(doc: Doc) -> None:
        section(doc, "checks", RULES_CHECK)["rules"] = rules

    change = await commit(svc.state, svc.store, mutate, author=who.name, comment="recipient-rules")
    return {**(await get_rules(svc)), "change": change}


# -- verdict → action ------------------------------------------------------------------------------


class Layer(BaseModel):
    """Actions per verdict for one scope; absent keys fall through to the wider scope."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    pass_: ActionName | None = Field(default=None, alias="pass")
    warn: ActionName | None = None
    fail: ActionName | None = None
    error: ActionName | None = None
    format: bool | None = None

    def values(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


@read.get("/policy", summary="Verdict → action: defaults, global, per department, per sender")
async def get_policy(svc: ServicesDep) -> dict[str, Any]:
    table = svc.state.table
    return {
        "defaults": dict(DEFAULTS),
        "global": dict(table.base),
        "departments": {k: dict(v) for k, v in table.departments.items()},
        "senders": {k: dict(v) for k, v in table.senders.items()},
        "policy_version": svc.state.version,
    }


async def _set_layer(
    svc: ServicesDep, who: AdminDep, path: tuple[str, ...], values: dict[str, Any] | None
) -> dict[str, Any]:
    """Replace (or, with ``values`` None, remove) the layer at ``policy.<path>``."""

    def mutate(doc: Doc) -> None:
        parent = section(doc, "policy", *path[:-1])
        if values is None:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = dict(values)

    change = await commit(svc.state, svc.store, mutate, author=who.name, comment="policy." + ".".join(path))
    return {**(await get_policy(svc)), "change": change}


@write.put("/policy/global", summary="Set the global layer")
async def put_global(body: Layer, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    def mutate(doc: Doc) -> None:
        node = section(doc, "policy")
        for key in ("pass", "warn", "fail", "error", "format"):
            node.pop(key, None)
        node.update(body.values())

    change = await commit(svc.state, svc.store, mutate, author=who.name, comment="policy.global")
    return {**(await get_policy(svc)), "change": change}


@write.put("/policy/departments/{name}", summary="Set one department's layer")
async def put_department(name: Name, body: Layer, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    return await _set_layer(svc, who, ("departments", name), body.values())


@write.delete("/policy/departments/{name}", summary="Remove one department's layer")
async def delete_department(name: Name, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    return await _set_layer(svc, who, ("departments", name), None)


@write.put("/policy/senders/{address}", summary="Set one sender's layer")
async def put_sender(address: Name, body: Layer, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    return await _set_layer(svc, who, ("senders", address.lower()), body.values())


@write.delete("/policy/senders/{address}", summary="Remove one sender's layer")
async def delete_sender(address: Name, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    return await _set_layer(svc, who, ("senders", address.lower()), None)


# -- versions ------------------------------------------------------------------------------------


def _version_json(row: Any, *, doc: bool = False) -> dict[str, Any]:
    out = {"version": row.version, "at": iso(row.at), "author": row.author, "comment": row.comment}
    out["diff"] = row.diff
    if doc:
        out["doc"] = row.doc
    return out


@read.get("/policy/history", summary="Every change: version, who, when, diff (newest first)")
async def history(
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> dict[str, Any]:
    rows = await asyncio.to_thread(svc.store.policy_history, limit, before)
    return {"current": svc.state.version, "versions": [_version_json(r) for r in rows]}


@read.get("/policy/versions/{version}", summary="One version, with its whole admin layer")
async def get_version(version: Annotated[int, Path(ge=1, le=MAX_VERSION)], svc: ServicesDep) -> dict[str, Any]:
    row = await asyncio.to_thread(svc.store.get_policy_version, version)
    if row is None:
        raise _not_found(f"no policy version {version}")
    return _version_json(row, doc=True)


@write.post("/policy/rollback/{version}", summary="Make an old version current again (as a new version)")
async def rollback(
    version: Annotated[int, Path(ge=0, le=MAX_VERSION)], svc: ServicesDep, who: AdminDep
) -> dict[str, Any]:
    if version == 0:
        target: dict[str, Any] = {}
    else:
        row = await asyncio.to_thread(svc.store.get_policy_version, version)
        if row is None:
            raise _not_found(f"no policy version {version}")
        target = dict(row.doc)

    def mutate(doc: Doc) -> None:
        doc.clear()
        doc.update(target)

    return await commit(svc.state, svc.store, mutate, author=who.name, comment=f"rollback to version {version}")
