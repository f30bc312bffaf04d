"""The lint runner: scope, reply exemptions, crash isolation, time budget."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

from checks import REGISTRY
from mailgate.lint import lint_bytes
from mailgate.model import Finding, Message
from mailgate.policy import Policy
from mailgate.registry import Registry
from tests.conftest import build_eml


def _with_first_check_replaced(policy: Policy, run) -> Policy:  # type: ignore[no-untyped-def]
    first = next(iter(REGISTRY))
    specs = (replace(first, run=run), *[s for s in REGISTRY if s.id != first.id])
    return replace(policy, registry=Registry(specs, lexicon_dir=REGISTRY.lexicon_dir))


def test_a_crashing_check_is_isolated_and_named(demo_policy: Policy) -> None:
    def boom(msg: Message, ctx: object) -> Iterator[Finding]:
        raise RuntimeError("bug")

    policy = _with_first_check_replaced(demo_policy, boom)
    report = lint_bytes(build_eml(subject="[通知]测试", body="hi"), policy)
    assert report.error is None
    assert report.crashed == (next(iter(REGISTRY)).id,)
    assert report.findings, "the other checks still ran"


def test_a_runaway_check_becomes_a_timeout_report(demo_policy: Policy) -> None:
    def spin(msg: Message, ctx: object) -> Iterator[Finding]:
        while True:
            time.sleep(0.01)
        yield  # pragma: no cover

    policy = _with_first_check_replaced(demo_policy, spin)
    policy = replace(policy, limits=replace(policy.limits, time_budget_s=0.3, time_budget_per_mb_s=0.0))
    started = time.monotonic()
    report = lint_bytes(build_eml(body="hi"), policy)
    assert time.monotonic() - started < 3
    assert report.verdict == "error"
    assert report.error is not None and report.error.code == "timeout"


def test_external_mail_runs_only_the_external_checks(lint) -> None:  # type: ignore[no-untyped-def]
    report = lint(
        subject="合作进展",
        to="partner@other.example.org",
        body="您好，听说贵司下周有调整，请告知。\n",
    )
    external_ids = {s.id for s in REGISTRY if s.external}
    assert {f.check for f in report.findings} <= external_ids
    assert "subject-tag" not in {f.check for f in report.findings}


def test_short_reply_is_exempt_from_structure_but_not_from_safety(lint) -> None:  # type: ignore[no-untyped-def]
    report = lint(subject="回复：【通知】系统升级安排说明", body="收到，听说要延期？\n\n李娜\n运营部\n")
    fired = {f.check for f in report.findings}
    exempt = {s.id for s in REGISTRY if s.reply_exempt}
    assert not fired & exempt
    assert "content-unverified" in fired
