"""The dry-run engine: a proposed policy replayed over known examples changes what it should."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mailgate.simulate as sim
from mailgate.errors import ConfigError
from mailgate.policy import Policy
from mailgate.simulate import Sample, Side, check_shape, lints_alike, merge_patch, proposed_doc, simulate
from mailgate.state import PolicyState
from tests.conftest import EXAMPLES


def eml(name: str) -> Sample:
    return Sample.upload(name, (EXAMPLES / name).read_bytes())


@pytest.fixture
def state(demo_policy: Policy) -> PolicyState:
    return PolicyState(demo_policy)


def propose(state: PolicyState, patch: dict[str, Any], **kw: Any) -> Side:
    doc = proposed_doc(state.doc, patch, **kw)
    policy, table = state.build(doc)
    return Side(state.policy if lints_alike(doc, state.doc) else policy, table)


def test_severity_down_turns_fail_into_warn_and_reject_into_advise(state: PolicyState) -> None:
    after = propose(state, {"checks": {"action-items": {"severity": "warning"}}})
    result = simulate(state, after, [eml("action-items/bad.eml"), eml("action-items/good.eml")])
    assert result.messages == 2 and not result.truncated
    assert (result.verdict_changes, result.action_changes) == (1, 1)
    assert result.verdicts == {"fail→warn": 1, "pass→pass": 1}
    assert result.actions == {"reject→advise": 1, "deliver→deliver": 1}
    [example] = result.examples
    out = example.to_json()
    assert out["id"] == "action-items/bad.eml" and out["source"] == "uploaded"
    assert out["subject"].startswith("【通知】")
    assert out["before"]["verdict"] == "fail" and out["before"]["action"] == "reject"
    assert out["after"]["verdict"] == "warn" and out["after"]["action"] == "advise"
    assert "action-items" in out["before"]["findings"] and "action-items" in out["after"]["findings"]
    assert out["checks_added"] == out["checks_removed"] == []
    assert result.to_json()["checks"] == {}  # the same checks fire, only less severely


def test_turning_a_check_off_removes_its_findings(state: PolicyState) -> None:
    after = propose(state, {"checks": {"action-items": {"enabled": False}}})
    samples = [eml("action-items/bad.eml"), eml("action-items/bad-2.eml"), eml("subject-topic/bad.eml")]
    result = simulate(state, after, samples)
    assert result.verdicts == {"fail→pass": 2, "warn→warn": 1}
    assert result.actions == {"reject→deliver": 2, "advise→advise": 1}
    assert result.findings_changes == 2
    checks = result.to_json()["checks"]
    assert list(checks) == ["action-items"]
    assert checks["action-items"]["messages_removed"] == 2 and checks["action-items"]["messages_added"] == 0
    assert checks["action-items"]["findings_after"] == 0 and checks["action-items"]["delta"] < 0
    assert [e.to_json()["checks_removed"] for e in result.examples] == [["action-items"], ["action-items"]]


def test_an_action_change_changes_actions_not_verdicts_and_lints_once(
    state: PolicyState, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = itertools.count()
    real = sim.lint_bytes

    def counting(*args: Any, **kw: Any) -> Any:
        next(calls)
        return real(*args, **kw)

    monkeypatch.setattr(sim, "lint_bytes", counting)
    after = propose(state, {"policy": {"fail": "hold"}})
    assert after.policy is state.policy  # only verdict → action differs
    samples = [eml("action-items/bad.eml"), eml("subject-topic/bad.eml"), eml("action-items/good.eml")]
    result = simulate(state, after, samples)
    assert next(calls) == 3  # one lint per message, not two
    assert result.verdict_changes == 0 and result.action_changes == 1
    assert result.actions == {"reject→hold": 1, "advise→advise": 1, "deliver→deliver": 1}
    assert result.examples[0].to_json()["after"] == {**result.examples[0].to_json()["before"], "action": "hold",
                                                     "source": "policy"}  # fmt: skip


def test_department_comes_from_each_sides_directory(state: PolicyState) -> None:
    data = (EXAMPLES / "action-items/bad.eml").read_bytes()
    ops = Sample(
        "r1", data, source="retained", mail_from="lina@demo.example.cn", rcpt_to=("zhaoqiang@demo.example.cn",)
    )
    tech = Sample("r2", data, source="retained", mail_from="chenming@demo.example.cn")
    bounce = Sample("r3", data, source="retained", mail_from="")  # no sender: no department
    upload = eml("action-items/bad.eml")  # no envelope: the header From (李娜, 运营部) decides
    hold_ops = {"policy": {"departments": {"运营部": {"fail": "hold"}}}}
    result = simulate(state, propose(state, hold_ops), [ops, tech, bounce, upload])
    assert result.actions == {"reject→hold": 2, "reject→reject": 2}
    assert sorted(e.sample.id for e in result.examples) == ["action-items/bad.eml", "r1"]
    assert result.examples[0].after.source == "department:运营部"
    assert result.sources == {"retained": 3, "uploaded": 1}
    # the proposal moves 陈明 to 运营部 as well: its directory, not the current one, decides
    people = [{**row, "department": "运营部"} if row["email"].startswith("chenming") else row
              for row in state.policy.directory.to_rows()]  # fmt: skip
    moved = propose(state, {**hold_ops, "directory": {"people": people}})
    assert moved.policy is not state.policy
    result = simulate(state, moved, [tech])
    assert result.actions == {"reject→hold": 1}


def test_limit_truncates_only_when_more_remain(state: PolicyState) -> None:
    after = propose(state, {"checks": {"action-items": {"severity": "warning"}}})
    samples = [eml("action-items/bad.eml"), eml("action-items/good.eml"), eml("action-items/bad-2.eml")]
    exact = simulate(state, after, samples, limit=3)
    assert exact.messages == 3 and not exact.truncated and exact.stopped_by is None
    cut = simulate(state, after, iter(samples), limit=2)
    assert cut.messages == 2 and cut.truncated and cut.stopped_by == "limit"
    assert cut.to_json()["truncated"] is True


def test_time_budget_stops_early(state: PolicyState) -> None:
    ticks = itertools.count(step=10)  # each clock reading is 10 s later
    pulled: list[str] = []

    def samples() -> Iterator[Sample]:
        for name in ("action-items/bad.eml", "action-items/good.eml", "subject-topic/bad.eml"):
            pulled.append(name)
            yield eml(name)

    result = simulate(state, state, samples(), budget=25, clock=lambda: float(next(ticks)))
    # readings: start 0; before message 1: 10 (ok); before message 2: 20 (ok); before message 3: 30 (stop)
    assert result.messages == 2 and result.truncated and result.stopped_by == "time"
    assert len(pulled) == 3


def test_examples_prefer_verdict_changes_and_are_capped(state: PolicyState) -> None:
    after = propose(state, {"checks": {"action-items": {"severity": "warning"}}, "policy": {"warn": "hold"}})
    # a warning that stays a warning (action advise → hold) comes first, the verdict change second
    samples = [eml("action-item-deadline/bad.eml"), eml("action-items/bad.eml"), eml("action-items/good.eml")]
    result = simulate(state, after, samples, examples=1)
    assert result.verdict_changes == 1 and result.action_changes == 2
    assert [e.sample.id for e in result.examples] == ["action-items/bad.eml"]
    assert simulate(state, after, samples, examples=0).examples == []
    both = simulate(state, after, samples, examples=5)
    assert [e.sample.id for e in both.examples] == ["action-items/bad.eml", "action-item-deadline/bad.eml"]


def test_unchanged_policy_changes_nothing(state: PolicyState) -> None:
    samples = [eml("action-items/bad.eml"), eml("subject-topic/bad.eml"), eml("typography/bad.eml")]
    result = simulate(state, state, samples)
    assert result.messages == 3
    assert result.verdict_changes == result.action_changes == result.findings_changes == 0
    assert result.examples == [] and result.to_json()["checks"] == {}


def test_a_crashing_lint_is_an_error_outcome_not_an_exception(
    state: PolicyState, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(sim, "lint_bytes", boom)
    result = simulate(state, state, [eml("action-items/good.eml")])
    assert result.verdicts == {"error→error": 1} and result.actions == {"hold→hold": 1}


def test_upload_is_prepared_like_the_relay_prepares_mail() -> None:
    sample = Sample.upload("x.eml", b"X-Mailgate-Verdict: pass\nSubject: hi\n\nbody\n")
    assert sample.data == b"Subject: hi\r\n\r\nbody\r\n"
    assert sample.source == "uploaded" and sample.mail_from is None


def test_merge_patch_merges_tables_removes_nulls_and_replaces_lists() -> None:
    current: dict[str, Any] = {"checks": {"a": {"severity": "warning", "enabled": False}}, "policy": {"fail": "hold"}}
    patch = {"checks": {"a": {"enabled": None, "tags": ["x"]}}, "policy": None}
    assert merge_patch(current, patch) == {"checks": {"a": {"severity": "warning", "tags": ["x"]}}}
    assert current["checks"]["a"]["enabled"] is False  # the current layer is not touched
    assert proposed_doc(current, {"lexicons": {}}, replace=True) == {"lexicons": {}}


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"rules": {}}, "unknown"),
        ({"checks": []}, "checks"),
        ({"checks": {"action-items": "off"}}, "checks.action-items"),
        ({"lexicons": {"vague": {"words": {"add": "x"}}}}, "lexicons.vague.words.add"),
        ({"lexicons": {"vague": {"words": 3}}}, "lexicons.vague.words"),
        ({"policy": {"departments": {"x": []}}}, "policy.departments.x"),
        ({"directory": {"people": ["a@b.c"]}}, "directory.people"),
        ({"directory": []}, "directory"),
    ],
)
def test_shape_errors_name_the_key(doc: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_shape(doc)


KEYS = st.sampled_from(["checks", "policy", "lexicons", "directory", "people", "action-items", "severity", "enabled",
                        "departments", "fail", "add", "x"]) | st.text(max_size=3)  # fmt: skip
LEAVES = (
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.sampled_from(["hold", "warning", "a@b.cn"])
)
JSON = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=15
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(patch=st.dictionaries(st.sampled_from(["checks", "lexicons", "policy", "directory"]), JSON, max_size=4))
def test_any_json_proposal_builds_or_is_a_config_error(state: PolicyState, patch: dict[str, Any]) -> None:
    with contextlib.suppress(ConfigError):  # the route's 422; anything else would be a 500
        state.build(proposed_doc(state.doc, patch))
