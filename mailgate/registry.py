"""How a check is declared, documented and looked up.

A check is a pure function ``(message, context) -> findings`` registered with
:func:`check`. The regulation package (``checks/``) lists every check in one
table; the engine only ever sees :class:`CheckSpec` values.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from mailgate.model import Finding, Message, Severity

if TYPE_CHECKING:
    from mailgate.context import Context

CheckFn = Callable[["Message", "Context"], Iterable[Finding]]

DOC_SECTIONS = ("What it checks", "Why", "Bad", "Good", "Fix safety", "Params")


class NoParams(BaseModel):
    """A check without parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Params(BaseModel):
    """Base class of a check's parameters: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class CheckDoc:
    summary: str
    sections: dict[str, str]

    @classmethod
    def from_docstring(cls, doc: str | None, check_id: str) -> CheckDoc:
        text = inspect.cleandoc(doc or "")
        parts = re.split(r"^## +(.+?)\s*$", text, flags=re.M)
        summary = parts[0].strip()
        sections = {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
        missing = [s for s in ("What it checks", "Why", "Fix safety") if s not in sections]
        if not summary or missing:
            raise ValueError(f"check {check_id}: docstring lacks a summary or sections {missing}")
        return cls(summary=summary, sections=sections)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    id: str
    family: str
    severity: Severity
    run: CheckFn
    params: type[BaseModel]
    doc: CheckDoc
    external: bool = False  # also runs on mail to external recipients (SPEC §1 scope)
    needs_nlp: bool = False
    message_type: bool = False  # a message-type check: not applied to replies/forwards
    reply_exempt: bool = False  # exempt on short replies (new text below the threshold)
    examples_dir: Path | None = None

    def examples(self) -> dict[str, list[Path]]:
        """The check's ``bad*.eml`` and ``good*.eml`` fixtures."""
        out: dict[str, list[Path]] = {"bad": [], "good": []}
        if self.examples_dir and self.examples_dir.is_dir():
            for path in sorted(self.examples_dir.glob("*.eml")):
                kind = "bad" if path.name.startswith("bad") else "good"
                out[kind].append(path)
        return out


def _examples_root(module_dir: Path) -> Path | None:
    """The nearest ``examples`` folder at or above the module defining a check (families may be packages)."""
    for folder in (module_dir, *module_dir.parents[:2]):
        if (folder / "examples").is_dir():
            return folder / "examples"
    return None


def check(
    id: str,
    *,
    family: str,
    severity: Severity | str,
    params: type[BaseModel] = NoParams,
    external: bool = False,
    needs_nlp: bool = False,
    message_type: bool = False,
    reply_exempt: bool = False,
) -> Callable[[CheckFn], CheckSpec]:
    """Declare a check; its docstring is its documentation."""

    def wrap(fn: CheckFn) -> CheckSpec:
        module = inspect.getmodule(fn)
        base = _examples_root(Path(module.__file__).parent) if module and module.__file__ else None
        return CheckSpec(
            id=id,
            family=family,
            severity=Severity(severity),
            run=fn,
            params=params,
            doc=CheckDoc.from_docstring(fn.__doc__, id),
            external=external,
            needs_nlp=needs_nlp,
            message_type=message_type,
            reply_exempt=reply_exempt,
            examples_dir=(base / id) if base else None,
        )

    return wrap


@dataclass(frozen=True)
class Registry:
    """Every check of one regulation, in a fixed order; duplicate ids are refused."""

    specs: tuple[CheckSpec, ...]
    lexicon_dir: Path | None = None
    by_id: dict[str, CheckSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        seen: dict[str, CheckSpec] = {}
        for spec in self.specs:
            if spec.id in seen:
                raise ValueError(f"duplicate check id {spec.id!r}")
            seen[spec.id] = spec
        object.__setattr__(self, "by_id", seen)

    def __iter__(self) -> Iterator[CheckSpec]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self.by_id

    def get(self, check_id: str) -> CheckSpec:
        return self.by_id[check_id]
