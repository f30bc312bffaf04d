"""Time expressions: extraction and resolution against a fixed base (Wed 2026-11-18 10:00 +08:00)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from mailgate.nlp.timeexpr import TimeMention, find_times, resolve

TZ = dt.timezone(dt.timedelta(hours=8))
BASE = dt.datetime(2026, 11, 18, 10, 0, tzinfo=TZ)  # a Wednesday


def at(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=TZ)


EOD = (23, 59, 59)

RESOLVED = [
    # deadlines: the end of the span
    ("本周五18:00前", at(11, 20, 18)),
    ("本周五前", at(11, 20, *EOD)),
    ("11月30日前", at(11, 30, *EOD)),
    ("11月24日18:00前", at(11, 24, 18)),
    ("明天下班前", at(11, 19, 18)),
    ("今天下班前", at(11, 18, 18)),
    ("下周三前", at(11, 25, *EOD)),
    ("下周一前", at(11, 23, *EOD)),
    ("今天10:00前", at(11, 18, 10)),
    ("月底前", at(11, 30, *EOD)),
    ("本月底前", at(11, 30, *EOD)),
    ("下月底前", at(12, 31, *EOD)),
    ("年底前", at(12, 31, *EOD)),
    ("本周内", at(11, 22, *EOD)),
    ("下周内", at(11, 29, *EOD)),
    ("3个工作日内", at(11, 23, *EOD)),
    ("两周内", at(12, 2, *EOD)),
    ("十一月三十日前", at(11, 30, *EOD)),
    ("25号前", at(11, 25, *EOD)),
    ("12月4日前", at(12, 4, *EOD)),
    ("2026年11月20日12:00前", at(11, 20, 12)),
    ("下午3点前", at(11, 18, 15)),
    ("18:00前", at(11, 18, 18)),
    ("周五下班前", at(11, 20, 18)),
    ("11/20前", at(11, 20, *EOD)),
    ("11/24 18:00前", at(11, 24, 18)),
    # points and starts
    ("2026-12-01", at(12, 1)),
    ("2026/12/01 18:30", at(12, 1, 18, 30)),
    ("2026年12月1日", at(12, 1)),
    ("12月1日起", at(12, 1)),
    ("周五", at(11, 20)),
    ("周三", at(11, 18)),
    ("周一", at(11, 23)),
    ("下周一上午", at(11, 23, 9)),
    ("明天下午2点半", at(11, 19, 14, 30)),
    ("明晚8点", at(11, 19, 20)),
    ("后天", at(11, 20)),
    ("大后天", at(11, 21)),
    ("下下周二", at(12, 1)),
    ("上周五", at(11, 13)),
    ("星期日", at(11, 22)),
    ("2026年11月20日（周五）15:00-16:00", at(11, 20, 15)),
    ("下月初", at(12, 1)),
    ("12月中旬", at(12, 11)),
    # a month-day long past rolls into next year
    ("1月5日", at(1, 5, year=2027)),
    ("2027年3月1日起", at(3, 1, year=2027)),
]


@pytest.mark.parametrize(("expr", "expected"), RESOLVED)
def test_resolve(expr: str, expected: dt.datetime) -> None:
    assert resolve(expr, BASE) == expected


@pytest.mark.parametrize(("expr", "expected"), RESOLVED)
def test_find_times_covers_whole_expression(expr: str, expected: dt.datetime) -> None:
    found = find_times(f"请在{expr}完成。", BASE)
    assert len(found) == 1, found
    assert found[0].text == expr
    assert found[0].when == expected
    assert found[0].start == 2 and found[0].end == 2 + len(expr)


@pytest.mark.parametrize("word", ["尽快", "尽早", "近期", "稍后", "ASAP", "有空时", "待定", "改天", "过段时间"])
def test_vague(word: str) -> None:
    (m,) = find_times(f"请{word}完成", BASE)
    assert m.vague and m.when is None and not m.has_date and m.text == word


def test_latin_vague_word_needs_word_boundaries() -> None:
    assert find_times("ASAPX soonish", BASE) == []
    assert [m.text for m in find_times("please reply asap.", BASE)] == ["asap"]


@pytest.mark.parametrize(
    "text",
    [
        "7日留存比自然注册用户高",  # a metric, not a date
        "预计需要3小时",
        "快一点处理",
        "版本2.0.1已发布",
        "电话010-12345678",
        "见第1.2节",
        "12月",
        "完成比例3/4",  # a fraction, not a date
        "工单号CS-20261118-007",
        "每周一上午例会",  # recurring
        "各位同事：本次系统升级涉及三个模块，请提前准备回滚方案。",
    ],
)
def test_not_a_time(text: str) -> None:
    assert find_times(text, BASE) == []


def test_flags_and_boundary() -> None:
    (m,) = find_times("截止时间：11月20日18:00前。", BASE)
    assert (m.has_date, m.has_clock, m.boundary) == (True, True, "before")
    (m,) = find_times("12月1日起生效", BASE)
    assert (m.has_date, m.has_clock, m.boundary, m.text) == (True, False, "after", "12月1日起")
    (m,) = find_times("会议时间：2026年11月19日 14:00，地点：3楼", BASE)
    assert (m.has_date, m.has_clock, m.boundary) == (True, True, "at")
    (m,) = find_times("明天下班前", BASE)
    assert (m.has_date, m.has_clock) == (True, False)  # 下班 is a part of the day, not a clock time
    (m,) = find_times("10:30开始", BASE)
    assert (m.has_date, m.has_clock, m.when) == (False, True, at(11, 18, 10, 30))


def test_several_mentions_in_order() -> None:
    text = "1. 整理需求，负责人：王芳；截止时间：11月20日前。\n2. 评审，下周三上午10点，明天下班前确认。"
    got = [(m.text, m.when) for m in find_times(text, BASE)]
    assert got == [
        ("11月20日前", at(11, 20, *EOD)),
        ("下周三上午10点", at(11, 25, 10)),
        ("明天下班前", at(11, 19, 18)),
    ]


def test_duration_after_an_event_is_unresolved() -> None:
    (m,) = find_times("出差结束后10个工作日内提交", BASE)
    assert m.when is None and m.text == "10个工作日内"


def test_no_base_resolves_only_absolute_forms() -> None:
    assert [m.when for m in find_times("2026-12-01与明天", None)] == [at(12, 1), None]


def test_base_timezone_is_kept() -> None:
    utc = dt.datetime(2026, 11, 18, 2, 0, tzinfo=dt.UTC)
    when = resolve("明天18:00前", utc)
    assert when == dt.datetime(2026, 11, 19, 18, 0, tzinfo=dt.UTC)


def test_holiday_falls_back_to_jionlp() -> None:
    when = resolve("元旦前", BASE)
    assert when is not None and when.date() == dt.date(2027, 1, 1)


@pytest.mark.parametrize("expr", ["11月31日前", "2月30日", "13/25前", "2026-02-29", "2026年13月5日"])
def test_a_day_that_does_not_exist_is_found_but_not_resolved(expr: str) -> None:
    (m,) = find_times(f"截止时间：{expr}。", BASE)
    assert m.has_date and m.when is None  # not rolled over into another date
    assert resolve(expr, BASE) is None


def test_resolve_unknown() -> None:
    assert resolve("", BASE) is None
    assert resolve("随便什么", BASE) is None


def test_mention_is_frozen() -> None:
    m = find_times("周五", BASE)[0]
    assert isinstance(m, TimeMention)
    with pytest.raises(AttributeError):
        m.when = None  # type: ignore[misc]


def test_fast_without_time_expressions() -> None:
    text = "各位同事：本次系统升级涉及用户中心、订单服务和支付网关三个模块，请负责人提前做好准备工作。" * 4
    find_times(text, BASE)
    n = 200
    t0 = time.perf_counter()
    for _ in range(n):
        find_times(text, BASE)
    per_call = (time.perf_counter() - t0) / n
    assert per_call < 0.5e-3  # typically ~0.02 ms; generous bound for slow CI


@pytest.mark.parametrize("text", ["啊" * 1_000_000, "1" * 1_000_000, "1 2 " * 250_000, "，。" * 500_000])
def test_linear_on_large_input(text: str) -> None:
    t0 = time.perf_counter()
    find_times(text, BASE)
    assert time.perf_counter() - t0 < 2.0


def test_chinese_numeral_clock_right_after_a_date() -> None:
    import datetime as _dt

    from mailgate.nlp.timeexpr import find_times as _find

    base = _dt.datetime(2026, 11, 18, 10, tzinfo=_dt.timezone(_dt.timedelta(hours=8)))
    for text, hour, minute in (("11月25日十点", 10, 0), ("11月25日（周三）十点半", 10, 30), ("11月25日零点", 0, 0)):
        (m,) = _find(text, base)
        assert m.has_date and m.has_clock, text
        assert m.when is not None and (m.when.hour, m.when.minute) == (hour, minute)
    assert _find("一三五七九", base) == []
