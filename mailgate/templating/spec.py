"""What a mail template is: metadata, form fields, and the jinja2 sources of subject and body.

A template is data, whether it ships in ``templates/<id>.toml`` or an admin uploads it as JSON:

    id = "dept-collab"                 # [a-z0-9_-]{1,64}; never a path, only a key
    title = "部门协作需求"
    description = "…"
    tag = "部门协作"                   # the subject tag it produces
    keywords = ["协作", "需求"]        # for the gallery search
    subject = "【部门协作】{{ project }}需求确认"
    body = '''…jinja2…'''
    [[fields]]
    name = "project"                   # [a-z][a-z0-9_]{0,31}: the variable in the sources
    label = "项目名称"
    type = "text"                      # see FIELD_TYPES
    required = true
    example = "会员积分系统"
    [example]                          # who the example mail is from and to
    from = "lina@demo.example.cn"
    to = ["liuyi@demo.example.cn"]
    cc = ["wangfang@demo.example.cn"]

Example dates may be relative to the day they are shown (``+3d``, ``+2d 14:00``), so a
template's own example keeps its deadlines in the future.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from mailgate.errors import ConfigError

TEMPLATE_ID = re.compile(r"[a-z0-9_-]{1,64}")
FIELD_NAME = r"^[a-z][a-z0-9_]{0,31}$"
RESERVED = frozenset({"sender", "to", "cc", "date", "today", "loop", "self", "range", "namespace"})

FieldType = Literal["text", "textarea", "lines", "date", "datetime", "person", "actions"]
FIELD_TYPES: dict[str, str] = {
    "text": "one line of text",
    "textarea": "several lines of text",
    "lines": "one item per line (a list of strings; a template numbers them)",
    "date": "a date, YYYY-MM-DD",
    "datetime": "a date and time, YYYY-MM-DDTHH:MM",
    "person": "a person's name (from the directory)",
    "actions": "action items: a list of {task, owner, deadline (YYYY-MM-DD)}",
}
MAX_SOURCE = 20_000  # characters of a subject or body template
RELATIVE = re.compile(r"^\+(\d{1,3})d(?: (\d{2}):(\d{2}))?$")

Line = Annotated[str, StringConstraints(max_length=500)]
OneLine = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\r\n\x00]*$")]
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"  # titles, labels, keywords: one line of printable text
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # descriptions, help, sources: tabs and line breaks only


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    from_: str = Field(default="", alias="from", max_length=320, pattern=r"^[^\r\n\x00]*$")
    to: tuple[Annotated[str, StringConstraints(max_length=320, pattern=r"^[^\r\n\x00]*$")], ...] = Field(
        default=(), max_length=50
    )
    cc: tuple[Annotated[str, StringConstraints(max_length=320, pattern=r"^[^\r\n\x00]*$")], ...] = Field(
        default=(), max_length=50
    )


class ActionExample(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    task: Line = ""
    owner: OneLine = ""
    deadline: OneLine = ""


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Annotated[str, StringConstraints(pattern=FIELD_NAME)]
    label: Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=NO_CONTROL)]
    type: FieldType = "text"
    required: bool = False
    help: Annotated[str, StringConstraints(max_length=200, pattern=TEXT)] = ""
    example: str | tuple[Line, ...] | tuple[ActionExample, ...] = ""

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in RESERVED:
            raise ValueError(f"field name {v!r} is reserved")
        return v

    @model_validator(mode="after")
    def _example_shape(self) -> FieldSpec:
        listy = self.type in ("lines", "actions")
        if listy != isinstance(self.example, tuple) and self.example != "":
            raise ValueError(f"field {self.name}: a {self.type} example must be {'a list' if listy else 'a string'}")
        if self.type == "lines" and any(not isinstance(x, str) for x in self.example):
            raise ValueError(f"field {self.name}: a lines example is a list of strings")
        if self.type == "actions" and any(not isinstance(x, ActionExample) for x in self.example):
            raise ValueError(f"field {self.name}: an actions example is a list of {{task, owner, deadline}}")
        return self


class TemplateSpec(BaseModel):
    """One template. Built-ins come from ``templates/*.toml``; admins upload the same shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,64}$")]
    title: Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=NO_CONTROL)]
    description: Annotated[str, StringConstraints(max_length=300, pattern=TEXT)] = ""
    tag: Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[^\x00-\x1f\x7f【】]*$")]
    keywords: tuple[Annotated[str, StringConstraints(max_length=30, pattern=NO_CONTROL)], ...] = Field(
        default=(), max_length=20
    )
    subject: Annotated[str, StringConstraints(min_length=1, max_length=2_000, pattern=TEXT)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SOURCE, pattern=TEXT)]
    fields: tuple[FieldSpec, ...] = Field(default=(), max_length=40)
    example: Example = Example()

    @model_validator(mode="after")
    def _unique_fields(self) -> TemplateSpec:
        names = [f.name for f in self.fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate field names: {', '.join(dupes)}")
        return self

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def searchable(self) -> str:
        return " ".join((self.id, self.title, self.description, self.tag, *self.keywords)).casefold()


def resolve_example(value: str, kind: str, today: dt.date) -> str:
    """``+3d`` → the date three days after ``today``; ``+2d 14:00`` → that day at 14:00."""
    m = RELATIVE.match(value.strip())
    if m is None:
        return value
    day = today + dt.timedelta(days=int(m.group(1)))
    if kind == "datetime":
        return f"{day.isoformat()}T{m.group(2) or '09'}:{m.group(3) or '00'}"
    return day.isoformat()


def example_values(spec: TemplateSpec, today: dt.date) -> dict[str, Any]:
    """The form values of the template's own example, relative dates resolved."""
    out: dict[str, Any] = {}
    for f in spec.fields:
        ex = f.example
        if f.type == "actions":
            out[f.name] = [
                {"task": a.task, "owner": a.owner, "deadline": resolve_example(a.deadline, "date", today)}
                for a in ex
                if isinstance(a, ActionExample)
            ]
        elif f.type == "lines":
            out[f.name] = [str(x) for x in ex]
        else:
            out[f.name] = resolve_example(str(ex), f.type, today)
    return out


def parse_spec(data: Any, *, source: str = "template") -> TemplateSpec:
    try:
        return TemplateSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{source}: {where}: {first['msg']}") from None


def builtin_specs() -> dict[str, TemplateSpec]:
    """The templates shipped in the ``templates`` package, by id (the file stem must be the id)."""
    out: dict[str, TemplateSpec] = {}
    for entry in sorted(resources.files("templates").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        try:
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"templates/{entry.name}: {exc}") from None
        spec = parse_spec(data, source=f"templates/{entry.name}")
        if f"{spec.id}.toml" != entry.name:
            raise ConfigError(f"templates/{entry.name}: id {spec.id!r} does not match the file name")
        out[spec.id] = spec
    return out
