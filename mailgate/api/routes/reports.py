"""The report page a sender opens from a 550 reply or a report mail, and the audit log API.

``GET /reports/{audit_id}`` (router :data:`pages`) is deliberately open — no token: the sender
clicks it in a mail client that has none. The audit id is the capability: a ``uuid4`` (122 bits
from ``os.urandom``, 32 lowercase hex digits) that only the relay's reply and report mail carry,
so it cannot be guessed or enumerated, and nothing is rate-limited. What the page shows is
what the sender was already told — the verdict, the action, each finding with its message and
suggestion, how to override — and nothing internal (no client address, authenticated user,
policy layer, upstream reply, flags or recipients). Anything that is not exactly such an id
answers the same 404 page as an unknown one. The page is rendered by jinja2 with autoescape
(finding messages quote the sender's own text), under a CSP that allows no script and no
external resource, with ``Referrer-Policy: no-referrer`` so the URL does not leak onward.

``GET /v1/audit`` and ``GET /v1/audit/{id}`` (router :data:`read`) need a viewer token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.responses import HTMLResponse

from mailgate.api.deps import AuthFirst, ServicesDep, viewer
from mailgate.api.errors import iso, problem
from mailgate.relay.decide import ACTIONS
from mailgate.store import AuditEntry
from mailgate.store.queries import AUDIT_LIST_COLUMNS, audit_page

pages = APIRouter(tags=["reports"])
read = APIRouter(prefix="/v1/audit", tags=["audit"], dependencies=[Depends(viewer)], route_class=AuthFirst)

CSP = "default-src 'none'; style-src 'unsafe-inline'"
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
AUDIT_ID = re.compile(r"[0-9a-f]{32}")
SHOWN_TZ = dt.timezone(dt.timedelta(hours=8), "UTC+8")  # times on the page: China Standard Time
MAX_SHOWN = 200  # findings listed on the page

VERDICTS = {
    "pass": ("通过", "passed"),
    "warn": ("有警告", "warnings"),
    "fail": ("未通过", "failed"),
    "error": ("无法检查", "could not be checked"),
    "crash": ("检查未完成", "the check did not complete"),
}
ACTION_TEXT = {
    "deliver": ("已送达", "delivered"),
    "reject": ("已退回，未发送", "rejected, not sent"),
    "hold": ("已暂存，待管理员审核", "held for review by an administrator"),
    "advise": ("已送达，附改进建议", "delivered, with suggestions"),
    "annotate": ("已送达（已加检查标注）", "delivered (annotated)"),
    "monitor": ("已送达", "delivered"),
    "tempfail": ("暂未处理，发件客户端会稍后重试", "not processed yet; your mail client will retry"),
}
SEVERITY = {"error": ("错误", "error"), "warning": ("警告", "warning"), "info": ("提示", "info")}

_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>{{ title[0] }} / {{ title[1] }}</title>
<style>
body{font:15px/1.6 system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:52rem;margin:2rem auto;
padding:0 1rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}.en{color:#666;font-size:.9em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}dd{margin:0}
ol{padding-left:1.5rem}li{margin:.8rem 0}.sev{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:.85em}
.sev-error{background:#fdd}.sev-warning{background:#ffd}.sev-info{background:#def}.check{color:#666}
.hint{background:#f4f4f4;padding:.8rem 1rem;border-radius:4px}
</style></head><body>
<h1>{{ title[0] }} <span class="en">/ {{ title[1] }}</span></h1>
{% if found %}
<dl>
<dt>时间 <span class="en">Time</span></dt><dd>{{ at }}</dd>
<dt>结论 <span class="en">Verdict</span></dt><dd>{{ verdict[0] }} <span class="en">/ {{ verdict[1] }}</span></dd>
<dt>处理 <span class="en">Action</span></dt><dd>{{ action[0] }} <span class="en">/ {{ action[1] }}</span></dd>
<dt>编号 <span class="en">Reference</span></dt><dd><code>{{ ref }}</code></dd>
</dl>
{% if override %}<p class="hint">已按发件人说明的理由放行：{{ override }}<br>
<span class="en">Delivered on the sender's override, reason: {{ override }}</span></p>{% endif %}
{% if error %}<p>邮件无法检查：{{ error }} <span class="en">/ the message could not be checked</span></p>{% endif %}
<h2>问题 <span class="en">Findings</span> ({{ total }})</h2>
{% if findings %}<ol>
{% for f in findings %}<li>
<span class="sev sev-{{ f.severity }}">{{ f.sev[0] }} <span class="en">{{ f.sev[1] }}</span></span>
<span class="check">[{{ f.check }}]</span> {{ f.message }}
{% if f.suggestion %}<br>建议 <span class="en">Suggestion</span>：{{ f.suggestion }}{% endif %}</li>
{% endfor %}</ol>
{% if total > findings|length %}
<p>另有 {{ total - findings|length }} 条未列出 <span class="en">/ more not listed</span></p>{% endif %}
{% else %}<p>没有发现问题。<span class="en">No findings.</span></p>{% endif %}
{% if incomplete %}<p>部分检查未能完成，结果可能不完整。
<span class="en">Some checks could not run; the list may be incomplete.</span></p>{% endif %}
{% if action_name == "reject" %}<p class="hint">请按建议修改后重新发送。
确需原样发送时，在主题末尾加上 <code>[override: 理由]</code> 后重发，理由会被记录。<br>
<span class="en">Fix the message and send it again. To send it anyway, resend it with
<code>[override: your reason]</code> at the end of the subject; the reason is recorded.</span></p>
{% elif action_name == "hold" %}<p class="hint">邮件已暂存，尚未送达；管理员审核后会放行或退回。
您也可以按建议修改后重新发送。<br>
<span class="en">The message is held and not delivered yet; an administrator will release or discard it.
You may also fix it and send it again.</span></p>{% endif %}
{% else %}
<p>报告不存在或链接不完整。<span class="en">No such report, or the link is incomplete.</span></p>
{% endif %}
<p class="en">mailgate 邮件规范网关</p>
</body></html>
"""

_env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_page = _env.from_string(_TEMPLATE)


def _shown_time(when: dt.datetime | None) -> str:
    if when is None:
        return ""
    aware = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return aware.astimezone(SHOWN_TZ).strftime("%Y-%m-%d %H:%M:%S (UTC+8)")


def render_report(entry: AuditEntry | None) -> str:
    if entry is None:
        return _page.render(found=False, title=("报告不存在", "Report not found"))
    report: dict[str, Any] = entry.report if isinstance(entry.report, dict) else {}
    listed = report.get("findings")
    raw: list[Any] = listed if isinstance(listed, list) else []
    findings = []
    for f in raw[:MAX_SHOWN]:
        if not isinstance(f, dict):
            continue
        severity = str(f.get("severity", "info"))
        findings.append({
            "check": str(f.get("check", "")),
            "severity": severity if severity in SEVERITY else "info",
            "sev": SEVERITY.get(severity, SEVERITY["info"]),
            "message": str(f.get("message") or ""),
            "suggestion": str(f.get("suggestion") or ""),
        })  # fmt: skip
    error = report.get("error")
    return _page.render(
        found=True,
        title=("邮件规范检查报告", "Mail policy report"),
        at=_shown_time(entry.at),
        verdict=VERDICTS.get(entry.verdict, (entry.verdict, entry.verdict)),
        action=ACTION_TEXT.get(entry.action, (entry.action, entry.action)),
        action_name=entry.action,
        ref=entry.id,
        override=entry.override_reason or "",
        error=str(error.get("message") or "") if isinstance(error, dict) else "",
        findings=findings,
        total=len(raw),
        incomplete=bool(report.get("crashed")),
    )


@pages.get(
    "/reports/{audit_id}",
    response_class=HTMLResponse,
    summary="The report page linked from 550 replies and report mails (open: the audit id is the capability)",
    responses={404: {"content": {"text/html": {}}}},
)
async def report_page(audit_id: str, svc: ServicesDep) -> HTMLResponse:
    entry = None
    if AUDIT_ID.fullmatch(audit_id):
        entry = await asyncio.to_thread(svc.store.get_audit, audit_id)
    code = status.HTTP_200_OK if entry is not None else status.HTTP_404_NOT_FOUND
    return HTMLResponse(render_report(entry), status_code=code, headers=PAGE_HEADERS)


# -- the audit log (viewer) ---------------------------------------------------------------------


def _audit_json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "at": iso(row["at"]), "recipients": list(row["recipients"] or []),
            "findings": list(row["findings"] or []), "flags": list(row["flags"] or [])}  # fmt: skip


@read.get("", summary="Audit rows, newest first: filter by sender, verdict, action, time")
async def list_audit(
    svc: ServicesDep,
    sender: Annotated[str | None, Query(max_length=320)] = None,
    verdict: Annotated[str | None, Query(pattern=r"^(pass|warn|fail|error|crash)$")] = None,
    action: Annotated[str | None, Query(pattern=r"^(" + "|".join((*ACTIONS, "tempfail")) + r")$")] = None,
    since: Annotated[dt.datetime | None, Query(description="ISO 8601; without an offset: UTC")] = None,
    until: Annotated[dt.datetime | None, Query(description="ISO 8601, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    def utc(when: dt.datetime | None) -> dt.datetime | None:
        if when is None:
            return None
        return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)

    total, rows = await asyncio.to_thread(
        audit_page, svc.store, sender=sender, verdict=verdict, action=action, since=utc(since), until=utc(until),
        limit=limit, offset=offset,
    )  # fmt: skip
    return {"total": total, "limit": limit, "offset": offset, "entries": [_audit_json(r) for r in rows]}


@read.get("/{audit_id}", summary="One audit row with its full report")
async def get_audit(
    audit_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Fa-f]+$")], svc: ServicesDep
) -> dict[str, Any]:
    entry = await asyncio.to_thread(svc.store.get_audit, audit_id)
    if entry is None:
        raise problem(status.HTTP_404_NOT_FOUND, "not-found", f"没有审计记录 {audit_id} / no audit entry {audit_id}")
    row = {c: getattr(entry, c) for c in AUDIT_LIST_COLUMNS}
    return {**_audit_json(row), "report": entry.report}
