"""The jinja2 sandbox every mail template renders in (HOSTILE 36–37).

``ImmutableSandboxedEnvironment`` (jinja2 ≥ 3.1.6) refuses attribute access to internals
(``__class__``, ``__globals__`` …), ``str.format`` tricks and mutation of the values passed in.
The sandbox does not bound work, so this module adds what it can in-process — ``*`` and ``**``
are intercepted and refuse results over :data:`MAX_OUTPUT` characters, ``range`` is capped at
the sandbox's 100,000, output is counted as it is generated and stops at :data:`MAX_OUTPUT` —
and :mod:`mailgate.templating.worker` adds what only a separate process can: a wall-clock
deadline, a memory limit and a kill.

Mail is plain text, so there is no autoescape here; the gallery page escapes what it shows.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_OUTPUT = 100_000  # characters of a rendered subject + body
MAX_POWER = 10**6
WEEKDAYS = "一二三四五六日"


class RenderError(Exception):
    """A template that cannot be rendered; ``code`` is syntax | security | undefined | limit | error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _parse_date(value: object) -> dt.date | None:
    text = str(value or "").strip()[:10]
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def cn_date(value: object) -> str:
    """``2026-11-30`` → ``2026年11月30日``; anything else unchanged."""
    day = _parse_date(value)
    return f"{day.year}年{day.month}月{day.day}日" if day else str(value or "")


def weekday(value: object) -> str:
    """``2026-11-20`` → ``周五``."""
    day = _parse_date(value)
    return f"周{WEEKDAYS[day.weekday()]}" if day else ""


def cn_datetime(value: object) -> str:
    """``2026-11-20T14:00`` → ``2026年11月20日（周五）14:00``."""
    text = str(value or "").strip()
    day = _parse_date(text)
    if day is None:
        return text
    clock = text[11:16] if len(text) >= 16 and text[10] in "T " else ""
    return f"{cn_date(text)}（{weekday(text)}）{clock}".rstrip()


def names(people: object) -> str:
    """A list of people (dicts with ``name``) or strings → ``王芳、刘毅``."""
    if not isinstance(people, Sequence) or isinstance(people, str):
        return str(people or "")
    out = []
    for p in people:
        out.append(str(p.get("name") or p.get("email") or "") if isinstance(p, Mapping) else str(p))
    return "、".join(x for x in out if x)


class MailSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise SecurityError("exponent too large")
            result = operator.pow(left, right)
            if isinstance(result, int) and abs(result) > MAX_POWER**4:
                raise SecurityError("number too large")
            return result
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT:
                raise SecurityError(f"repetition longer than {MAX_OUTPUT} items")
        return operator.mul(left, right)


def environment() -> MailSandbox:
    env = MailSandbox(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=64,
    )
    env.filters.update(cn_date=cn_date, cn_datetime=cn_datetime, weekday=weekday, names=names)
    return env


@lru_cache(maxsize=128)
def _compiled(env: MailSandbox, source: str) -> Template:
    return env.from_string(source)  # compiling is most of a render's cost: a live preview renders often


def render_text(env: MailSandbox, source: str, context: Mapping[str, Any], budget: int = MAX_OUTPUT) -> str:
    """Render one source under the output budget; RenderError for anything that goes wrong."""
    try:
        template = _compiled(env, source)
    except TemplateSyntaxError as exc:
        raise RenderError("syntax", f"line {exc.lineno}: {exc.message}") from None
    size = 0
    parts: list[str] = []
    try:
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > budget:
                raise RenderError("limit", f"output longer than {budget} characters")
            parts.append(chunk)
    except RenderError:
        raise
    except SecurityError as exc:
        raise RenderError("security", f"not allowed in a template: {exc}") from None
    except TemplateError as exc:  # StrictUndefined, bad filter arguments …
        code = "undefined" if "undefined" in type(exc).__name__.lower() else "error"
        raise RenderError(code, str(exc)) from None
    except RecursionError:
        raise RenderError("limit", "recursion too deep") from None
    except MemoryError:
        raise RenderError("limit", "out of memory") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
        raise RenderError("error", f"{type(exc).__name__}: {exc}") from None
    return "".join(parts)


def check_syntax(env: MailSandbox, source: str) -> None:
    try:
        env.parse(source)
    except TemplateSyntaxError as exc:
        raise RenderError("syntax", f"line {exc.lineno}: {exc.message}") from None
