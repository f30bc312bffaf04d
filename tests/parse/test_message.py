"""SPEC §1 on whole messages: body choice, HTML, attachments, transfer encodings, dev-corpus facts."""

from __future__ import annotations

import base64
import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailgate.parse import parse_message
from mailgate.parse.html import html_to_text

DEV = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "dev"
HEAD = "From: 李娜 <lina@demo.example.cn>\r\nTo: 王芳 <wangfang@demo.example.cn>\r\nSubject: 【通知】测试\r\n"


def mime(*parts: str, boundary: str = "BOUNDARY", kind: str = "mixed") -> bytes:
    out = HEAD + f'MIME-Version: 1.0\r\nContent-Type: multipart/{kind}; boundary="{boundary}"\r\n\r\n'
    for p in parts:
        out += f"--{boundary}\r\n{p}\r\n"
    return (out + f"--{boundary}--\r\n").encode()


def b64(text: str, charset: str = "utf-8") -> str:
    return base64.encodebytes(text.encode(charset)).decode()


# ---------------------------------------------------------------- body choice


def test_plain_preferred_over_html() -> None:
    raw = mime(
        "Content-Type: text/plain; charset=utf-8\r\n\r\n纯文本正文",
        "Content-Type: text/html; charset=utf-8\r\n\r\n<p>HTML 正文</p>",
        kind="alternative",
    )
    msg = parse_message(raw)
    assert msg.body.strip() == "纯文本正文" and not msg.body_is_html


def test_html_only_and_empty_plain_fall_back_to_html() -> None:
    html = "<div>各位：</div><div><br></div><div>正文第一行</div><div>林峰</div><div>技术部</div>"
    for raw in (
        mime(f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}"),
        mime("Content-Type: text/plain\r\n\r\n  \r\n", f"Content-Type: text/html\r\n\r\n{html}", kind="alternative"),
    ):
        msg = parse_message(raw)
        assert msg.body_is_html
        assert msg.body == "各位：\n\n正文第一行\n林峰\n技术部\n"
        assert msg.new_text[msg.closing_start :] == "林峰\n技术部\n"


def test_outlook_html_reply_is_cut_at_the_header_block() -> None:
    html = (
        "<p class=MsoNormal>好的，收到。<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>"
        "<p class=MsoNormal>林峰<o:p></o:p></p><div><hr>"
        "<p><b>发件人:</b> 马振 &lt;mazhen@x.cn&gt;<br><b>发送时间:</b> 2026年11月18日 17:20<br>"
        "<b>收件人:</b> 林峰<br><b>主题:</b> 通知</p></div><p>原文</p>"
    )
    msg = parse_message(mime(f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}"))
    assert msg.new_text.strip() == "好的，收到。\n\n林峰"
    assert msg.new_text[msg.closing_start :].strip() == "林峰"


def test_inline_text_part_with_a_name_is_an_attachment_not_the_body() -> None:
    raw = mime(
        "Content-Type: text/plain; charset=utf-8\r\n\r\n正文",
        'Content-Type: text/plain; name="notes.txt"\r\nContent-Disposition: inline; filename="notes.txt"\r\n\r\nx',
    )
    msg = parse_message(raw)
    assert msg.body.strip() == "正文"
    assert [a.filename for a in msg.attachments] == ["notes.txt"]


def test_attached_message_is_one_attachment_and_not_the_body() -> None:
    inner = "From: x@y.cn\r\nSubject: inner\r\n\r\n内层正文"
    raw = mime(
        "Content-Type: text/plain; charset=utf-8\r\n\r\n外层正文", f"Content-Type: message/rfc822\r\n\r\n{inner}"
    )
    msg = parse_message(raw)
    assert msg.body.strip() == "外层正文"
    assert [a.content_type for a in msg.attachments] == ["message/rfc822"]


def test_line_breaks_are_normalised() -> None:
    raw = (HEAD + "Content-Type: text/plain; charset=utf-8\r\n\r\n").encode() + "一\r\n二\r三\u2028四\x00五".encode()
    assert parse_message(raw).body == "一\n二\n三\n四 五"


# ---------------------------------------------------------------- attachments


def test_rfc2231_chinese_filename_and_zero_byte_attachment() -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@x.cn", "b@x.cn", "s"
    msg.set_content("见附件")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="差旅报销流程说明（2026版）.pdf")
    msg.add_attachment(b"", maintype="application", subtype="octet-stream", filename="团建报名名单.xlsx")
    parsed = parse_message(bytes(msg))
    assert [(a.filename, a.size) for a in parsed.attachments] == [
        ("差旅报销流程说明（2026版）.pdf", 8),
        ("团建报名名单.xlsx", 0),
    ]


def test_rfc2047_filename_in_a_parameter() -> None:
    name = "=?gbk?B?" + base64.b64encode("报告.docx".encode("gbk")).decode() + "?="
    raw = mime(
        "Content-Type: text/plain\r\n\r\nx",
        f'Content-Type: application/octet-stream; name="{name}"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA',
    )
    assert [(a.filename, a.size) for a in parse_message(raw).attachments] == [("报告.docx", 3)]


def test_cid_inline_image_is_not_an_attachment() -> None:
    related = mime(
        'Content-Type: text/html; charset=utf-8\r\n\r\n<p>截图如下</p><img src="cid:image001.png@01DA">',
        'Content-Type: image/png; name="image001.png"\r\nContent-ID: <image001.png@01DA>\r\n'
        'Content-Disposition: inline; filename="image001.png"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=",
        boundary="REL",
        kind="related",
    )
    msg = parse_message(related)
    assert msg.attachments == ()


def test_unreferenced_named_image_is_an_attachment() -> None:
    raw = mime(
        "Content-Type: text/html\r\n\r\n<p>no image reference</p>",
        'Content-Type: image/png; name="chart.png"\r\nContent-ID: <chart@x>\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=",
    )
    assert [a.filename for a in parse_message(raw).attachments] == ["chart.png"]


def test_attachment_by_disposition_and_nameless_parts() -> None:
    raw = mime(
        "Content-Type: text/plain\r\n\r\nbody",
        "Content-Type: application/pdf\r\nContent-Disposition: attachment\r\n\r\n%PDF",
        "Content-Type: application/pgp-signature\r\n\r\nsig",  # non-text, no name: not an attachment
        "Content-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR",  # text, no name: neither body nor attachment
    )
    atts = parse_message(raw).attachments
    assert [(a.filename, a.content_type) for a in atts] == [(None, "application/pdf")]


# ---------------------------------------------------------------- transfer encodings (HOSTILE 28)


@pytest.mark.parametrize(
    ("cte", "payload", "expected"),
    [
        ("base64", b64("中文正文，测试一下解码。" * 5), "中文正文，测试一下解码。" * 5),
        ("base64", b64("中文正文").replace("\n", "")[:-2], "中文正"),  # missing padding
        ("base64", "这不是 base64 而是明文", "这不是 base64 而是明文"),  # base64 label on plain text
        ("quoted-printable", "=E4=B8=AD=E6=96=87=ZZ=\r\n=E6=AD=A3", "中文=ZZ正"),  # bad escape, soft break
        ("quoted-printable", "abc=", "abc"),  # soft break at EOF
        ("7bit", "中文", "中文"),  # 8-bit under 7bit
        ("binary", "中文", "中文"),
        ("x-unknown-cte", "中文", "中文"),
        ("x-uuencode", "begin 644 x\n#Y+BM\n`\nend\n", "中"),
    ],
)
def test_transfer_encodings_are_lenient(cte: str, payload: str, expected: str) -> None:
    raw = (HEAD + f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").encode()
    msg = parse_message(raw + payload.encode())
    assert msg.body.strip().rstrip("\ufffd") == expected


def test_bad_base64_records_a_defect() -> None:
    raw = (HEAD + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode()
    msg = parse_message(raw + b64("正文" * 200).encode() + b"!!\r\n")
    assert msg.body.startswith("正文正文")
    assert "bad-base64" in msg.defects


def test_dates() -> None:
    msg = parse_message(b"Date: Wed, 18 Nov 2026 10:00:00 +0800\r\n\r\nx")
    assert msg.date is not None and msg.date.isoformat() == "2026-11-18T10:00:00+08:00"
    msg = parse_message(b"Date: Wed, 18 Nov 2026 10:00:00\r\n\r\nx")  # no zone: +08:00 assumed
    assert msg.date is not None and msg.date.utcoffset() is not None
    msg = parse_message(b"Date: yesterday\r\n\r\nx")
    assert msg.date is None and "invalid-date" in msg.defects


# ---------------------------------------------------------------- html_to_text


def test_html_to_text_offsets_map_back() -> None:
    source = "<p>a&amp;b&nbsp;c</p><p>&nbsp;</p><p>下一段</p>"
    out = html_to_text(source)
    assert out.text == "a&b c\n\n下一段\n"
    assert len(out.offsets) == len(out.text) + 1
    assert source[out.offsets[out.text.index("下")]] == "下"
    assert out.offsets[-1] == len(source)


def test_html_to_text_drops_script_style_and_head() -> None:
    src = "<html><head><title>T</title><style>p{x:1}</style></head><body>x<script>a<b</script>y</body></html>"
    assert html_to_text(src).text == "xy"
    assert html_to_text("<head><meta charset=gbk><body>正文").text == "正文"


def test_html_to_text_keeps_stray_angle_brackets() -> None:
    assert html_to_text("a < b and 3<4, <<x").text == "a < b and 3<4, <<x"
    assert html_to_text("<!-- unterminated").text == ""


def test_html_pre_keeps_layout() -> None:
    assert html_to_text("<pre>1.  a\n2.  b</pre>").text == "1.  a\n2.  b\n"


# ---------------------------------------------------------------- dev corpus facts (SPEC §1)

dev = pytest.mark.skipif(not DEV.is_dir(), reason=f"dev corpus not found at {DEV}")


def load(name: str) -> object:
    return parse_message((DEV / name).read_bytes())


@dev
def test_dev_corpus_parses_fast_and_cleanly() -> None:
    labels = json.loads((DEV / "labels.json").read_text(encoding="utf-8"))
    for name in labels:
        msg = parse_message((DEV / name).read_bytes())
        assert msg.sender is not None and msg.sender.valid, name
        assert msg.subject_base and "\ufffd" not in msg.body + msg.subject, name
        assert msg.new_text.strip(), name
        closing = msg.new_text[msg.closing_start :].strip()
        # Every dev message ends with a closing that holds the sender's name.
        assert closing and msg.sender.display_name in closing, name
        assert not any(d.startswith(("wrong-charset", "unknown-charset", "undecodable")) for d in msg.defects), name


@dev
@pytest.mark.parametrize(
    ("name", "first_quoted"),
    [
        ("dev-008.eml", "-----原始邮件-----"),
        ("dev-014.eml", "------------------ 原始邮件 ------------------"),
        ("dev-030.eml", "在 2026年11月19日 周四 11:03"),
        ("dev-032.eml", "在 2026年11月17日 周二 10:02"),
        ("dev-033.eml", "-----Original Message-----"),
    ],
)
def test_dev_replies_are_cut_at_the_quote_header(name: str, first_quoted: str) -> None:
    msg = load(name)
    rest = msg.body[len(msg.new_text) :]  # type: ignore[attr-defined]
    assert rest.startswith(first_quoted)
    assert msg.is_reply  # type: ignore[attr-defined]


@dev
def test_dev_attachments() -> None:
    assert load("dev-086.eml").attachments == ()  # type: ignore[attr-defined]  # cid: inline image only
    assert [(a.filename, a.size) for a in load("dev-030.eml").attachments] == [  # type: ignore[attr-defined]
        ("团建报名名单.xlsx", 0)
    ]
    assert [a.filename for a in load("dev-019.eml").attachments] == ["差旅报销流程说明（2026版）.pdf"]  # type: ignore[attr-defined]


@dev
def test_dev_html_only_bodies() -> None:
    for name in ("dev-059.eml", "dev-081.eml"):
        msg = load(name)
        assert msg.body_is_html  # type: ignore[attr-defined]
        assert "行动项：\n1. " in msg.body  # type: ignore[attr-defined]
        assert "<" not in msg.body  # type: ignore[attr-defined]


@dev
def test_dev_paragraph_after_action_items_is_not_closing() -> None:
    msg = load("dev-056.eml")
    assert msg.new_text[msg.closing_start :].split() == ["陈静", "运营部"]  # type: ignore[attr-defined]
    assert "修复计划？？" in msg.new_body  # type: ignore[attr-defined]


@dev
def test_dev_gb_headers_and_bodies() -> None:
    msg = load("dev-001.eml")
    assert msg.sender.display_name == "林峰"  # type: ignore[attr-defined]
    assert msg.subject == "【会议纪要】活动页面上线事故复盘会议纪要"  # type: ignore[attr-defined]
    assert "是不是傻" in msg.body  # type: ignore[attr-defined]
