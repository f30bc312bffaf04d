"""From a template and a filled form to a mail: values checked, context built, message composed.

Nothing a user typed reaches a header unchecked (HOSTILE 35): addresses are parsed into
``email.headerregistry.Address`` objects (which refuse CR and LF), every one-line value is
refused when it holds CR, LF or NUL, the rendered subject must be one line, and the finished
message is re-read to prove that no header decodes to a line break. Display names come from
the directory when the address is in it (实名制), so the mail carries real names.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

from mailgate.directory import Directory
from mailgate.model import CHINA
from mailgate.templating.spec import FieldSpec, TemplateSpec

CONTROL = re.compile(r"[\r\n\x00]")
ADDR_SPEC = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")  # fmt: skip
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}$")
MAX_TEXT = {"text": 200, "person": 60, "date": 10, "datetime": 16, "textarea": 5_000}
MAX_LINES, MAX_LINE = 50, 500
MAX_ACTIONS = 30
MAX_RECIPIENTS = 50


class FormError(Exception):
    """Values that do not fit the template; ``errors`` maps a field (or from/to/cc) to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Party:
    email: str
    name: str
    department: str

    def as_context(self) -> dict[str, str]:
        return {"email": self.email, "name": self.name, "department": self.department}

    def address(self) -> Address:
        user, _, domain = self.email.rpartition("@")
        return Address(display_name=self.name, username=user, domain=domain)

    def formatted(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


def parse_party(raw: str, directory: Directory) -> Party:
    """``李娜 <lina@x>`` or ``lina@x`` → a Party; ValueError with a reason otherwise."""
    if CONTROL.search(raw):
        raise ValueError("地址中不能有换行 / an address must not contain a line break")
    name, addr = email.utils.parseaddr(raw.strip())
    if not addr or not ADDR_SPEC.match(addr) or len(addr) > 254:
        raise ValueError(f"不是有效的邮件地址：{raw[:80]} / not a valid address")
    person = directory.by_email(addr)
    if person is not None:
        return Party(person.email, person.name, person.department)
    return Party(addr, name.strip()[:60], "")


def _text(f: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("应为文本 / must be text")
    limit = MAX_TEXT.get(f.type, 200)
    if len(value) > limit:
        raise ValueError(f"超过 {limit} 个字符 / longer than {limit} characters")
    if f.type != "textarea" and CONTROL.search(value):
        raise ValueError("不能包含换行 / must be one line")
    if "\x00" in value:
        raise ValueError("不能包含 NUL / must not contain NUL")
    value = value.strip()
    if value and f.type == "date":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("日期格式应为 YYYY-MM-DD / a date is YYYY-MM-DD") from None
    if value and f.type == "datetime" and not DATETIME.match(value):
        raise ValueError("时间格式应为 YYYY-MM-DDTHH:MM / a date and time is YYYY-MM-DDTHH:MM")
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    items = value.splitlines() if isinstance(value, str) else value
    if not isinstance(items, Sequence) or any(not isinstance(x, str) for x in items):
        raise ValueError("应为文本列表 / must be a list of strings")
    out = [x.strip() for x in items if x.strip()]
    if len(out) > MAX_LINES or any(len(x) > MAX_LINE or CONTROL.search(x) for x in out):
        raise ValueError(f"最多 {MAX_LINES} 条，每条一行、{MAX_LINE} 字以内 / at most {MAX_LINES} one-line items")
    return out


def _actions(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) > MAX_ACTIONS:
        raise ValueError(f"应为最多 {MAX_ACTIONS} 个行动项的列表 / a list of at most {MAX_ACTIONS} action items")
    out = []
    for item in value:
        if not isinstance(item, Mapping) or set(item) - {"task", "owner", "deadline"}:
            raise ValueError("行动项应为 {task, owner, deadline} / an action item is {task, owner, deadline}")
        row = {k: item.get(k) or "" for k in ("task", "owner", "deadline")}
        if any(not isinstance(v, str) or CONTROL.search(v) for v in row.values()):
            raise ValueError("行动项的内容应为单行文本 / action item parts are one line of text")
        if len(row["task"]) > MAX_LINE or len(row["owner"]) > 60 or len(row["deadline"]) > 40:
            raise ValueError("行动项过长 / action item too long")
        row = {k: v.strip() for k, v in row.items()}
        if not any(row.values()):
            continue  # an empty row of the form
        out.append(row)
    return out


def check_values(spec: TemplateSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """The form values, typed and bounded; FormError naming each bad field."""
    errors: dict[str, str] = {}
    unknown = sorted(set(values) - {f.name for f in spec.fields})
    if unknown:
        errors["fields"] = f"未知字段 / unknown fields: {', '.join(unknown)[:200]}"
    out: dict[str, Any] = {}
    for f in spec.fields:
        raw = values.get(f.name)
        try:
            if f.type == "lines":
                out[f.name] = _lines(raw)
            elif f.type == "actions":
                out[f.name] = _actions(raw)
            else:
                out[f.name] = _text(f, raw)
        except ValueError as exc:
            errors[f.name] = str(exc)
            continue
        if f.required and not out[f.name]:
            errors[f.name] = f"请填写「{f.label}」 / {f.name} is required"
    if errors:
        raise FormError(errors)
    return out


@dataclass(frozen=True)
class Envelope:
    sender: Party
    to: tuple[Party, ...]
    cc: tuple[Party, ...]
    date: dt.datetime


def check_envelope(
    sender: str, to: Sequence[str], cc: Sequence[str], directory: Directory, date: dt.datetime | None = None
) -> Envelope:
    errors: dict[str, str] = {}
    parties: dict[str, list[Party]] = {"to": [], "cc": []}
    me: Party | None = None
    try:
        me = parse_party(sender, directory) if sender.strip() else None
        if me is None:
            errors["from"] = "请填写发件人 / the sender is required"
    except ValueError as exc:
        errors["from"] = str(exc)
    for name, raws in (("to", to), ("cc", cc)):
        if len(raws) > MAX_RECIPIENTS:
            errors[name] = f"最多 {MAX_RECIPIENTS} 个地址 / at most {MAX_RECIPIENTS} addresses"
            continue
        for raw in raws:
            if not raw.strip():
                continue
            try:
                parties[name].append(parse_party(raw, directory))
            except ValueError as exc:
                errors[name] = str(exc)
    if not parties["to"] and "to" not in errors:
        errors["to"] = "请填写收件人 / at least one recipient is required"
    if errors or me is None:
        raise FormError(errors)
    when = date or dt.datetime.now(CHINA).replace(microsecond=0)
    return Envelope(me, tuple(parties["to"]), tuple(parties["cc"]), when)


def context(values: Mapping[str, Any], env: Envelope) -> dict[str, Any]:
    """What a template sees: its fields, ``sender``/``to``/``cc`` (name, email, department), ``date``."""
    ctx = dict(values)
    ctx.update(
        sender=env.sender.as_context(),
        to=[p.as_context() for p in env.to],
        cc=[p.as_context() for p in env.cc],
        date=env.date.date().isoformat(),
    )
    return ctx


_BLANKS = re.compile(r"\n{3,}")


def tidy_body(body: str) -> str:
    lines = [line.rstrip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip("\n") + "\n"


def tidy_subject(subject: str) -> str:
    subject = subject.strip()
    if CONTROL.search(subject):
        raise FormError({"subject": "生成的标题包含换行 / the rendered subject contains a line break"})
    return " ".join(subject.split())


def compose(spec: TemplateSpec, env: Envelope, subject: str, body: str) -> bytes:
    """The finished message as bytes (UTF-8, MIME), headers verified."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = env.sender.address()
    msg["To"] = [p.address() for p in env.to]
    if env.cc:
        msg["Cc"] = [p.address() for p in env.cc]
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(env.date)
    msg["Message-ID"] = email.utils.make_msgid(domain=env.sender.email.rpartition("@")[2])
    msg["X-Mailgate-Template"] = spec.id
    msg.set_content(body, charset="utf-8", cte="8bit" if max(map(len, body.split("\n"))) < 300 else "base64")
    for name, value in msg.items():  # nothing may decode to a line break (an injected header)
        if CONTROL.search(str(value)):
            raise FormError({name.lower(): "头部字段包含换行 / a header contains a line break"})
    return msg.as_bytes()


def mailto(env: Envelope, subject: str, body: str) -> str:
    """A ``mailto:`` URL (RFC 6068) that opens the draft in the user's mail client."""
    to = ",".join(quote(p.email, safe="@") for p in env.to)
    query = [("subject", subject), ("body", body.replace("\n", "\r\n"))]
    if env.cc:
        query.insert(0, ("cc", ",".join(p.email for p in env.cc)))
    return f"mailto:{to}?" + "&".join(f"{k}={quote(v, safe='@,')}" for k, v in query)
