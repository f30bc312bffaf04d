"""Formatters: the engine returns data, these render it (JSON contract, terminal text)."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from email.header import decode_header, make_header
from typing import Any

from mailgate.model import Finding, Fix, Message, Report


def fix_to_json(fix: Fix | None, locale: str) -> dict[str, Any] | None:
    if fix is None:
        return None
    return {
        "applicability": fix.applicability.value,
        "description": fix.description.get(locale),
        "edits": [
            {"field": e.field, "start": e.start, "end": e.end, "replacement": e.text} for e in fix.edits
        ],
    }


def finding_to_json(f: Finding, locale: str) -> dict[str, Any]:
    return {
        "check": f.check,
        "severity": f.severity.value,
        "message": f.message.get(locale),
        "suggestion": f.suggestion.get(locale),
        "field": f.field,
        "start": f.start,
        "end": f.end,
        "fix": fix_to_json(f.fix, locale),
    }


def report_to_json(report: Report, path: str | None, locale: str = "zh-CN") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if path is not None:
        out["path"] = path
    out["verdict"] = report.verdict
    if report.error is not None:
        out["error"] = {"code": report.error.code, "message": report.error.message.get(locale)}
    out["findings"] = [finding_to_json(f, locale) for f in report.findings]
    if report.crashed:
        out["crashed"] = list(report.crashed)  # checks that failed internally (logged); findings incomplete
    return out



def audit_report_json(report: Report) -> dict[str, Any]:
    """The report as the audit log keeps it: the zh-CN JSON of :func:`report_to_json`, with each
    finding's (and the error's) English text beside it under ``en``, so that the report pages can
    show both languages without the message, which the audit does not keep."""
    out = report_to_json(report, None, "zh-CN")
    for finding, shown in zip(report.findings, out["findings"], strict=True):
        shown["en"] = {"message": finding.message.en, "suggestion": finding.suggestion.en}
    if report.error is not None:
        out["error"]["en"] = report.error.message.en
    return out

def field_text(message: Message, field: str) -> str:
    if field == "subject":
        return message.subject
    if field == "body":
        return message.body
    if field in message.field_text:
        return message.field_text[field]
    return ""


def line_col(text: str, offset: int) -> tuple[int, int]:
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


_COLORS = {"error": "\x1b[31m", "warning": "\x1b[33m", "info": "\x1b[36m"}
_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"


def report_to_text(report: Report, path: str, locale: str = "zh-CN", color: bool = False) -> str:
    """``file:field:line:col severity check message`` then the line, the underline and the suggestion."""
    lines: list[str] = []
    if report.error is not None:
        code = report.error.code
        lines.append(f"{path}: error[{code}] {report.error.message.get(locale)}")
        return "\n".join(lines)
    label = {"suggestion": "建议" if not locale.startswith("en") else "suggestion"}
    for f in report.findings:
        text = field_text(report.message, f.field) if report.message else ""
        line, col = line_col(text, f.start)
        sev = f.severity.value
        head = f"{path}:{f.field}:{line}:{col}: {sev} [{f.check}] {f.message.get(locale)}"
        if color:
            head = (
                f"{_BOLD}{path}:{f.field}:{line}:{col}:{_RESET} {_COLORS[sev]}{sev}{_RESET} "
                f"{_DIM}[{f.check}]{_RESET} {f.message.get(locale)}"
            )
        lines.append(head)
        if text and f.end > f.start:
            start_of_line = text.rfind("\n", 0, f.start) + 1
            end_of_line = text.find("\n", f.start)
            end_of_line = len(text) if end_of_line < 0 else end_of_line
            src = text[start_of_line:end_of_line]
            if len(src) > 200:
                lo = max(0, f.start - start_of_line - 60)
                src = src[lo : lo + 200]
                start_of_line += lo
            pad = _width(text[start_of_line : f.start])
            span = _width(text[f.start : min(f.end, start_of_line + len(src))]) or 1
            mark = " " * pad + "^" * span
            lines.append(f"    {src}")
            lines.append(f"    {_COLORS[sev] if color else ''}{mark}{_RESET if color else ''}")
        suggestion = f.suggestion.get(locale)
        if suggestion:
            lines.append(f"    {label['suggestion']}: {suggestion}")
    if not report.findings:
        lines.append(f"{path}: {'通过' if not locale.startswith('en') else 'pass'}")
    return "\n".join(lines)


def subject_of(data: bytes) -> str:
    """The decoded Subject for listings (best effort: a bad header shows what could be read)."""
    head = re.split(rb"\r?\n\r?\n", data[:65536], maxsplit=1)[0]
    m = re.search(rb"^subject:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", head, re.I | re.M)
    if m is None:
        return ""
    raw = re.sub(rb"\r?\n[ \t]", b" ", m.group(1))
    try:  # raw 8-bit header: UTF-8, else GB18030 (what Chinese clients send)
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        value = raw.decode("gb18030", "replace")
    with contextlib.suppress(ValueError, LookupError, UnicodeError):
        value = str(make_header(decode_header(value)))
    return " ".join(value.split())[:80]
