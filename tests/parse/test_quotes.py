"""SPEC §1: new text (quote formats to cut at) and the closing (signature) of the new text."""

from __future__ import annotations

import time

import pytest

from mailgate.parse.quotes import find_closing, split_new_text

REPLY = "收到，我明天上午安排联调。\n\n何志强\n技术部\n\n"

QUOTE_HEADERS = {
    "outlook-zh": "-----原始邮件-----\n发件人: 宋凯 <songkai@x.cn>\n发送时间: 2026年11月18日 14:05\n"
    "收件人: 何志强 <hezhiqiang@x.cn>\n主题: 【项目进度】汇报\n\n志强：\n请尽快安排。\n",
    "outlook-zh-block-only": "发件人: 宋凯 <songkai@x.cn>\n发送时间: 2026年11月18日 14:05\n"
    "收件人: 何志强 <hezhiqiang@x.cn>\n抄送: 唐宁 <tangning@x.cn>\n主题: 汇报\n\n正文\n",
    "outlook-zh-fullwidth-colons": "发件人：宋凯\n\n发送时间：2026年11月18日\n\n收件人：何志强\n主题：汇报\n",
    "outlook-en": "-----Original Message-----\nFrom: Gao Peng <gaopeng@x.cn>\n"
    "Sent: Thursday, November 19, 2026 9:12 AM\nTo: Luo Yi <luoyi@x.cn>\nSubject: report\n\nbody\n",
    "outlook-en-block-after-rule": "________________________________\nFrom: Gao Peng <gaopeng@x.cn>\n"
    "Sent: Thursday, November 19, 2026 9:12 AM\nTo: Luo Yi <luoyi@x.cn>\nSubject: report\n",
    "outlook-html-bold": "*From:* Gao Peng\n*Sent:* Thursday\n*To:* Luo Yi\n*Subject:* report\n",
    "foxmail": '------------------ 原始邮件 ------------------\n发件人: "邓超"<dengchao@x.cn>;\n'
    '发送时间: 2026年11月16日(星期一) 下午2:30\n收件人: "郭晓宇"<guoxiaoyu@x.cn>;\n',
    "qq-english": '------------------ Original ------------------\nFrom: "a"<a@x.cn>;\nDate: Mon\n',
    "gmail-zh": "在 2026年11月17日周二 15:20，谢辉 <xiehui@x.cn> 写道：\n> 朱伟：\n> 原文\n",
    "gmail-zh-wrapped": "在 2026年11月17日周二 15:20，谢辉 <xiehui@xinghe.example.com>\n写道：\n> 原文\n",
    "gmail-zh-wrapped-three-lines": "在 2026年11月17日周二 15:20，谢辉\n<xiehui@xinghe.example.com>\n写道：\n> x\n",
    "gmail-zh-new": "谢辉 <xiehui@x.cn> 于2026年11月17日周二 15:20写道：\n> 原文\n",
    "gmail-en": "On Tue, Nov 17, 2026 at 3:20 PM Xie Hui <xiehui@x.cn> wrote:\n> old\n",
    "gmail-en-wrapped": "On Tue, Nov 17, 2026 at 3:20 PM Xie Hui <xiehui@x.cn>\nwrote:\n> old\n",
    "netease": '在 2026-11-17 15:20:00，"谢辉" <xiehui@163.com> 写道：\n原文\n',
    "forwarded": "---------- Forwarded message ---------\nFrom: a <a@x.cn>\nDate: Tue\n",
    "apple-forward": "Begin forwarded message:\n\nFrom: a <a@x.cn>\n",
    "zh-forward": "-------- 转发邮件信息 --------\n发件人：a\n",
    # Thunderbird zh-CN: the forward separator, then 主题/日期/发件人/收件人 (主题 first)
    "thunderbird-zh-forward": "-------- 转发的消息 --------\n主题：物料\n日期：Wed, 18 Nov 2026 09:00:00 +0800\n"
    "发件人：陈静 <chenjing@x.cn>\n收件人：刘洋 <liuyang@x.cn>\n\n可能需要尽快补充。\n",
    "thunderbird-zh-original": "-------- 原始信息 --------\n主题：物料\n发件人：陈静 <chenjing@x.cn>\n",
    "qq-nbsp": "------------------\xa0原始邮件\xa0------------------\n发件人: a\n",
}


@pytest.mark.parametrize("name", sorted(QUOTE_HEADERS))
def test_cut_at_quote_header(name: str) -> None:
    body = REPLY + QUOTE_HEADERS[name]
    new = split_new_text(body)
    assert new == REPLY, name
    assert body.startswith(new)


def test_quote_header_first_line_leaves_no_new_text() -> None:
    assert split_new_text(QUOTE_HEADERS["foxmail"]).strip() == ""


@pytest.mark.parametrize(
    "body",
    [
        "On Monday the team wrote:\nthe plan is fine\n",  # no date, no address: a sentence
        "他在信中写道：\n我们会按时完成。\n",
        "From: the data team\nwe got the numbers\n",  # a From: line without a header block
        "发件人：林峰\n\n请各位查收。\n",
        "在上次会议中，我们讨论了排期。\n写道：\n",
        "-----\n分隔线下面是正文\n",
        "2. 原始邮件需要保留\n",
        "On Tuesday at 10:00 the team wrote:\nthe plan is fine\n",
    ],
)
def test_no_false_cut(body: str) -> None:
    assert split_new_text(body) == body


def test_gt_lines_are_blanked_with_the_same_offsets() -> None:
    body = "我的回复\n> 引用一\n>> 引用二\n  > 缩进引用\n正文继续\n"
    new = split_new_text(body)
    assert len(new) == len(body)
    assert new.splitlines() == ["我的回复", " " * 5, " " * 6, " " * 8, "正文继续"]


def test_cut_keeps_offsets() -> None:
    body = REPLY + QUOTE_HEADERS["gmail-zh"]
    new = split_new_text(body)
    assert body[: len(new)] == new


def test_split_is_linear_on_a_megabyte() -> None:
    for body in ("甲" * 1_000_000, "在\n" * 300_000, ">\n" * 300_000, "From: x\n" * 100_000):
        started = time.perf_counter()
        split_new_text(body)
        assert time.perf_counter() - started < 1.0


# ---------------------------------------------------------------- closing

ACTIONS = "行动项：\n1. 修复积分余额刷新问题；负责人：何志强；截止时间：11月24日前。\n"


@pytest.mark.parametrize(
    ("closing", "sender"),
    [
        ("林峰\n技术部\n", "林峰"),
        ("林峰\n技术部", ""),
        ("谢谢！\n林峰\n技术部\n", "林峰"),
        ("此致\n敬礼！\n\n潘红\n财务部\n", "潘红"),
        ("祝好！\n郑爽\n星河科技 市场部\n", "郑爽"),
        ("-- \n何志强\n技术部 | 分机 8123\n", "何志强"),
        ("马振\n技术部 | 值班电话 13800138021\n", "马振"),
        ("Best regards\n罗毅\n技术部\n", "罗毅"),
        ("Best regards,\nFrank Lin\nProduct Manager | Xinghe Tech\nTel: +86 21 5555 0000\n", "Frank Lin"),
        ("发自我的iPhone\n", ""),
        ("林峰\n技术部\n\n发自我的iPhone\n", "林峰"),
        ("Sent from my iPhone", ""),
        ("以上，谢谢！\n林峰 敬上\n2026年11月18日\n", "林峰"),
        ("林峰\n星河科技 市场部\n电话：13800138000\n邮箱：linfeng@x.cn\n", "林峰"),
        ("晓宇\n", "郭晓宇"),
        ("王芳\n", ""),
        ("谢谢\n", ""),
        ("——林峰\n", ""),
        ("谢谢，林峰\n", ""),
        ("林峰（技术部 / 分机 8123）\n", "林峰"),
        ("林峰\n技术部负责人\n上海市浦东新区张江路88号\n", "林峰"),
        ("林 峰\n技术部\n", "林峰"),
        ("Thanks,\nFrank\n", "Frank Lin"),
        ("Regards,\nMary Wang\nSenior Product Manager\nM: +86 138 0013 8000\n", ""),
        ("请查收，谢谢！\n林峰\n技术部\n", "林峰"),
        ("如有疑问请随时与我联系，谢谢！\n\n林峰\n技术部\n", "林峰"),
        ("如有疑问，请随时与我联系。\n\n谢谢！\n\n林峰\n技术部\n", "林峰"),  # comma after 如有疑问
        ("如有问题，欢迎随时沟通，谢谢！\n林峰\n", "林峰"),
        # a pointer to a contact (phone, extension, address) is a courtesy line, colon or not
        ("如有问题请联系行政值班电话：010-6588 2200。\n谢谢！\n魏娜\n人力资源部\n", "魏娜"),
        ("如有疑问请联系马振（分机8021）\n马振\n技术部\n", "马振"),
        ("有问题请致电 13800138000，谢谢！\n林峰\n", "林峰"),
        ("如有疑问请联系：lf@x.cn\n林峰\n", "林峰"),
        ("以上，请知悉。\n林峰\n", "林峰"),
        ("辛苦了！\n林峰\n", "林峰"),
        ("祝工作顺利！\n林峰\n", "林峰"),
        ("—— 来自QQ邮箱\n", ""),
        ("Get Outlook for iOS\n", ""),
    ],
)
def test_closing_shapes(closing: str, sender: str) -> None:
    text = ACTIONS + "\n" + closing
    start = find_closing(text, sender)
    assert text[start:] == closing


@pytest.mark.parametrize(
    "tail",
    [
        # A real paragraph after the action items is never a closing (dev-056).
        "另外，分享按钮的问题上周验收时就提过，你们到底有没有排进修复计划？？明天上线前必须修复。\n",
        "请尽快回复，谢谢。\n",
        "请联系供应商在2026-11-20前确认交期。\n",
        "请咨询财务部杜明，电话 13800138000 确认付款进度。\n",
        "另外，下周一的评审会请大家准时参加，谢谢。\n",
        "负责人：技术部\n",
        "2. 整理用户反馈；负责人：陈静；截止时间：11月26日前。\n",
        "收到\n",
        "本次会议由林峰主持\n",
        "张三\n李四\n",  # names only, more than one line: not enough to call it a closing
        "Today we agreed on the plan\n",
        "Mail the report by Friday\n",
        "Tel the customer before noon\n",
        "Best practices\n",
        "bring it\n",
        "数据汇总\n",
        "总部4楼401会议室\n",
        "祝贺新产品上线\n",
        "从今天起所有邮件用手机发送\n",
    ],
)
def test_not_a_closing(tail: str) -> None:
    text = ACTIONS + "\n" + tail
    assert find_closing(text, "林峰") >= text.index(tail.rstrip("\n")) + len(tail.rstrip("\n"))


def test_paragraph_before_the_closing_stays_out_of_it() -> None:
    text = ACTIONS + "另外请注意安全，上线前必须再演练一次。\n\n陈静\n运营部\n"
    assert text[find_closing(text, "陈静") :] == "陈静\n运营部\n"


def test_closing_is_at_most_six_lines() -> None:
    closing = "谢谢！\n林峰\n技术部\n电话：13800138000\n邮箱：lf@x.cn\n星河科技\n"
    text = ACTIONS + "\n" + "祝好\n" + closing
    assert text[find_closing(text, "林峰") :] == closing


def test_long_lines_are_not_closing() -> None:
    text = ACTIONS + "\n" + "林峰 技术部 " + "很长的签名" * 10 + "\n"
    assert find_closing(text, "林峰") == len(text)


def test_no_closing_and_empty_text() -> None:
    assert find_closing("", "") == 0
    assert find_closing(ACTIONS, "林峰") == len(ACTIONS)
    assert find_closing("\n\n\n", "") == 3


def test_closing_is_linear() -> None:
    for text in ("甲" * 1_000_000, "\n" * 1_000_000, "林峰\n" * 200_000):
        started = time.perf_counter()
        find_closing(text, "林峰")
        assert time.perf_counter() - started < 0.5
