"""``mailgate checks``: the list of checks and one check's documentation."""

from __future__ import annotations

import json
from typing import Any

from mailgate.policy import Policy
from mailgate.registry import CheckSpec

_HEADINGS_ZH = {
    "What it checks": "检查内容",
    "Why": "依据",
    "Bad": "反例",
    "Good": "正例",
    "Fix safety": "自动修复",
    "Params": "参数",
}


def check_info(policy: Policy, spec: CheckSpec) -> dict[str, Any]:
    """Everything about one check, as the CLI and the admin API show it."""
    settings = policy.checks[spec.id]
    return {
        "id": spec.id,
        "family": spec.family,
        "default_severity": spec.severity.value,
        "severity": settings.severity.value,
        "enabled": settings.enabled,
        "external": spec.external,
        "needs_nlp": spec.needs_nlp,
        "summary": spec.doc.summary,
        "doc": spec.doc.sections,
        "params": settings.params.model_dump(mode="json"),
        "params_schema": spec.params.model_json_schema(),
        "sources": dict(settings.source),
    }


def list_checks(policy: Policy, locale: str = "zh-CN") -> str:
    en = locale.startswith("en")
    rows = [f"{'id':24} {'family':11} {'severity':8} {'on':3} summary" if en else
            f"{'检查项':22} {'类别':10} {'级别':8} {'启用':3} 说明"]
    for spec in policy.registry:
        s = policy.checks[spec.id]
        on = "yes" if s.enabled else "no"
        if not en:
            on = "是" if s.enabled else "否"
        rows.append(f"{spec.id:24} {spec.family:11} {s.severity.value:8} {on:3} {spec.doc.summary}")
    return "\n".join(rows)


def explain(policy: Policy, check_id: str, locale: str = "zh-CN") -> str:
    spec = policy.registry.get(check_id)
    settings = policy.checks[check_id]
    en = locale.startswith("en")
    out = [f"{spec.id} ({spec.family}, {settings.severity.value})", "", spec.doc.summary, ""]
    for name, body in spec.doc.sections.items():
        heading = name if en else f"{_HEADINGS_ZH.get(name, name)} / {name}"
        out += [f"## {heading}", body, ""]
    params = settings.params.model_dump(mode="json")
    if params:
        out += ["## " + ("Effective params" if en else "当前参数 / Effective params")]
        out += [json.dumps(params, ensure_ascii=False, indent=2), ""]
    examples = spec.examples()
    for kind in ("bad", "good"):
        for path in examples[kind]:
            title = {"bad": "反例文件" if not en else "Bad example", "good": "正例文件" if not en else "Good example"}
            out += [f"## {title[kind]}: {path.name}", path.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(out).rstrip() + "\n"
