"""``POST /v1/lint`` and ``/v1/format``: what a mail-client add-in calls before sending (SPEC §4)."""

from __future__ import annotations

import asyncio
import email.policy
from email.message import EmailMessage
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mailgate.api.deps import Caller, ServicesDep, lint_caller
from mailgate.api.errors import problem
from mailgate.fmt import format_bytes
from mailgate.lint import lint_bytes
from mailgate.metrics import observe_lint
from mailgate.model import Report
from mailgate.report import report_to_json

router = APIRouter(prefix="/v1", tags=["lint"])

RFC822 = "message/rfc822"
_CONTROL = frozenset("\r\n\x00")


def _clean(value: str, what: str) -> str:
    if any(c in _CONTROL for c in value):
        raise ValueError(f"{what} must not contain CR, LF or NUL")
    return value


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str = Field(min_length=1, max_length=255)
    size: int = Field(default=1, ge=0, le=10**10)  # unknown size: treated as not empty

    @field_validator("filename")
    @classmethod
    def _filename(cls, v: str) -> str:
        return _clean(v, "filename")


class LintRequest(BaseModel):
    """The JSON shape of SPEC §4: a message described by its parts."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(default="", alias="from", max_length=998)
    to: list[Annotated[str, Field(max_length=998)]] = Field(default_factory=list, max_length=1000)
    cc: list[Annotated[str, Field(max_length=998)]] = Field(default_factory=list, max_length=1000)
    bcc: list[Annotated[str, Field(max_length=998)]] = Field(default_factory=list, max_length=1000)
    subject: str = Field(default="", max_length=2000)
    text: str = Field(default="", max_length=2_000_000)
    html: str | None = Field(default=None, max_length=5_000_000)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=200)
    date: str | None = Field(default=None, max_length=100)

    @field_validator("from_", "subject", "date")
    @classmethod
    def _one_line(cls, v: str | None) -> str | None:
        return None if v is None else _clean(v, "header fields")

    @field_validator("to", "cc", "bcc")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return [_clean(a, "addresses") for a in v]

    def to_bytes(self) -> bytes:
        msg = EmailMessage(policy=email.policy.SMTP)
        try:
            if self.from_:
                msg["From"] = self.from_
            for name, values in (("To", self.to), ("Cc", self.cc), ("Bcc", self.bcc)):
                if values:
                    msg[name] = ", ".join(values)
            msg["Subject"] = self.subject
            if self.date:
                msg["Date"] = self.date
            msg.set_content(self.text, charset="utf-8")
            if self.html is not None:
                msg.add_alternative(self.html, subtype="html", charset="utf-8")
            for a in self.attachments:
                # one byte stands for the content (the parser measures decoded bytes; size= says how big)
                msg.add_attachment(b"\0" if a.size else b"", maintype="application", subtype="octet-stream",
                                   filename=a.filename, params={"size": str(a.size)})  # fmt: skip
            for part in msg.walk():  # encoded words are decoded by now: =?utf-8?Q?=0D=0A?= is CR LF
                for name, value in part.items():
                    if any(c in _CONTROL for c in str(value)):
                        raise ValueError(f"{name} decodes to CR, LF or NUL")
            return msg.as_bytes()
        except (ValueError, TypeError, IndexError) as exc:
            raise problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid", f"bad message field: {exc}") from None


def _locale(request: Request, locale: str | None) -> str:
    if locale in ("zh-CN", "en"):
        return locale
    accept = request.headers.get("accept-language", "").lower()
    return "en" if accept.startswith("en") else "zh-CN"


async def _message_bytes(request: Request) -> bytes:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if ctype in (RFC822, "application/octet-stream", "text/plain"):
        if not body:
            raise problem(status.HTTP_400_BAD_REQUEST, "empty", "空的邮件 / empty message")
        return body
    if ctype == "application/json":
        try:
            req = LintRequest.model_validate_json(body)
        except ValidationError as exc:
            errors = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=errors) from None
        return req.to_bytes()
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        detail={"code": "unsupported", "message": f"send {RFC822} or application/json, not {ctype or 'nothing'}"},
    )


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            RFC822: {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": LintRequest.model_json_schema(by_alias=True)},
        },
    }
}


@router.post("/lint", summary="Lint one message (raw RFC 822 or the JSON shape)", openapi_extra=_BODY_DOC)
async def lint(
    request: Request,
    svc: ServicesDep,
    who: Annotated[Caller, Depends(lint_caller)],
    locale: Annotated[str | None, Query(pattern="^(zh-CN|en)$")] = None,
) -> dict[str, Any]:
    raw = await _message_bytes(request)
    policy = svc.state.policy
    async with svc.lint_slots:
        report: Report = await asyncio.to_thread(lint_bytes, raw, policy)
    observe_lint(report, "api")
    return report_to_json(report, None, _locale(request, locale))


@router.post(
    "/format",
    summary="Apply the safe fixes; the fixed message comes back as message/rfc822",
    response_class=Response,
    responses={200: {"content": {RFC822: {}}}},
    openapi_extra=_BODY_DOC,
)
async def format_message(
    request: Request, svc: ServicesDep, who: Annotated[Caller, Depends(lint_caller)]
) -> Response:
    raw = await _message_bytes(request)
    policy = svc.state.policy
    async with svc.lint_slots:
        result = await asyncio.to_thread(format_bytes, raw, policy)
    if result.error is not None:
        raise problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "unformattable", result.error)
    fixed = sorted({f.check for f in result.applied})
    return Response(result.data, media_type=RFC822, headers={"X-Mailgate-Fixed": ",".join(fixed) or "none"})
