"""``[api]`` settings: defaults, accepted values, and a ConfigError naming the key for each bad one."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mailgate.api.settings import ApiSettings, api_settings
from mailgate.errors import ConfigError
from mailgate.policy import Policy


def settings(policy: Policy, **api: Any) -> ApiSettings:
    return api_settings(dataclasses.replace(policy, raw={**policy.raw, "api": api}))


def test_defaults_and_accepted_values(demo_policy: Policy) -> None:
    s = settings(demo_policy)
    assert (s.host, s.port, s.open_rate, s.open_burst, s.auth_fail_rate, s.auth_fail_burst) == (
        "127.0.0.1", 8025, 5.0, 20, 0.5, 20)  # fmt: skip
    s = settings(demo_policy, listen="0.0.0.0:9000", open_rate=0, auth_fail_rate=2, auth_fail_burst=5,
                 public_lint=True, gallery=False, lint_workers=4)  # fmt: skip
    assert (s.host, s.port, s.open_rate, s.auth_fail_rate, s.auth_fail_burst) == ("0.0.0.0", 9000, 0.0, 2.0, 5)
    assert s.public_lint and not s.gallery and s.lint_workers == 4


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("open_rate", -1), ("open_rate", "5"), ("open_rate", True),
        ("auth_fail_rate", -0.5), ("auth_fail_rate", "fast"),
        ("open_burst", 0), ("open_burst", 1.5), ("auth_fail_burst", -3), ("auth_fail_burst", True),
        ("lint_workers", 0), ("max_body_bytes", "10MB"), ("public_lint", "yes"), ("gallery", 1),
    ],
)  # fmt: skip
def test_bad_values_name_their_key(demo_policy: Policy, key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key):
        settings(demo_policy, **{key: value})


def test_unknown_keys_are_refused(demo_policy: Policy) -> None:
    with pytest.raises(ConfigError, match="auth_fail_rat "):
        settings(demo_policy, **{"auth_fail_rat ": 1})
