"""The template gallery as a service: the catalogue, rendering to a linted mail, admin uploads.

    gallery = Gallery(store, RenderWorker())
    gallery.catalogue()                       # built-ins overlaid with admin templates
    result = gallery.render(spec, values, sender, to, cc, policy)
    report = gallery.validate(spec, policy)   # what an upload must pass

Built-in templates (``templates/*.toml``) are read once; admin templates live in the store and
are read on every call, so every instance sharing a database shows the same gallery. An admin
template with a built-in's id overrides it; deleting it brings the built-in back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mailgate.errors import ConfigError
from mailgate.fmt import format_bytes
from mailgate.lint import lint_bytes
from mailgate.model import CHINA, Report
from mailgate.policy import Policy
from mailgate.store import MailTemplate, Store
from mailgate.templating.compose import (
    Envelope,
    FormError,
    Party,
    check_envelope,
    check_values,
    compose,
    context,
    mailto,
    tidy_body,
    tidy_subject,
)
from mailgate.templating.sandbox import RenderError, check_syntax, environment
from mailgate.templating.spec import TemplateSpec, builtin_specs, example_values, parse_spec
from mailgate.templating.worker import RenderWorker

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
CC_CHECKS = ("recipients-scope", "action-owner-recipient")


@dataclass(frozen=True)
class Entry:
    spec: TemplateSpec
    source: str  # builtin | admin
    version: int = 0  # the admin row's version (0: a built-in never changed)
    updated_by: str = ""
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class Rendered:
    spec: TemplateSpec
    envelope: Envelope
    subject: str
    body: str
    eml: bytes
    mailto: str
    report: Report
    suggested_cc: tuple[str, ...]  # "王芳 <wangfang@…>" the recipient rules ask for


def _entry(row: MailTemplate) -> Entry | None:
    try:
        spec = parse_spec(row.spec, source=f"stored template {row.id}")
    except ConfigError:
        return None  # a stored template that no longer validates is not shown (logged by the caller)
    return Entry(spec, "admin", row.version, row.updated_by, row.updated_at)


class Gallery:
    def __init__(self, store: Store | None, renderer: RenderWorker | None = None) -> None:
        self.store = store
        self.renderer = renderer or RenderWorker()
        self.builtins = builtin_specs()

    def close(self) -> None:
        self.renderer.close()

    # -- catalogue -------------------------------------------------------------------------
    def catalogue(self) -> list[Entry]:
        out = {k: Entry(v, "builtin") for k, v in self.builtins.items()}
        if self.store is not None:
            for row in self.store.mail_templates():
                entry = _entry(row)
                if entry is not None:
                    out[row.id] = entry
        return sorted(out.values(), key=lambda e: (e.source != "builtin", e.spec.id))

    def get(self, template_id: str) -> Entry | None:
        if self.store is not None:
            row = self.store.get_mail_template(template_id)
            if row is not None:
                return _entry(row)
        spec = self.builtins.get(template_id)
        return Entry(spec, "builtin") if spec is not None else None

    def search(self, query: str) -> list[Entry]:
        words = query.casefold().split()
        return [e for e in self.catalogue() if all(w in e.spec.searchable() for w in words)]

    # -- rendering -------------------------------------------------------------------------
    def render(
        self,
        spec: TemplateSpec,
        values: Mapping[str, Any],
        sender: str,
        to: Sequence[str],
        cc: Sequence[str],
        policy: Policy,
        date: dt.datetime | None = None,
    ) -> Rendered:
        """FormError for bad input, RenderError for a template that fails; else the linted mail."""
        errors: dict[str, str] = {}
        clean: dict[str, Any] = {}
        env: Envelope | None = None
        try:
            clean = check_values(spec, values)
        except FormError as exc:
            errors.update(exc.errors)
        try:
            env = check_envelope(sender, to, cc, policy.directory, date)
        except FormError as exc:
            errors.update(exc.errors)
        if errors or env is None:
            raise FormError(errors)
        subject, body = self.renderer.render(spec.subject, spec.body, context(clean, env))
        subject, body = tidy_subject(subject), tidy_body(body)
        fixed = format_bytes(compose(spec, env, subject, body), policy)  # the safe fixes, applied
        eml = fixed.data
        report = fixed.report or lint_bytes(eml, policy)
        if report.message is not None:  # what the fixes made of them
            subject, body = report.message.subject, report.message.body
        return Rendered(spec, env, subject, body, eml, mailto(env, subject, body), report, _suggested(report, env))

    def render_example(self, spec: TemplateSpec, policy: Policy, date: dt.datetime | None = None) -> Rendered:
        today = (date or dt.datetime.now(CHINA)).date()
        ex = spec.example
        return self.render(spec, example_values(spec, today), ex.from_, ex.to, ex.cc, policy, date)

    def validate(self, spec: TemplateSpec, policy: Policy) -> Rendered:
        """What an upload must pass: compile, render with dummy values and with the example
        (RenderError / FormError), and its example must lint with no error (ConfigError)."""
        env = environment()
        check_syntax(env, spec.subject)
        check_syntax(env, spec.body)
        dummy = Envelope(*_dummy_parties(), date=dt.datetime.now(CHINA).replace(microsecond=0))
        self.renderer.render(spec.subject, spec.body, context(_dummy_values(spec), dummy))
        rendered = self.render_example(spec, policy)
        errors = [f for f in rendered.report.findings if f.severity.value == "error"]
        if rendered.report.error is not None or errors:
            what = ", ".join(sorted({f.check for f in errors})) or "unlintable"
            raise ConfigError(f"the template's example does not pass the regulation ({what})")
        return rendered


def _dummy_parties() -> tuple[Party, tuple[Party, ...], tuple[Party, ...]]:
    me = Party("sender@example.invalid", "发件人", "部门")
    return me, (Party("to@example.invalid", "收件人", "部门"),), (Party("cc@example.invalid", "抄送人", "部门"),)


def _dummy_values(spec: TemplateSpec) -> dict[str, Any]:
    today = dt.date.today().isoformat()
    out: dict[str, Any] = {}
    for f in spec.fields:
        if f.type == "lines":
            out[f.name] = ["第一项", "第二项"]
        elif f.type == "actions":
            out[f.name] = [{"task": "任务", "owner": "发件人", "deadline": today}]
        elif f.type == "date":
            out[f.name] = today
        elif f.type == "datetime":
            out[f.name] = f"{today}T09:00"
        else:
            out[f.name] = f.label
    return out


def _suggested(report: Report, env: Envelope) -> tuple[str, ...]:
    have = {p.email.lower() for p in (env.sender, *env.to, *env.cc)}
    out: list[str] = []
    for f in report.findings:
        if f.check not in CC_CHECKS:
            continue
        text = f.suggestion.zh
        for m in re.finditer(r"([^\s，、,：:（）()<>]{1,20})\s*<(" + EMAIL.pattern + r")>", text):
            if m.group(2).lower() not in have:
                have.add(m.group(2).lower())
                out.append(f"{m.group(1)} <{m.group(2)}>")
    return tuple(out)


__all__ = ["Entry", "FormError", "Gallery", "RenderError", "Rendered"]
