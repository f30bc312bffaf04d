"""HOSTILE.md 30, 32–34: RFC 2047 edge cases, address lists and address ambiguity."""

from __future__ import annotations

import base64
import time

import pytest

from mailgate.parse import parse_message, strip_subject_prefixes
from mailgate.parse.headers import decode_header_value, parse_address_field, parse_address_list


def b_word(data: bytes, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(data).decode()}?="


# ---------------------------------------------------------------- RFC 2047


def test_gbk_character_split_over_two_encoded_words() -> None:
    data = "中文测试".encode("gbk")
    value = f"{b_word(data[:3], 'gbk')} {b_word(data[3:], 'gbk')}"
    assert decode_header_value(value) == "中文测试"


def test_utf8_character_split_over_folded_encoded_words() -> None:
    data = "会议纪要".encode()
    value = f"{b_word(data[:4], 'utf-8')}\r\n {b_word(data[4:], 'UTF-8')}"
    assert decode_header_value(value) == "会议纪要"


def test_decoded_crlf_never_survives() -> None:
    value = decode_header_value("=?utf-8?Q?a=0D=0ABcc:_x?=")
    assert "\r" not in value and "\n" not in value
    assert value == "a Bcc: x"
    msg = parse_message(b"From: a@x.cn\r\nTo: b@x.cn\r\nSubject: =?utf-8?Q?a=0D=0ABcc:_evil@x.cn?=\r\n\r\nx")
    assert "\n" not in msg.subject and msg.header("Bcc") is None and msg.bcc == ()


def test_ten_thousand_encoded_words_are_linear() -> None:
    value = " ".join(b_word("李".encode(), "utf-8") for _ in range(10_000))
    started = time.perf_counter()
    assert decode_header_value(value) == "李" * 10_000
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("word", ["=?gb2312?B?!!!?=", "=?utf-8?B?A?=", "=??B?5p2O?=", "=?utf-8?X?abc?="])
def test_malformed_encoded_words_stay_as_written(word: str) -> None:
    assert decode_header_value(f"x {word} y") == f"x {word} y"


def test_unknown_charset_in_an_encoded_word() -> None:
    assert decode_header_value("=?x-unknown?B?5p2O5aic?=") == "李娜"
    assert decode_header_value(b_word("李娜".encode("gbk"), "x-unknown")) == "李娜"


def test_encoded_words_mixed_with_text() -> None:
    assert decode_header_value("Re: =?utf-8?B?5p2O?= =?gbk?B?xMg=?= ok") == "Re: 李娜 ok"
    assert decode_header_value("=?utf-8*zh-cn?Q?=E6=9D=8E?=") == "李"
    assert decode_header_value("=?utf-8?Q?a_b?=") == "a b"


def test_raw_8bit_headers_decode() -> None:
    msg = parse_message("Subject: 中文主题\r\nFrom: 林峰 <a@x.cn>\r\n\r\nx".encode("gbk"))
    assert msg.subject == "中文主题"
    assert msg.sender is not None and msg.sender.display_name == "林峰"
    msg = parse_message("Subject: 中文主题\r\n\r\nx".encode())
    assert msg.subject == "中文主题"


def test_folded_subject_unfolds_without_doubled_breaks() -> None:
    msg = parse_message(b"Subject: first\r\n second\r\n\tthird\r\n\r\nx")
    assert msg.subject == "first second\tthird"


def test_gb_encoded_subject_from_corpus_shape() -> None:
    subject = "【会议纪要】活动页面上线事故复盘会议纪要"
    data = subject.encode("gbk")
    raw = f"Subject: {b_word(data[:13], 'GBK')}\r\n {b_word(data[13:], 'GBK')}\r\n\r\nx".encode()
    assert parse_message(raw).subject == subject


# ---------------------------------------------------------------- subject prefixes


@pytest.mark.parametrize(
    ("subject", "base"),
    [
        ("Re: 【通知】x", "【通知】x"),
        ("RE：【通知】x", "【通知】x"),
        ("Fwd: Fw: 转发：回复: 答复:【通知】x", "【通知】x"),
        ("回复：【需求】质检抽样规则配置需求说明", "【需求】质检抽样规则配置需求说明"),
        ("Re[2]: x", "x"),
        ("【通知】Re: x", "【通知】Re: x"),
        ("Report: x", "Report: x"),
        ("Fwdx: y", "Fwdx: y"),
    ],
)
def test_subject_prefixes(subject: str, base: str) -> None:
    assert subject[strip_subject_prefixes(subject) :] == base


# ---------------------------------------------------------------- address lists


def test_address_offsets_point_into_the_field_text() -> None:
    text, addrs = parse_address_list(
        '=?utf-8?B?5p2O5aic?= <lina@x.cn>; 王芳<wangfang@x.cn>，zhang@x.cn；"Li, Na" <l2@x.cn>', "to"
    )
    assert [a.email for a in addrs] == ["lina@x.cn", "wangfang@x.cn", "zhang@x.cn", "l2@x.cn"]
    for a in addrs:
        assert a.email in text[a.start : a.end]
    assert addrs[0].display_name == "李娜"
    assert addrs[3].display_name == "Li, Na"
    assert text[addrs[3].start : addrs[3].end] == '"Li, Na" <l2@x.cn>'


@pytest.mark.parametrize(
    "bad",
    ["a@b", "a@[1.2.3.4]", "a@b_c.cn", "a@-b.cn", "x <a..b@c.cn>", "Frank <frank@x.cn", "a@b.cn.", "@x.cn:y@z.cn"],
)
def test_invalid_addresses_are_marked(bad: str) -> None:
    _, addrs, defects = parse_address_field(bad, "to")
    assert len(addrs) == 1 and not addrs[0].valid
    assert "invalid-address:to" in defects


def test_one_bad_entry_does_not_hide_the_others() -> None:
    _, addrs = parse_address_list("good@x.cn, bad@@x, other@x.cn", "cc")
    assert [(a.email, a.valid) for a in addrs] == [("good@x.cn", True), ("bad@@x", False), ("other@x.cn", True)]


def test_comments_and_quotes_do_not_split() -> None:
    _, addrs = parse_address_list('"a, b; c" <x@y.cn> (team, x), z@y.cn', "to")
    assert [a.email for a in addrs] == ["x@y.cn", "z@y.cn"]


def test_address_limit() -> None:
    _, addrs, defects = parse_address_field(", ".join(f"u{i}@x.cn" for i in range(50)), "to", limit=10)
    assert len(addrs) == 10 and "too-many-addresses:to" in defects


# ---------------------------------------------------------------- ambiguity (CVE-2023-27043)


def sender_of(from_lines: str) -> tuple[str, bool, tuple[str, ...]]:
    msg = parse_message(f"{from_lines}To: b@corp.cn\r\nSubject: s\r\n\r\nx".encode())
    assert msg.sender is not None
    return msg.sender.email, msg.sender.valid, msg.defects


def test_comment_trick_never_yields_the_display_address() -> None:
    email, valid, defects = sender_of("From: alice@corp.cn)<evil@ext.com>\r\n")
    assert email == "evil@ext.com" and not valid
    assert "invalid-address:from" in defects


def test_quoted_address_as_display_name_is_flagged() -> None:
    email, valid, defects = sender_of('From: "alice@corp.cn" <evil@ext.com>\r\n')
    assert (email, valid) == ("evil@ext.com", True)
    assert "address-in-display-name:from" in defects


def test_encoded_address_as_display_name_is_flagged() -> None:
    word = b_word(b"ceo@corp.cn", "utf-8")
    email, valid, defects = sender_of(f"From: {word} <evil@ext.com>\r\n")
    assert (email, valid) == ("evil@ext.com", True)
    assert "address-in-display-name:from" in defects


def test_two_from_headers_take_the_first_and_record_it() -> None:
    email, _, defects = sender_of("From: ceo@corp.cn\r\nFrom: evil@ext.com\r\n")
    assert email == "ceo@corp.cn"
    assert "multiple-from" in defects
    email, valid, _ = sender_of("From: alice@corp.cn)<evil@ext.com>\r\nFrom: ceo@corp.cn\r\n")
    assert (email, valid) == ("evil@ext.com", False)  # never the later, valid-looking one


def test_crlf_inside_a_decoded_display_name() -> None:
    word = "=?utf-8?Q?Eve=0D=0ABcc:_x@y.cn?="
    _, addrs = parse_address_list(f"{word} <eve@x.cn>", "to")
    assert addrs[0].email == "eve@x.cn"
    assert "\n" not in addrs[0].display_name and "\r" not in addrs[0].display_name


def test_envelope_recipients_become_bcc() -> None:
    raw = b"From: a@x.cn\r\nTo: b@x.cn\r\nSubject: s\r\n\r\nx"
    msg = parse_message(raw, envelope_to=("b@x.cn", "hidden@x.cn"))
    assert [a.email for a in msg.bcc] == ["hidden@x.cn"]


def test_encoded_word_display_names_are_decoded_by_us() -> None:
    name = "朱镕基"  # 镕 is outside GB2312: GB18030 bytes under a gb2312 label
    word = b_word(name.encode("gb18030"), "gb2312")
    _, addrs = parse_address_list(f'{word} <zhu@x.cn>, "{word}" <z2@x.cn>', "to")
    assert [(a.display_name, a.email, a.valid) for a in addrs] == [
        (name, "zhu@x.cn", True),
        (name, "z2@x.cn", True),
    ]


def test_encoded_word_inside_an_addr_spec_is_invalid() -> None:
    _, addrs = parse_address_list("=?utf-8?B?5p2O?=@x.cn", "to")
    assert not addrs[0].valid
