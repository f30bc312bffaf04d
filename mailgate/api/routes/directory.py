"""The company directory over HTTP: people, departments, CSV import (SPEC §4 format).

The directory in effect is ``state.policy.directory``: the CSV named by ``[organization]
directory`` until the first change made here, then the admin layer's ``directory.people`` —
the whole list, so each change is one new policy version (who, when, diff; rollback works)
that every instance sharing the database picks up at its next poll. The recipient checks and
the relay's per-department decisions read the same directory, so a change is live at once.

Everything a name or alias holds can end up in a suggestion or in an address a fix writes
into To/Cc, so names, aliases and departments refuse control characters and the address
delimiters ``<>",;|``.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from mailgate.api.changes import Doc, commit, unprocessable
from mailgate.api.deps import AdminDep, AuthFirst, ServicesDep, admin, viewer
from mailgate.api.errors import problem
from mailgate.directory import Directory, Person
from mailgate.errors import DirectoryError
from mailgate.state import PolicyState

read = APIRouter(prefix="/v1/directory", tags=["directory"], dependencies=[Depends(viewer)], route_class=AuthFirst)
write = APIRouter(prefix="/v1/directory", tags=["directory"], dependencies=[Depends(admin)], route_class=AuthFirst)

REQUIRED = ("email", "name", "department", "role")
_BAD_CHARS = frozenset('<>",;|\\') | {chr(c) for c in range(32)} | {"\x7f", "\u2028", "\u2029"}
_CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/octet-stream")

Role = Literal["head", "member"]
NameText = Annotated[str, Field(min_length=1, max_length=100)]
DeptText = Annotated[str, Field(max_length=100)]
Email = Annotated[str, Field(min_length=3, max_length=254)]
EmailPath = Annotated[str, Path(min_length=3, max_length=254)]
DeptPath = Annotated[str, Path(min_length=1, max_length=100)]


class PersonFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: NameText
    department: DeptText = ""
    role: Role = "member"
    aliases: list[NameText] = Field(default_factory=list, max_length=50)


class PersonIn(PersonFields):
    email: Email


class PersonPut(PersonFields):
    email: Email | None = Field(default=None, description="a new address for this person (optional)")


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: NameText


def _not_found(message: str) -> HTTPException:
    return problem(status.HTTP_404_NOT_FOUND, "not-found", message)


def _conflict(message: str) -> HTTPException:
    return problem(status.HTTP_409_CONFLICT, "conflict", message)


def _person_json(p: Person) -> dict[str, Any]:
    return {"email": p.email, "name": p.name, "department": p.department, "role": p.role, "aliases": list(p.aliases)}


_RULE = 'at most 100 characters, no control characters and none of < > " , ; | \\'


def plain_text(value: str) -> bool:
    """A name, alias or department that is safe inside a suggestion or a display name."""
    return len(value) <= 100 and not any(c in _BAD_CHARS for c in value)


def validate_rows(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Rows as the admin layer stores them; 422 naming the row at fault (each row comes with its label)."""
    out: list[dict[str, Any]] = []
    seen: dict[str, str] = {}

    def invalid(where: str, why: str) -> HTTPException:
        return unprocessable(f"目录行无效 / invalid directory row ({where}): {why}")

    for where, row in rows:
        try:
            person = Directory.from_rows([row], source="", first_line=0).people[0]
        except DirectoryError as exc:
            raise invalid(where, str(exc).removeprefix(":0: ")) from None
        texts = [("name", person.name), ("department", person.department), *(("alias", a) for a in person.aliases)]
        for label, value in texts:
            if not plain_text(value):
                raise invalid(where, f"{label} {value[:100]!r}: {_RULE}")
        if not person.name:
            raise invalid(where, "name is empty")
        if len(person.email) > 254:
            raise invalid(where, "email is too long")
        if person.key in seen:
            raise invalid(where, f"{person.email} is already on {seen[person.key]}")
        seen[person.key] = where
        out.append(_person_json(person))
    return out


def _people(state: PolicyState, doc: Doc) -> list[dict[str, Any]]:
    """The people list the admin layer holds, or the config file's directory before any change."""
    node = doc.get("directory")
    if isinstance(node, dict):
        return [dict(p) for p in node.get("people") or []]
    return state.base.directory.to_rows()


def _index(people: list[dict[str, Any]], email: str) -> int | None:
    key = email.strip().lower()
    for i, p in enumerate(people):
        if str(p.get("email", "")).lower() == key:
            return i
    return None


async def _change(
    svc: ServicesDep, who: AdminDep, edit: Callable[[list[dict[str, Any]]], None], comment: str
) -> dict[str, Any]:
    """Apply ``edit`` to the people list of the latest version and commit it as a new version."""

    def mutate(doc: Doc) -> None:
        people = _people(svc.state, doc)
        edit(people)
        doc["directory"] = {"people": people}

    change = await commit(svc.state, svc.store, mutate, author=who.name, comment=comment)
    # The diff of a directory change is the whole people list: see /v1/policy/versions/{version}.
    return {"version": change["version"], "changed": change["changed"]}


def _source(svc: ServicesDep) -> str:
    return "admin" if "directory" in svc.state.doc else "config"


# -- people ------------------------------------------------------------------------------------


@read.get("/people", summary="People, filtered by department or a search over name, alias and email")
async def list_people(
    svc: ServicesDep,
    department: Annotated[str | None, Query(max_length=100)] = None,
    role: Role | None = None,
    q: Annotated[str | None, Query(max_length=100, description="substring of name, alias or email")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    people: Iterable[Person] = svc.state.policy.directory.people
    if department is not None:
        people = (p for p in people if p.department == department)
    if role is not None:
        people = (p for p in people if p.role == role)
    if q:
        needle = q.strip().casefold()
        people = (p for p in people if any(needle in s.casefold() for s in (p.email, p.name, *p.aliases)))
    matched = list(people)
    return {
        "total": len(matched),
        "limit": limit,
        "offset": offset,
        "people": [_person_json(p) for p in matched[offset : offset + limit]],
        "source": _source(svc),
        "policy_version": svc.state.version,
    }


@read.get("/people/{email}", summary="One person")
async def get_person(email: EmailPath, svc: ServicesDep) -> dict[str, Any]:
    person = svc.state.policy.directory.by_email(email)
    if person is None:
        raise _not_found(f"目录中没有 {email} / {email} is not in the directory")
    return {**_person_json(person), "policy_version": svc.state.version}


@write.post("/people", status_code=status.HTTP_201_CREATED, summary="Add a person (409 if the address exists)")
async def add_person(body: PersonIn, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    row = validate_rows([("body", body.model_dump())])[0]

    def edit(people: list[dict[str, Any]]) -> None:
        if _index(people, row["email"]) is not None:
            raise _conflict(f"目录中已有 {row['email']} / {row['email']} is already in the directory")
        people.append(row)

    change = await _change(svc, who, edit, f"directory: add {row['email']}")
    return {"person": row, "change": change}


@write.put("/people/{email}", summary="Replace one person's name, department, role and aliases (or address)")
async def put_person(email: EmailPath, body: PersonPut, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    row = validate_rows([("body", {**body.model_dump(), "email": body.email or email.strip()})])[0]

    def edit(people: list[dict[str, Any]]) -> None:
        at = _index(people, email)
        if at is None:
            raise _not_found(f"目录中没有 {email} / {email} is not in the directory")
        other = _index(people, row["email"])
        if other is not None and other != at:
            raise _conflict(f"目录中已有 {row['email']} / {row['email']} is already in the directory")
        people[at] = row

    change = await _change(svc, who, edit, f"directory: update {email}")
    return {"person": row, "change": change}


@write.delete("/people/{email}", summary="Remove a person")
async def delete_person(email: EmailPath, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    def edit(people: list[dict[str, Any]]) -> None:
        at = _index(people, email)
        if at is None:
            raise _not_found(f"目录中没有 {email} / {email} is not in the directory")
        del people[at]

    return {"removed": email, "change": await _change(svc, who, edit, f"directory: remove {email}")}


# -- departments -------------------------------------------------------------------------------


def _department_json(directory: Directory, name: str) -> dict[str, Any]:
    members = directory.members_of(name)
    heads = [{"email": p.email, "name": p.name} for p in members if p.is_head]
    return {"name": name, "heads": heads, "members": len(members)}


@read.get("/departments", summary="Departments: name, heads, number of people")
async def list_departments(svc: ServicesDep) -> dict[str, Any]:
    directory = svc.state.policy.directory
    return {
        "departments": [_department_json(directory, d) for d in directory.departments()],
        "policy_version": svc.state.version,
    }


@write.put("/departments/{name}", summary="Rename a department (its people move with it)")
async def rename_department(name: DeptPath, body: Rename, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    new = body.name.strip()
    if not new or not plain_text(new):
        raise unprocessable(f"部门名无效 / invalid department name {body.name[:100]!r}: {_RULE}")
    moved = 0

    def edit(people: list[dict[str, Any]]) -> None:
        nonlocal moved
        moved = 0
        for p in people:
            if p.get("department") == name:
                p["department"] = new
                moved += 1
        if not moved:
            raise _not_found(f"没有部门 {name} / no department {name!r}")

    change = await _change(svc, who, edit, f"directory: rename department {name} to {new}")
    warnings = []
    if name in svc.state.table.departments:
        warnings.append(f"处理策略仍按旧部门名配置 / the verdict→action policy still has a layer for {name!r}")
    rules = getattr(svc.state.policy.checks["recipients-scope"].params, "rules", ())
    if any(getattr(r, "department", "") == name for r in rules):
        warnings.append(f"收件人规则仍引用旧部门名 / a recipient rule still names {name!r}")
    return {**_department_json(svc.state.policy.directory, new), "moved": moved, "warnings": warnings, "change": change}


# -- CSV import --------------------------------------------------------------------------------


def _decode(body: bytes, charset: str | None) -> str:
    """The CSV text: the declared charset, else UTF-8 (BOM allowed), else GB18030 (Excel on zh-CN Windows)."""
    if charset:
        try:
            codecs.lookup(charset)
            return body.decode(charset).lstrip("\ufeff")
        except (LookupError, UnicodeDecodeError):
            raise unprocessable(f"CSV 编码无效 / the CSV is not valid {charset[:40]}") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise unprocessable("CSV 编码无效 / the CSV is neither UTF-8 nor GB18030")


def parse_csv(text: str) -> list[dict[str, Any]]:
    """SPEC §4 rows (``email,name,department,role,aliases``); 422 with the line of the first fault."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise unprocessable(f"CSV 格式错误 / malformed CSV: line 1: {exc}") from None
    if header is None:
        raise unprocessable("CSV 为空 / the CSV is empty")
    fields = [h.strip().lower() for h in header]
    missing = [f for f in REQUIRED if f not in fields]
    if missing or len(set(fields)) != len(fields):
        raise unprocessable(
            "CSV 表头错误 / line 1: the header must be email,name,department,role,aliases "
            f"(missing: {', '.join(missing) or 'none'}; each column once)"
        )
    rows: list[tuple[str, dict[str, Any]]] = []
    line = 1
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader, None)
        except csv.Error as exc:
            raise unprocessable(f"CSV 格式错误 / malformed CSV: line {reader.line_num}: {exc}") from None
        if record is None:
            break
        line = start
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(fields):
            raise unprocessable(
                f"CSV 格式错误 / malformed CSV: line {line}: {len(record)} fields, header has {len(fields)}"
            )
        row = dict(zip(fields, [*record, *[""] * (len(fields) - len(record))], strict=True))
        aliases = [a.strip() for a in row.get("aliases", "").split("|") if a.strip()]
        rows.append((f"line {line}", {k: row[k].strip() for k in REQUIRED} | {"aliases": aliases}))
    return validate_rows(rows)


_CSV_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}, "example": "email,name,department,role,aliases\n"}},
    }
}


@write.post(
    "/import",
    summary="Import people from CSV (email,name,department,role,aliases): replace or merge",
    openapi_extra=_CSV_DOC,
)
async def import_csv(
    request: Request,
    svc: ServicesDep,
    who: AdminDep,
    mode: Annotated[Literal["replace", "merge"], Query(description="replace: the CSV is the directory")] = "merge",
) -> dict[str, Any]:
    ctype, _, params = request.headers.get("content-type", "").partition(";")
    if ctype.strip().lower() not in _CSV_TYPES:
        raise problem(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "unsupported",
            f"请发送 text/csv / send text/csv, not {ctype[:60]!r}",
        )
    charset = None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    imported = parse_csv(_decode(await request.body(), charset))
    if mode == "replace" and not imported:
        raise unprocessable("不能用空目录替换 / replace needs at least one person (an empty directory disables checks)")
    counts: dict[str, int] = {}

    def edit(people: list[dict[str, Any]]) -> None:
        before = {str(p.get("email", "")).lower(): p for p in people}
        added = updated = unchanged = 0
        for row in imported:
            old = before.get(row["email"].lower())
            if old is None:
                added += 1
            elif {**old, "aliases": list(old.get("aliases") or [])} == row:
                unchanged += 1
            else:
                updated += 1
        keys = {r["email"].lower() for r in imported}
        removed = sum(1 for k in before if k not in keys) if mode == "replace" else 0
        if mode == "replace":
            people[:] = imported
        else:
            for row in imported:
                at = _index(people, row["email"])
                if at is None:
                    people.append(row)
                else:
                    people[at] = row
        counts.update(added=added, updated=updated, unchanged=unchanged, removed=removed, people=len(people))

    change = await _change(svc, who, edit, f"directory: import ({mode}, {len(imported)} rows)")
    return {"mode": mode, **counts, "change": change}
