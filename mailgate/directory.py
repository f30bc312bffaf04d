"""The company directory: people, departments, heads (SPEC §4 CSV format)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailgate.errors import DirectoryError


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    name: str
    department: str
    role: str  # head | member
    aliases: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.email.lower()

    @property
    def is_head(self) -> bool:
        return self.role == "head"

    def formatted(self) -> str:
        return f"{self.name} <{self.email}>"

    def answers_to(self, name: str) -> bool:
        """True when ``name`` is this person's real name or one of their aliases."""
        wanted = _norm(name)
        return wanted == _norm(self.name) or any(wanted == _norm(a) for a in self.aliases)


def _norm(name: str) -> str:
    return " ".join(name.replace("\u3000", " ").split()).casefold()


class Directory:
    """Read-only lookups over a list of people."""

    def __init__(self, people: Iterable[Person] = ()) -> None:
        self.people: tuple[Person, ...] = tuple(people)
        self._by_email = {p.key: p for p in self.people}
        self._by_name: dict[str, list[Person]] = {}
        for p in self.people:
            for n in {_norm(p.name), *(_norm(a) for a in p.aliases)}:
                self._by_name.setdefault(n, []).append(p)

    def __len__(self) -> int:
        return len(self.people)

    def by_email(self, email: str) -> Person | None:
        return self._by_email.get(email.strip().lower())

    def by_name(self, name: str) -> list[Person]:
        """Everyone whose name or alias is ``name`` (may be several: two 张伟)."""
        return list(self._by_name.get(_norm(name), ()))

    def names(self) -> list[str]:
        """Every real name and alias, for the NLP user dictionary and owner matching."""
        return sorted({n for p in self.people for n in (p.name, *p.aliases) if n})

    def heads_of(self, department: str) -> list[Person]:
        return [p for p in self.people if p.department == department and p.is_head]

    def members_of(self, department: str) -> list[Person]:
        return [p for p in self.people if p.department == department]

    def departments(self) -> list[str]:
        return sorted({p.department for p in self.people if p.department})

    @classmethod
    def from_csv_text(cls, text: str, *, source: str = "<csv>") -> Directory:
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        need = {"email", "name", "department", "role"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise DirectoryError(f"{source}: header must be email,name,department,role,aliases")
        rows = []
        for row in reader:
            aliases = [a.strip() for a in (row.get("aliases") or "").split("|") if a.strip()]
            rows.append({**row, "aliases": aliases})
        return cls.from_rows(rows, source=source, first_line=2)

    @classmethod
    def from_rows(
        cls, rows: Iterable[Mapping[str, Any]], *, source: str = "directory", first_line: int = 1
    ) -> Directory:
        """People from dicts with email, name, department, role (head|member) and aliases (a list)."""
        people = []
        for lineno, row in enumerate(rows, start=first_line):
            email = str(row.get("email") or "").strip()
            local, at, domain = email.rpartition("@")
            if not at or not local or "." not in domain or any(c in email for c in " \t\r\n<>,;\x00"):
                raise DirectoryError(f"{source}:{lineno}: invalid email {email!r}")
            role = str(row.get("role") or "member").strip() or "member"
            if role not in {"head", "member"}:
                raise DirectoryError(f"{source}:{lineno}: role must be head or member, not {role!r}")
            aliases = row.get("aliases") or ()
            if isinstance(aliases, str):
                aliases = aliases.split("|")
            people.append(
                Person(
                    email=email,
                    name=str(row.get("name") or "").strip(),
                    department=str(row.get("department") or "").strip(),
                    role=role,
                    aliases=tuple(str(a).strip() for a in aliases if str(a).strip()),
                )
            )
        return cls(people)

    def to_rows(self) -> list[dict[str, Any]]:
        return [
            {"email": p.email, "name": p.name, "department": p.department, "role": p.role, "aliases": list(p.aliases)}
            for p in self.people
        ]

    @classmethod
    def from_csv(cls, path: Path) -> Directory:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise DirectoryError(f"cannot read directory {path}: {exc}") from exc
        return cls.from_csv_text(text, source=str(path))
