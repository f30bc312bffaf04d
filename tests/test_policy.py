"""Policy as a value: defaults, config overrides, environment, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks import REGISTRY
from mailgate.errors import ConfigError
from mailgate.model import Severity
from mailgate.policy import build_policy, load_policy


def test_defaults_enable_every_check_at_its_shipped_severity() -> None:
    policy = build_policy({})
    assert set(policy.checks) == {s.id for s in REGISTRY}
    for spec in REGISTRY:
        assert policy.checks[spec.id].enabled
        assert policy.checks[spec.id].severity is spec.severity
        assert policy.checks[spec.id].source["severity"] == "default"


def test_config_overrides_severity_enabled_and_records_the_source() -> None:
    spec = next(iter(REGISTRY))
    policy = build_policy({"checks": {spec.id: {"severity": "info", "enabled": False}}})
    assert policy.checks[spec.id].severity is Severity.INFO
    assert not policy.checks[spec.id].enabled
    assert policy.checks[spec.id].source == {"enabled": "config", "severity": "config"}


def test_unknown_check_id_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="no-such-check"):
        build_policy({"checks": {"no-such-check": {"severity": "error"}}})


def test_bad_severity_is_an_error_naming_the_check() -> None:
    spec = next(iter(REGISTRY))
    with pytest.raises(ConfigError, match=spec.id):
        build_policy({"checks": {spec.id: {"severity": "fatal"}}})


def test_unknown_parameter_is_an_error_naming_check_and_parameter() -> None:
    spec = next(iter(REGISTRY))
    with pytest.raises(ConfigError, match=rf"{spec.id}.*bogus_param"):
        build_policy({"checks": {spec.id: {"bogus_param": 3}}})


def test_unknown_section_is_an_error() -> None:
    with pytest.raises(ConfigError, match="organisation"):
        build_policy({"organisation": {}})


def test_lexicon_add_and_remove() -> None:
    base = build_policy({})
    name, cats = next((n, c) for n, c in base.lexicons.items() if c)
    cat, words = next(iter(cats.items()))
    policy = build_policy({"lexicons": {name: {cat: {"add": ["新词汇"], "remove": [words[0]]}}}})
    assert "新词汇" in policy.lexicons[name][cat]
    assert words[0] not in policy.lexicons[name][cat]
    with pytest.raises(ConfigError, match="unknown keys"):
        build_policy({"lexicons": {name: {cat: {"drop": ["x"]}}}})


def test_load_policy_reads_directory_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(
        "email,name,department,role,aliases\na@corp.cn,张三,技术部,head,San Zhang|老张\n", encoding="utf-8"
    )
    cfg = tmp_path / "mailgate.toml"
    cfg.write_text('[organization]\ninternal_domains = ["corp.cn"]\ndirectory = "people.csv"\n', encoding="utf-8")
    policy = load_policy(cfg, env={})
    assert policy.directory.by_email("A@corp.cn").name == "张三"  # type: ignore[union-attr]
    assert policy.is_internal("corp.cn") and policy.is_internal("mail.corp.cn")
    assert not policy.is_internal("corp.cn.evil.com")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "mailgate.toml"
    cfg.write_text('[lint]\nshort_reply_chars = 200\n', encoding="utf-8")
    policy = load_policy(cfg, env={"MAILGATE_LINT__SHORT_REPLY_CHARS": "80"})
    assert policy.short_reply_chars == 80


def test_invalid_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[checks\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_policy(bad, env={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "absent.toml", env={})


def test_malformed_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("mail,name\nx,y\n", encoding="utf-8")
    cfg = tmp_path / "m.toml"
    cfg.write_text('[organization]\ndirectory = "d.csv"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="header must be"):
        load_policy(cfg, env={})
