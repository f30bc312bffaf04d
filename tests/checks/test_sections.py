"""checks.sections: numbered lists, bullets and the action-item section."""

from __future__ import annotations

import pytest

from checks.sections import (
    FAMILY,
    SectionInfo,
    analyze_sections,
    chinese_numeral,
    format_marker,
)


def analyze(text: str) -> SectionInfo:
    return analyze_sections(text, len(text))


def shape(info: SectionInfo) -> list[tuple[int, tuple[int, ...], tuple[str, ...]]]:
    return [(lst.level, lst.numbers, lst.schemes) for lst in info.lists]


# --- numerals and markers


@pytest.mark.parametrize(
    ("text", "value"),
    [("一", 1), ("九", 9), ("十", 10), ("十一", 11), ("二十", 20), ("二十三", 23), ("九十九", 99)],
)
def test_chinese_numerals(text: str, value: int) -> None:
    assert chinese_numeral(text) == value


@pytest.mark.parametrize("text", ["", "一一", "十十", "二二十", "零", "一百"])
def test_not_chinese_numerals(text: str) -> None:
    assert chinese_numeral(text) is None


@pytest.mark.parametrize(
    ("scheme", "n", "marker"),
    [
        ("1.", 3, "3."),
        ("1、", 12, "12、"),
        ("1)", 2, "2)"),
        ("1）", 2, "2）"),
        ("(1)", 4, "(4)"),
        ("（1）", 4, "（4）"),
        ("一、", 3, "三、"),
        ("一、", 12, "十二、"),
        ("（一）", 2, "（二）"),
        ("①", 3, "③"),
        ("①", 21, "㉑"),
        ("第一，", 2, "第二，"),
    ],
)
def test_format_marker(scheme: str, n: int, marker: str) -> None:
    assert format_marker(scheme, n) == marker


@pytest.mark.parametrize(
    ("line", "scheme", "number"),
    [
        ("1. 内容", "1.", 1),
        ("2．内容", "1.", 2),
        ("3、内容", "1、", 3),
        ("4)内容", "1)", 4),
        ("5）内容", "1）", 5),
        ("(6) 内容", "(1)", 6),
        ("（7）内容", "（1）", 7),
        ("八、内容", "一、", 8),
        ("（九）内容", "（一）", 9),
        ("(十)内容", "(一)", 10),
        ("⑪ 内容", "①", 11),
        ("第二，内容", "第一，", 2),
    ],
)
def test_every_scheme_is_an_item(line: str, scheme: str, number: int) -> None:
    info = analyze(line + "\n")
    assert [(i.scheme, i.number) for i in info.items] == [(scheme, number)]
    assert info.items[0].text == "内容"
    assert scheme in FAMILY


@pytest.mark.parametrize(
    "line", ["3.5小时后恢复", "2026年计划", "10:00开会", "1.0版本发布", "第一阶段完成", "一些问题"]
)
def test_numbers_in_prose_are_not_items(line: str) -> None:
    assert analyze(line + "\n").items == ()


def test_item_offsets_and_continuation_lines() -> None:
    text = "前言\n  1. 第一点\n     续行\n2. 第二点\n"
    info = analyze(text)
    first, second = info.items
    assert text[first.marker_start : first.marker_start + len(first.marker)] == "1."
    assert first.indent == 2
    assert text[first.start : first.end] == "1. 第一点\n     续行"
    assert first.text.endswith("续行")
    assert second.line == 3


# --- lists and levels


def test_one_list_across_blank_lines() -> None:
    assert shape(analyze("1. a\n\n2. b\n\n3. c\n")) == [(0, (1, 2, 3), ("1.",))]


def test_nested_chinese_and_arabic_are_two_levels() -> None:
    text = "一、背景\n说明\n1. a\n2. b\n二、进展\n1. c\n2. d\n三、风险\n"
    assert shape(analyze(text)) == [(0, (1, 2, 3), ("一、",)), (1, (1, 2), ("1.",)), (1, (1, 2), ("1.",))]


def test_parenthesised_items_under_arabic_items() -> None:
    text = "1. a\n  (1) x\n  (2) y\n2. b\n（1）z\n（2）w\n3. c\n"
    assert shape(analyze(text)) == [(0, (1, 2, 3), ("1.",)), (1, (1, 2), ("(1)",)), (1, (1, 2), ("（1）",))]


def test_same_scheme_indented_deeper_is_nested() -> None:
    assert shape(analyze("1. a\n   1. x\n   2. y\n2. b\n")) == [(0, (1, 2), ("1.",)), (1, (1, 2), ("1.",))]


def test_mixed_schemes_stay_one_list() -> None:
    assert shape(analyze("1. a\n2. b\n3、c\n4）d\n")) == [(0, (1, 2, 3, 4), ("1.", "1、", "1）"))]


def test_heading_restarts_numbering() -> None:
    assert shape(analyze("1. a\n2. b\n\n复盘结论：\n1. c\n2. d\n")) == [(0, (1, 2), ("1.",)), (0, (1, 2), ("1.",))]


def test_paragraph_between_items_continues_a_list() -> None:
    assert shape(analyze("1. a\n2. b\n\n补充说明一段。\n\n3. c\n")) == [(0, (1, 2, 3), ("1.",))]


def test_skip_and_repeat_are_kept_in_one_list() -> None:
    assert shape(analyze("1、a\n2、b\n4、c\n")) == [(0, (1, 2, 4), ("1、",))]
    assert shape(analyze("1. a\n2. b\n2. c\n3. d\n")) == [(0, (1, 2, 2, 3), ("1.",))]


def test_action_heading_ends_lists() -> None:
    info = analyze("1. a\n2. b\n行动项：\n1. x\n2. y\n")
    assert shape(info) == [(0, (1, 2), ("1.",)), (0, (1, 2), ("1.",))]
    assert [lst.numbers for lst in info.lists_outside_action()] == [(1, 2)]


# --- bullets


def test_bullets_and_runs() -> None:
    info = analyze("问题如下：\n- a\n- b\n• c\n\n-- \n-5%\n")
    assert [b.char for b in info.bullets] == ["-", "-", "•"]
    assert [len(run) for run in info.bullet_runs] == [2, 1]
    assert info.bullets[0].text == "a"
    assert info.items == ()


# --- the action-item section


@pytest.mark.parametrize(
    "heading",
    [
        "行动项：",
        "行动项:",
        "【行动项】",
        "行动项",
        "Action Items:",
        "ActionItems：",
        "action items",
        "待办事项：",
        "后续行动：",
        "下一步工作：",
        "下一步计划：",
        "跟进事项：",
        "任务分工：",
        "三、行动项",
        "本次会议行动项如下：",
        "行动项（Action Items）：",
        "下一步工作计划",
        "任务分工及时间节点：",
    ],
)
def test_action_headings(heading: str) -> None:
    text = f"正文。\n\n{heading}\n1. 任务A；负责人：张三\n2. 任务B\n"
    info = analyze(text)
    assert info.action is not None, heading
    assert [i.text for i in info.action.items] == ["任务A；负责人：张三", "任务B"]
    assert info.action.at_end
    assert text[info.action.heading_start : info.action.heading_end] == heading


@pytest.mark.parametrize(
    "line",
    ["下一步计划在下周完成", "会议确定了任务分工", "行动项负责人请于周五前确认", "1. 下一步计划：完成压测"],
)
def test_not_action_headings(line: str) -> None:
    assert analyze(f"{line}\n2. 其他\n").action is None


def test_action_items_with_bullets_and_continuations() -> None:
    text = "行动项：\n- 修复问题\n  负责人：张三\n- 回归验收；负责人：李四\n"
    info = analyze(text)
    assert info.action is not None
    a, b = info.action.items
    assert (a.marker, a.text) == ("-", "修复问题 负责人：张三")
    assert text[a.content_start : a.end] == "修复问题\n  负责人：张三"
    assert b.text == "回归验收；负责人：李四"


def test_inline_and_plain_action_items() -> None:
    info = analyze("行动项：请张三11月20日前完成修复。\n")
    assert info.action is not None
    assert [(i.marker, i.text) for i in info.action.items] == [("", "请张三11月20日前完成修复。")]
    info = analyze("行动项：\n张三：11月20日前完成修复\n李四：11月21日前验收\n")
    assert info.action is not None
    assert [i.text for i in info.action.items] == ["张三：11月20日前完成修复", "李四：11月21日前验收"]


def test_text_after_the_items_is_trailing() -> None:
    text = "行动项：\n1. 任务A\n2. 任务B\n\n另外，上周的问题还没有修复。\n"
    info = analyze(text)
    assert info.action is not None
    assert not info.action.at_end
    assert info.action.trailing_start is not None and info.action.trailing_end is not None
    assert text[info.action.trailing_start : info.action.trailing_end] == "另外，上周的问题还没有修复。"
    assert info.outside_spans() == ((0, 0), (info.action.trailing_start, info.action.trailing_end))


def test_a_heading_after_the_items_is_trailing() -> None:
    text = "行动项：\n1. 任务A\n2. 任务B\n备注：\n请按时完成。\n"
    info = analyze(text)
    assert info.action is not None
    assert [i.text for i in info.action.items] == ["任务A", "任务B"]
    assert info.action.trailing_start == text.index("备注")


def test_heading_without_items() -> None:
    info = analyze("正文。\n\n行动项：\n")
    assert info.action is not None
    assert info.action.items == ()
    assert info.action.end == info.action.heading_end


def test_last_heading_wins_and_closing_is_excluded() -> None:
    text = "下一步计划：\n1. a\n\n行动项：\n1. b\n\n张三\n技术部\n"
    closing = text.index("张三")
    info = analyze_sections(text, closing)
    assert info.action is not None
    assert [i.text for i in info.action.items] == ["b"]
    assert info.action.at_end
    assert info.in_action(text.index("1. b"))
    assert not info.in_action(text.index("1. a"))


def test_custom_heading_words() -> None:
    text = "正文\n后续安排：\n1. a\n"
    assert analyze_sections(text, len(text)).action is None
    info = analyze_sections(text, len(text), headings=["后续安排"])
    assert info.action is not None and info.action.heading == "后续安排"


# --- linear time


def test_hundred_thousand_bullets() -> None:
    text = "- a\n" * 100_000
    info = analyze(text)
    assert len(info.bullets) == 100_000
    assert len(info.bullet_runs) == 1
    assert info.items == () and info.action is None


def test_hundred_thousand_items_under_an_action_heading() -> None:
    text = "行动项：\n" + "1. a\n" * 100_000
    info = analyze(text)
    assert len(info.items) == 100_000
    assert info.action is not None and len(info.action.items) == 100_000


def test_one_megabyte_single_line() -> None:
    text = "行动项" + "测试内容，" * 200_000
    info = analyze(text)
    assert info.items == () and info.bullets == () and info.action is None
