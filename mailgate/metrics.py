"""Prometheus metrics of this process (``/metrics``): decisions, lint latency, findings, upstream errors."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from mailgate.model import Report

LINTS = Counter("mailgate_lints_total", "Messages linted, by verdict and entry point", ["verdict", "source"])
DECISIONS = Counter("mailgate_messages_total", "Relayed messages, by verdict and action", ["verdict", "action"])
FINDINGS = Counter("mailgate_findings_total", "Findings, by check", ["check"])
LINT_SECONDS = Histogram(
    "mailgate_lint_seconds",
    "Time to lint one message",
    ["source"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UPSTREAM_ERRORS = Counter("mailgate_upstream_errors_total", "Upstream refusals and failures, by reply class", ["kind"])


def observe_lint(report: Report, source: str) -> None:
    LINTS.labels(report.verdict, source).inc()
    LINT_SECONDS.labels(source).observe(report.elapsed_ms / 1000)
    for finding in report.findings:
        FINDINGS.labels(finding.check).inc()


def observe_decision(verdict: str, action: str) -> None:
    DECISIONS.labels(verdict, action).inc()


def observe_upstream_error(code: int) -> None:
    UPSTREAM_ERRORS.labels("temporary" if code < 500 else "permanent").inc()
