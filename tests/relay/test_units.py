"""Pure parts of the relay: the decision table, replies, header rewriting, report-mail rules, config."""

from __future__ import annotations

import dataclasses
import email

import pytest

from mailgate.errors import ConfigError
from mailgate.lint import lint_bytes
from mailgate.model import Finding, Severity, Text
from mailgate.policy import Policy
from mailgate.relay.actions import normalize_line_endings, prepend_headers, replace_subject, strip_annotations
from mailgate.relay.auth import Authenticator, hash_password, verify_password
from mailgate.relay.config import relay_settings
from mailgate.relay.decide import DecisionTable, override_reason, strip_override
from mailgate.relay.replies import multiline, passed_back, reject_reply, to_ascii
from mailgate.relay.reportmail import RateLimiter, build_report_mail, should_report
from mailgate.relay.server import address_ok
from tests.relay.conftest import WARN_EML, example


def test_default_table_is_the_spec() -> None:
    t = DecisionTable.from_config({})
    assert [t.decide(v).action for v in ("pass", "warn", "fail", "error")] == ["deliver", "advise", "reject", "hold"]
    assert t.decide("fail", override="急").action == "deliver"
    assert t.decide("fail", override="急").override == "急"
    assert t.decide("warn", override="急").override is None


def test_layers_later_wins_and_say_where_from() -> None:
    t = DecisionTable.from_config(
        {"fail": "hold", "format": True, "departments": {"市场部": {"fail": "annotate"}},
         "senders": {"Boss@X.cn": {"fail": "monitor", "format": False}}}
    )  # fmt: skip
    assert (t.decide("fail").action, t.decide("fail").source, t.decide("fail").format) == ("hold", "policy", True)
    d = t.decide("fail", department="市场部")
    assert (d.action, d.source) == ("annotate", "department:市场部")
    d = t.decide("fail", sender="boss@x.cn", department="市场部")
    assert (d.action, d.source, d.format) == ("monitor", "sender:boss@x.cn", False)
    assert t.decide("warn", sender="boss@x.cn").source == "default"


@pytest.mark.parametrize(
    "cfg", [{"fail": "drop"}, {"format": "yes"}, {"departments": {"x": {"bogus": 1}}}, {"color": "red"}]
)
def test_bad_policy_is_a_config_error(cfg: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        DecisionTable.from_config(cfg)


@pytest.mark.parametrize(
    ("subject", "reason"),
    [("【通知】X [override: 客户急需]", "客户急需"), ("X ［override：理由］ ", "理由"), ("X [OVERRIDE: a b]", "a b"),
     ("X [override: ]", None), ("X [override: a] tail", None), ("X", None)],
)  # fmt: skip
def test_override_marker(subject: str, reason: str | None) -> None:
    assert override_reason(subject) == reason
    if reason:
        assert "override" not in strip_override(subject).lower()


def finding(i: int, sev: Severity = Severity.ERROR) -> Finding:
    return Finding(f"check-{i}", sev, Text(f"问题{i}", f"problem {i} 【通知】"), Text(f"改{i}", f"fix {i}"), "body")


def test_reject_reply_shape() -> None:
    reply = reject_reply([finding(i, Severity.WARNING) for i in range(12)] + [finding(99)], "http://r/1", utf8=False)
    lines = reply.split("\r\n")
    assert all(line.startswith("550-5.7.1 ") for line in lines[:-1]) and lines[-1] == "550 5.7.1 Full report: http://r/1"
    assert lines[1].startswith("550-5.7.1 [check-99]")  # errors first
    assert sum("[check-" in line for line in lines) == 10
    assert reply.isascii() and "problem 99 [...]" in reply
    zh = reject_reply([finding(1)], "http://r/1", utf8=True)
    assert "问题1" in zh and "改1" in zh


def test_reply_lines_are_bounded_and_clean() -> None:
    reply = multiline(550, ["x" * 5000, "a\r\nRCPT TO:<evil>", "中文"])
    for line in reply.split("\r\n"):
        assert len(line.encode()) < 512
    assert "\nRCPT" not in reply and reply.isascii()
    assert to_ascii("【通知】ＡＢＣ１２３") == "[...]ABC123"
    assert passed_back(554, "5.7.1 no\nsecond line") == "554-5.7.1 no\r\n554 second line"


def test_header_rewrites_keep_the_rest_byte_identical() -> None:
    raw = normalize_line_endings(b"From: a@x\nSubject: =?utf-8?b?5rWL6K+V?= [override: x]\n folded\r\n\r\nbody\rline\n")
    assert raw.count(b"\r\n") == 6 and b"\r" not in raw.replace(b"\r\n", b"")
    out = replace_subject(raw, "测试")
    msg = email.message_from_bytes(out)
    assert "override" not in out.decode() and out.endswith(b"\r\n\r\nbody\r\nline\r\n")
    assert str(email.header.make_header(email.header.decode_header(msg["Subject"]))) == "测试"
    added = prepend_headers(out, [("X-Mailgate-Verdict", "warn; id=1")])
    assert added.startswith(b"X-Mailgate-Verdict: warn; id=1\r\nFrom: a@x\r\n")
    assert strip_annotations(added) == out
    assert replace_subject(b"From: a\r\n\r\nb", "x\r\nBcc: evil@x") == b"From: a\r\nSubject: x Bcc: evil@x\r\n\r\nb"


def test_report_mail_rules(demo_policy: Policy) -> None:
    report = lint_bytes(example(WARN_EML), demo_policy)
    assert report.message is not None
    assert should_report(report.message, "lina@demo.example.cn", demo_policy)
    assert not should_report(report.message, "", demo_policy)  # a bounce
    assert not should_report(report.message, "someone@outside.example.com", demo_policy)
    assert not should_report(report.message, "MAILER-DAEMON@demo.example.cn", demo_policy)
    auto = lint_bytes(b"Auto-Submitted: auto-replied\n" + example(WARN_EML), demo_policy).message
    ours = lint_bytes(b"X-Mailgate-Report: advise\n" + example(WARN_EML), demo_policy).message
    assert not should_report(auto, "lina@demo.example.cn", demo_policy)
    assert not should_report(ours, "lina@demo.example.cn", demo_policy)
    data = build_report_mail(
        message=report.message,
        findings=report.findings,
        action="advise",
        sender="lina@demo.example.cn",
        report_from="mailgate@demo.example.cn",
        link="http://r/1",
    )
    mail = email.message_from_bytes(data)
    assert mail["Auto-Submitted"] == "auto-generated" and mail["X-Mailgate-Report"] == "advise"
    body = mail.get_payload(decode=True).decode("utf-8")
    assert "action-item-deadline" in body and "http://r/1" in body and "已送达" in body


def test_rate_limiter_window() -> None:
    rl = RateLimiter(2, window=10)
    assert [rl.allow("A@x", now=t) for t in (0, 1, 2)] == [True, True, False]
    assert rl.allow("a@x", now=10.5) is True


@pytest.mark.parametrize(
    ("address", "ok"),
    [("a.b@demo.example.cn", True), ("张三@例子.中国", True), ("a@b", False), ("a%b@c.cn", False),
     ("a@b.cn.", False), ("a@[1.2.3.4]", False), ("a@b@c.cn", False), ('"a@b"@c.cn', False), ("a@-b.cn", False),
     ("a\r\n@b.cn", False)],
)  # fmt: skip
def test_address_syntax(address: str, ok: bool) -> None:
    assert address_ok(address) is ok


def test_relay_settings_validation(demo_policy: Policy) -> None:
    def settings(relay: dict[str, object], **extra: object) -> object:
        return relay_settings(dataclasses.replace(demo_policy, raw={"relay": relay, **extra}))

    s = settings({"listen": "0.0.0.0:25", "upstream": "mx:587", "client_networks": ["10.0.0.0/8"]},
                 api={"listen": "h:1"})  # fmt: skip
    assert (s.host, s.port, s.upstream.host, s.upstream.port) == ("0.0.0.0", 25, "mx", 587)  # type: ignore[attr-defined]
    assert s.report_url == "http://h:1/reports/{id}"  # type: ignore[attr-defined]
    assert s.report_from == "mailgate@demo.example.cn"  # type: ignore[attr-defined]
    for bad in ({"listen": "x:99999"}, {"client_networks": ["nope"]}, {"max_recipients": -1}, {"tls_cert": "a"},
                {"colour": 1}, {"command_timeout": 0}):  # fmt: skip
        with pytest.raises(ConfigError):
            settings(bad)


def test_passwords() -> None:
    h = hash_password("s3cret", iterations=1000)
    assert verify_password("s3cret", h) and not verify_password("nope", h) and not verify_password("x", "garbage")
    assert isinstance(Authenticator({"Alice": h}).users["alice"], str)


def test_reject_reply_leaves_info_findings_to_the_report() -> None:
    reply = reject_reply([finding(1), finding(2, Severity.INFO), finding(3, Severity.INFO)], "http://r/1", utf8=False)
    assert "[check-1]" in reply
    assert "[check-2]" not in reply and "[check-3]" not in reply
    assert "2 more in the full report" in reply


def test_corrected_draft_reads_the_fixed_message_like_the_linter(demo_policy: Policy) -> None:
    from mailgate.fmt import format_bytes
    from mailgate.relay.reportmail import DRAFT_SHOWN, CorrectedDraft

    raw = example("typography/bad.eml")
    report = lint_bytes(raw, demo_policy)
    fixed = format_bytes(raw, demo_policy).data
    draft = CorrectedDraft.of(fixed, report.findings)
    assert draft is not None and draft.subject == "【通知】门禁系统升级安排通知"
    assert "今天 18:00-19:00 门禁系统升级" in draft.body and draft.cut == 0 and draft.data == fixed
    assert draft.fixes and len(draft.fixes) == len(set(draft.fixes))  # each correction named once
    # a GBK body without a charset label reads as the linter reads it, not as mojibake
    gbk = b"From: a@demo.example.cn\r\nSubject: x\r\n\r\n" + "各位好，本周例会改到周四。".encode("gb18030")
    gbk_draft = CorrectedDraft.of(gbk, report.findings)
    assert gbk_draft is not None and "本周例会改到周四" in gbk_draft.body
    # a long body is cut for the mail text (the attachment keeps all of it)
    long = raw.replace("赵强：".encode(), ("很长的正文。" * 2000).encode())
    cut = CorrectedDraft.of(long, report.findings)
    assert cut is not None and len(cut.body) == DRAFT_SHOWN and cut.cut > 0
    # a fixed message that cannot be read back (here: nested past the depth cap): no draft
    level = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
    deep = level * 200
    assert CorrectedDraft.of(deep, report.findings) is None
