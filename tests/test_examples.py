"""Every check's documented bad and good examples run as tests (pylint ``bad.py``/``good.py`` style)."""

from __future__ import annotations

import pytest

from checks import REGISTRY, TABLE
from mailgate.lint import lint_bytes
from mailgate.policy import Policy

SPECS = list(REGISTRY)


def test_every_table_entry_has_a_spec() -> None:
    assert [s.id for s in REGISTRY] == [cid for cid, _ in TABLE]


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_bad_examples_fire(spec, demo_policy: Policy) -> None:  # type: ignore[no-untyped-def]
    bad = spec.examples()["bad"]
    assert bad, f"{spec.id} has no bad example"
    for path in bad:
        report = lint_bytes(path.read_bytes(), demo_policy)
        assert spec.id in {f.check for f in report.findings}, f"{path.name} should fire {spec.id}"


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_good_examples_pass(spec, demo_policy: Policy) -> None:  # type: ignore[no-untyped-def]
    good = spec.examples()["good"]
    assert good, f"{spec.id} has no good example"
    for path in good:
        report = lint_bytes(path.read_bytes(), demo_policy)
        assert report.error is None, report.error
        assert spec.id not in {f.check for f in report.findings}, (
            f"{path.name} should not fire {spec.id}: "
            + "; ".join(f.message.zh for f in report.findings if f.check == spec.id)
        )
