"""HOSTILE.md 29 and SPEC §1: any charset label a Chinese client sends decodes, never crashes."""

from __future__ import annotations

import base64
import quopri

import pytest

from mailgate.parse import parse_message
from mailgate.parse.charset import codec_for, decode_bytes, normalize_label, plausibility

ZH = "各位好：现将今天下午的工单流转优化讨论会纪要整理如下，请查阅。会议时间：2026年11月17日。"
TW = "各位好：現將今天下午的工單流轉優化討論會紀要整理如下，請查閱。會議時間：2026年11月17日。"
# Characters outside GB2312 (GB18030 / GBK only): 㐀 is CJK Ext A, 镕 and 喆 are GBK-only.
GB18030_ONLY = "朱镕基和陶喆在㐀路口见面，请查阅会议纪要。"


def body_message(data: bytes, label: str | None, cte: str = "8bit") -> bytes:
    ctype = "text/plain" + (f"; charset={label}" if label is not None else "")
    payload = base64.encodebytes(data) if cte == "base64" else data
    return (
        b"From: a@demo.example.cn\r\nTo: b@demo.example.cn\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        + f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n".encode()
        + payload
    )


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ('"gbk;"', "gb18030"),
        (" 'GB_2312-80' ", "gb18030"),
        ("x-gbk", "gb18030"),
        ("cp936", "gb18030"),
        ("big5", "big5hkscs"),
        ("big5-hkscs", "big5hkscs"),
        ("hz-gb-2312", "hz"),
        ("utf-7", "utf-7"),
        ("us-ascii", "utf-8"),
        ("UTF8", "utf-8"),
        ("x-unknown", None),
        ("", None),
        (None, None),
        ("rot13", None),
        ("zlib", None),
        ("undefined", None),
        ("idna", None),
        ("x" * 500, None),
    ],
)
def test_codec_for_labels(label: str | None, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_normalize_label() -> None:
    assert normalize_label(' "GBK;" ') == "gbk"
    assert normalize_label(None) == ""


def test_gb2312_label_on_gb18030_bytes() -> None:
    text, defect = decode_bytes(GB18030_ONLY.encode("gb18030"), "gb2312")
    assert text == GB18030_ONLY
    assert defect is None


@pytest.mark.parametrize("label", ["gbk", "gb2312", "GB18030", '"gbk;"', "cp936"])
def test_gb_family_labels(label: str) -> None:
    assert decode_bytes(ZH.encode("gbk"), label) == (ZH, None)


def test_big5_body_labelled_gbk_is_detected() -> None:
    text, defect = decode_bytes(TW.encode("big5"), "gbk")
    assert text == TW
    assert defect == "wrong-charset:gbk"


def test_gb2312_body_labelled_big5_is_detected() -> None:
    text, defect = decode_bytes(ZH.encode("gb2312"), "big5")
    assert text == ZH
    assert defect == "wrong-charset:big5"


def test_utf8_body_labelled_gb2312_is_detected() -> None:
    assert decode_bytes(ZH.encode("utf-8"), "gb2312") == (ZH, "wrong-charset:gb2312")


def test_gbk_body_labelled_utf8_falls_back() -> None:
    assert decode_bytes(ZH.encode("gbk"), "utf-8") == (ZH, "wrong-charset:utf-8")


def test_gbk_body_labelled_latin1_is_detected() -> None:
    assert decode_bytes(ZH.encode("gbk"), "iso-8859-1") == (ZH, "wrong-charset:iso-8859-1")


def test_latin1_text_keeps_its_label() -> None:
    assert decode_bytes("café crème brûlée".encode("latin-1"), "iso-8859-1") == ("café crème brûlée", None)


@pytest.mark.parametrize("label", ["x-unknown", "fakescii", "euc-tw"])
def test_unknown_label_falls_back_and_is_recorded(label: str) -> None:
    text, defect = decode_bytes(ZH.encode("gbk"), label)
    assert text == ZH
    assert defect == f"unknown-charset:{label}"


def test_missing_label_guesses_without_a_defect() -> None:
    assert decode_bytes(ZH.encode("gbk"), None) == (ZH, None)
    assert decode_bytes(ZH.encode("utf-8"), "") == (ZH, None)
    assert decode_bytes(TW.encode("big5"), None) == (TW, None)


def test_ascii_under_an_unknown_label() -> None:
    assert decode_bytes(b"plain text", "x-unknown") == ("plain text", "unknown-charset:x-unknown")


def test_utf7_and_hz() -> None:
    assert decode_bytes(ZH.encode("utf-7"), "utf-7") == (ZH, None)
    assert decode_bytes(ZH.encode("hz"), "hz-gb-2312") == (ZH, None)


def test_hkscs_characters() -> None:
    text = "香港特別行政區：𡃁妹"  # 𡃁 is an HKSCS character
    assert decode_bytes(text.encode("big5hkscs"), "big5-hkscs") == (text, None)


def test_broken_bytes_never_raise() -> None:
    data = ZH.encode("gbk")
    broken = data[:11] + b"\xff" + data[11:]
    text, defect = decode_bytes(broken, "gbk")
    assert text.startswith("各位好") and "\ufffd" in text
    assert defect == "undecodable:gbk"
    for label in (None, "utf-8", "utf-16", "utf-7", "big5", "x-unknown", "ascii", "hz"):
        text, _ = decode_bytes(bytes(range(256)), label)
        assert isinstance(text, str)


def test_plausibility_separates_real_text_from_mojibake() -> None:
    assert plausibility(ZH) == 1.0
    assert plausibility(TW) == 1.0
    mojibake = TW.encode("big5").decode("gb18030")
    assert plausibility(mojibake) is not None and plausibility(mojibake) < 0.5  # type: ignore[operator]
    assert plausibility("ascii only") is None


@pytest.mark.parametrize(
    ("text", "codec", "label", "cte"),
    [
        (ZH, "gbk", "gbk", "base64"),
        (ZH, "gb2312", "gb2312", "quoted-printable"),
        (GB18030_ONLY, "gb18030", "gb2312", "8bit"),
        (TW, "big5", "gbk", "base64"),
        (ZH, "gbk", "x-unknown", "8bit"),
        (ZH, "gbk", "", "7bit"),
        (ZH, "gbk", None, "binary"),
        (ZH, "utf-7", "utf-7", "7bit"),
        (ZH, "hz", "hz-gb-2312", "7bit"),
    ],
)
def test_bodies_decode_in_messages(text: str, codec: str, label: str | None, cte: str) -> None:
    data = text.encode(codec)
    if cte == "quoted-printable":
        raw = body_message(b"", label, cte) + quopri.encodestring(data)
    else:
        raw = body_message(data, label, cte)
    assert parse_message(raw).body.strip() == text


def test_unknown_charset_is_a_defect_on_the_message() -> None:
    msg = parse_message(body_message(ZH.encode("gbk"), "x-unknown"))
    assert msg.body == ZH
    assert "unknown-charset:x-unknown" in msg.defects


def test_charset_only_in_html_meta() -> None:
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    html = f"<html><head>{meta}</head><body>{ZH}</body></html>"
    raw = (
        b"From: a@demo.example.cn\r\nTo: b@demo.example.cn\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html\r\n\r\n" + html.encode("gb2312")
    )
    msg = parse_message(raw)
    assert msg.body.strip() == ZH
    assert msg.body_is_html
