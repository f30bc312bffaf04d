"""What a check receives beside the message: its settings and shared, lazily built views."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel

from mailgate.model import Field, Finding, Fix, Message, Severity, Text

if TYPE_CHECKING:
    from mailgate.directory import Directory
    from mailgate.nlp import Analysis
    from mailgate.policy import Policy

T = TypeVar("T")
P = TypeVar("P", bound=BaseModel)

_LADDER = (Severity.INFO, Severity.WARNING, Severity.ERROR)


@dataclass
class MessageMemo:
    """Per-message cache shared by every check of one lint run.

    Checks stay pure: what they put here is derived from the message and the
    policy only, so computing it twice would give the same value.
    """

    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, build: Callable[[], T]) -> T:
        if key not in self.values:
            self.values[key] = build()
        return self.values[key]  # type: ignore[no-any-return,unused-ignore]


@dataclass
class Context:
    """The policy as one check sees it, plus shared per-message views."""

    check_id: str
    severity: Severity
    params: BaseModel
    policy: Policy
    message: Message
    scope: Literal["internal", "external"]
    memo: MessageMemo

    @property
    def directory(self) -> Directory:
        return self.policy.directory

    @property
    def internal_domains(self) -> tuple[str, ...]:
        return self.policy.internal_domains

    def is_internal(self, domain: str) -> bool:
        return self.policy.is_internal(domain)

    def lexicon(self, name: str) -> Mapping[str, tuple[str, ...]]:
        """A lexicon (category -> words) after admin additions and removals."""
        return self.policy.lexicons.get(name, {})

    def p(self, model: type[P]) -> P:
        """The validated params, typed: ``ctx.p(MyParams).threshold``."""
        assert isinstance(self.params, model), (self.check_id, type(self.params))
        return self.params

    @property
    def nlp(self) -> Analysis:
        """The NLP analysis of the new text, built once per message on first use."""
        from mailgate.nlp import analyze

        return self.memo.get("nlp", lambda: analyze(self.message.new_text, self.policy))

    def finding(
        self,
        message: Text,
        suggestion: Text,
        field: Field,
        start: int = 0,
        end: int = 0,
        fix: Fix | None = None,
        shift: int = 0,
    ) -> Finding:
        """A finding at the check's effective severity, moved ``shift`` steps on info<warning<error."""
        severity = self.severity
        if shift:
            idx = max(0, min(len(_LADDER) - 1, _LADDER.index(severity) + shift))
            severity = _LADDER[idx]
        return Finding(
            check=self.check_id,
            severity=severity,
            message=message,
            suggestion=suggestion,
            field=field,
            start=start,
            end=end,
            fix=fix,
        )
