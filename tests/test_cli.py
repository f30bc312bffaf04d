"""The CLI contract (SPEC §4): formats, exit codes, error reports, explain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from checks import REGISTRY
from mailgate.cli import main
from tests.conftest import EXAMPLES, build_eml

CONFIG = str(EXAMPLES / "mailgate.toml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def good_and_bad(tmp_path: Path) -> tuple[Path, Path]:
    spec = next(iter(REGISTRY))
    bad = spec.examples()["bad"][0]
    good = tmp_path / "good.eml"
    good.write_bytes(next(iter(spec.examples()["good"])).read_bytes())
    return good, bad


def test_json_report_shape(capsys: pytest.CaptureFixture[str], good_and_bad: tuple[Path, Path]) -> None:
    _, bad = good_and_bad
    code, out, _ = run(capsys, "lint", "--config", CONFIG, "--format", "json", str(bad))
    reports = json.loads(out)
    assert isinstance(reports, list) and len(reports) == 1
    report = reports[0]
    assert report["path"] == str(bad)
    assert report["verdict"] in {"pass", "warn", "fail"}
    for f in report["findings"]:
        assert set(f) == {"check", "severity", "message", "suggestion", "field", "start", "end", "fix"}
        assert f["severity"] in {"error", "warning", "info"}
        assert 0 <= f["start"] <= f["end"]
    assert code == (1 if report["verdict"] == "fail" else 0)


def test_unlintable_message_gets_an_error_report_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    deep = tmp_path / "deep.eml"
    nest = b""
    for i in range(200):
        nest += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
    deep.write_bytes(b"From: a@demo.example.cn\r\nSubject: x\r\n" + nest + b"\r\nhi\r\n")
    code, out, err = run(capsys, "lint", "--config", CONFIG, "--format", "json", str(deep))
    report = json.loads(out)[0]
    assert report["verdict"] == "error"
    assert report["error"]["code"] == "too-deep"
    assert report["findings"] == []
    assert code == 1
    assert "Traceback" not in err


def test_missing_file_is_exit_2_and_others_still_reported(
    capsys: pytest.CaptureFixture[str], good_and_bad: tuple[Path, Path], tmp_path: Path
) -> None:
    good, _ = good_and_bad
    code, out, err = run(capsys, "lint", "--config", CONFIG, "--format", "json", str(tmp_path / "nope.eml"), str(good))
    assert code == 2
    assert "nope.eml" in err
    assert [r["path"] for r in json.loads(out)] == [str(good)]


def test_bad_config_is_exit_2_with_the_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text("[checks.not-a-check]\nenabled = false\n", encoding="utf-8")
    eml = tmp_path / "a.eml"
    eml.write_bytes(build_eml(body="hi"))
    code, _, err = run(capsys, "lint", "--config", str(cfg), str(eml))
    assert code == 2
    assert "not-a-check" in err


def test_text_format_points_at_file_field_line_col(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    eml = tmp_path / "t.eml"
    eml.write_bytes(build_eml(subject="[通知]系统升级安排说明", body="各位：\n\n见下。\n"))
    _, out, _ = run(capsys, "lint", "--config", CONFIG, "--color", "never", str(eml))
    assert f"{eml}:subject:1:1:" in out
    assert "^" in out  # the offending span is underlined
    _, out_en, _ = run(capsys, "--locale", "en", "lint", "--config", CONFIG, "--color", "never", str(eml))
    assert "suggestion:" in out_en and "建议" not in out_en


def test_checks_lists_every_check_and_explains_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "checks", "--config", CONFIG)
    assert code == 0
    for spec in REGISTRY:
        assert spec.id in out
    spec = next(iter(REGISTRY))
    code, out, _ = run(capsys, "checks", "--config", CONFIG, "--explain", spec.id)
    assert code == 0
    for section in ("What it checks", "Why", "Bad", "Good", "Fix safety", "Params"):
        assert section in out
    code, _, err = run(capsys, "checks", "--explain", "nope")
    assert code == 2 and "nope" in err


def test_installed_entry_point_runs() -> None:
    exe = Path(sys.executable).parent / "mailgate"
    proc = subprocess.run([str(exe), "checks"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "subject-tag" in proc.stdout
