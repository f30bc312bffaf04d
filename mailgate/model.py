"""The data the engine passes around: a parsed message and the findings about it.

Everything here is immutable. A :class:`Message` is built once by
:func:`mailgate.parse.parse_message` and then only read; checks return
:class:`Finding` values and never change the message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Field = Literal["subject", "body", "from", "to", "cc", "bcc", "headers", "attachments"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True, slots=True)
class Text:
    """A user-facing string in every locale we ship (zh-CN first, English second)."""

    zh: str
    en: str

    def get(self, locale: str) -> str:
        return self.en if locale.lower().startswith("en") else self.zh

    def __add__(self, other: Text) -> Text:
        return Text(self.zh + other.zh, self.en + other.en)


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox from an address header (or the envelope).

    ``start``/``end`` are offsets of the whole entry in the decoded header text,
    so a finding can underline it.
    """

    display_name: str
    email: str  # the addr-spec as written; compare with ``key``
    field: str  # from | to | cc | bcc
    start: int = 0
    end: int = 0
    valid: bool = True
    raw: str = ""

    @property
    def key(self) -> str:
        """Case-insensitive identity used for duplicate and directory lookups."""
        return self.email.strip().lower()

    @property
    def domain(self) -> str:
        return self.key.rpartition("@")[2].rstrip(".")

    def formatted(self) -> str:
        return f"{self.display_name} <{self.email}>" if self.display_name else self.email


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int  # decoded size in bytes (bounded by the decode limit)
    inline: bool = False


CHINA = dt.timezone(dt.timedelta(hours=8), "UTC+8")  # China Standard Time: the zone times are shown in


def china_time(when: dt.datetime) -> dt.datetime:
    """``when`` in China Standard Time; a naive value is taken as UTC (how the store keeps times)."""
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(CHINA)


def first_header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive) in ``(name, value)`` pairs."""
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None


@dataclass(frozen=True, slots=True)
class Message:
    """One message as the checks see it (SPEC §1)."""

    headers: tuple[tuple[str, str], ...]  # (name, decoded value), in order
    subject: str  # decoded, complete
    topic_start: int  # offset in ``subject`` after reply/forward prefixes
    is_reply: bool
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    field_text: dict[str, str]  # decoded text of from/to/cc/bcc headers
    body: str  # decoded body text (text/plain, or text extracted from HTML)
    body_is_html: bool
    new_text: str  # ``body`` cut at the first quote header, ``>`` lines blanked: same offsets as ``body``
    closing_start: int  # offset in ``new_text`` where the closing (signature) begins
    attachments: tuple[Attachment, ...]
    date: dt.datetime | None
    envelope_from: str | None = None
    envelope_to: tuple[str, ...] = ()
    defects: tuple[str, ...] = ()

    @property
    def subject_base(self) -> str:
        """The subject without reply/forward prefixes."""
        return self.subject[self.topic_start :]

    @property
    def recipients(self) -> tuple[Address, ...]:
        return self.to + self.cc + self.bcc

    def header(self, name: str) -> str | None:
        return first_header(self.headers, name)

    def header_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]

    @property
    def new_body(self) -> str:
        """New text without its closing."""
        return self.new_text[: self.closing_start]


class Applicability(StrEnum):
    SAFE = "safe"  # format and the relay may apply it unasked
    UNSAFE = "unsafe"  # only when a person asks for it
    DISPLAY = "display"  # shown, never applied


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``field[start:end]`` by ``text``.

    For ``field == "headers"`` the edit adds a header line ``text`` (start and end are 0).
    """

    field: Field
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Fix:
    description: Text
    edits: tuple[Edit, ...]
    applicability: Applicability = Applicability.SAFE


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    severity: Severity
    message: Text
    suggestion: Text
    field: Field
    start: int = 0
    end: int = 0
    fix: Fix | None = None


@dataclass(frozen=True, slots=True)
class LintError:
    """Why a message could not be linted at all (SPEC §4 ``error.code``)."""

    code: Literal["unparseable", "too-large", "too-deep", "timeout"]
    message: Text


@dataclass(slots=True)
class Report:
    verdict: Literal["pass", "warn", "fail", "error"]
    findings: list[Finding] = field(default_factory=list)
    error: LintError | None = None
    message: Message | None = None
    elapsed_ms: float = 0.0
    crashed: tuple[str, ...] = ()  # checks that raised: a bug, logged; their findings are missing

    @staticmethod
    def verdict_of(findings: list[Finding]) -> Literal["pass", "warn", "fail"]:
        if any(f.severity is Severity.ERROR for f in findings):
            return "fail"
        if any(f.severity is Severity.WARNING for f in findings):
            return "warn"
        return "pass"
