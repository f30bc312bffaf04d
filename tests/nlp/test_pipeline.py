"""The spaCy + jieba pipeline (mailgate.nlp): segmentation, user dictionary, matching, scale."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from mailgate.directory import Directory, Person
from mailgate.nlp import MAX_CHUNK, Analysis, Match, analyze, chunk_spans
from mailgate.nlp.pipeline import build_pipeline, get_pipeline, pos_of
from mailgate.policy import Policy
from tests.scaling import growth

VAGUE = {
    "hedge": ("可能", "应该是"),
    "time": ("尽快", "近期", "ASAP"),
    "quantity": ("一些", "好几", "若干"),
    "reference": ("相关部门",),
    "commitment": ("酌情",),
}


@pytest.fixture(scope="module")
def policy(demo_policy: Policy) -> Policy:
    """The demo policy with a small, known lexicon (the pipeline is keyed by its contents)."""
    return replace(demo_policy, lexicons={"vague": VAGUE, "unverified": {"hearsay": ("有人说", "听说")}})


def words(a: Analysis) -> list[str]:
    return [t.text for t in a.tokens]


def found(text: str, policy: Policy, lexicon: dict[str, tuple[str, ...]] = VAGUE) -> list[str]:
    return [m.word for m in analyze(text, policy).find(lexicon)]


# --- segmentation and the user dictionary -----------------------------------------------


def test_tokens_cover_the_text_with_offsets(policy: Policy) -> None:
    text = "请在 11月20日前完成，ok?\r\n第二行😀。"
    a = analyze(text, policy)
    assert "".join(words(a)) == text
    for tok in a.tokens:
        assert text[tok.start : tok.end] == tok.text


def test_lexicon_word_is_a_token_not_a_substring(policy: Policy) -> None:
    assert found("检修期间可能出现短时告警", policy) == ["可能"]
    assert found("已完成可能性排查", policy) == []
    assert "可能性" in words(analyze("已完成可能性排查", policy))


def test_locative_suffix_splits_off_a_lexicon_word(policy: Policy) -> None:
    a = analyze("请在近期内完成", policy)
    assert [w for w in words(a) if w in ("近期", "内", "近期内")] == ["近期", "内"]
    assert found("请在近期内完成", policy) == ["近期"]


def test_lexicon_word_inside_a_compound_or_across_tokens(policy: Policy) -> None:
    assert found("请酌情处理", policy) == ["酌情"]  # jieba's 酌情处理 is split
    assert found("同样的问题出现了好几次", policy) == ["好几"]  # 好 + 几次 re-cut as 好几 + 次
    assert found("若干个问题", policy) == ["若干"]


def test_multi_word_lexicon_entries_match(policy: Policy) -> None:
    assert found("请相关部门按需开通", policy) == ["相关部门"]
    assert found("应该是配置问题", policy) == ["应该是"]
    assert found("有人说是因为采购", policy, {"hearsay": ("有人说",)}) == ["有人说"]


def test_matching_is_case_insensitive_for_latin_words(policy: Policy) -> None:
    assert found("请ASAP处理", policy) == ["ASAP"]
    assert found("please fix it asap.", policy) == ["asap"]


def test_no_recut_into_a_content_word(demo_policy: Policy) -> None:
    # 这个 + 事项: 事项 is a noun of its own, so 这个事 does not take its first character
    lexicon = {"reference": ("这个事",), "commitment": ("再说",), "quantity": ("好几",)}
    p = replace(demo_policy, lexicons={"vague": lexicon})
    assert found("这个事项需要再说明一下", p, lexicon) == []
    assert found("这个事情请跟进", p, lexicon) == []
    assert found("这个事需要再说一下", p, lexicon) == ["这个事", "再说"]
    assert found("同样的问题出现了好几次", p, lexicon) == ["好几"]  # 几次 (m) still lends 几


def test_no_match_across_an_unrelated_word(policy: Policy) -> None:
    assert found("根据说明书操作", policy, {"hearsay": ("据说",)}) == []
    assert found("请听说明会安排", policy, {"hearsay": ("听说",)}) == []


def test_directory_names_become_words(policy: Policy) -> None:
    people = Directory([Person("a@x.cn", "胡佳怡", "产品部", "member"), Person("b@x.cn", "马振", "技术部", "member")])
    p = replace(policy, directory=people)
    a = analyze("负责人：胡佳怡；马振负责联调", p)
    assert "胡佳怡" in words(a)
    assert "马振" in words(a)
    assert any(t.text == "胡佳怡" and t.tag == "nr" and t.pos == "PROPN" for t in a.tokens)


def test_find_returns_categories_and_offsets(policy: Policy) -> None:
    text = "尽快确认，可能需要一些时间"
    got = analyze(text, policy).find(VAGUE)
    assert got == [
        Match("time", "尽快", 0, 2),
        Match("hedge", "可能", 5, 7),
        Match("quantity", "一些", 9, 11),
    ]
    for m in got:
        assert text[m.start : m.end] == m.word


def test_find_is_leftmost_longest_unless_asked(policy: Policy) -> None:
    lex = {"a": ("as soon",), "b": ("soon",)}
    a = analyze("fix it as soon as you can", policy)
    assert [m.word for m in a.find(lex)] == ["as soon"]
    assert [m.word for m in a.find(lex, overlapping=True)] == ["as soon", "soon"]


def test_empty_text_and_empty_lexicon(policy: Policy) -> None:
    assert analyze("", policy).find(VAGUE) == []
    assert analyze("   \n", policy).tokens == []
    assert analyze("可能", policy).find({}) == []


# --- spaCy doc, tags, sentences ------------------------------------------------------------


def test_doc_has_tags_pos_and_sentences(policy: Policy) -> None:
    text = "第一句话。第二句话！第三句\n第四句"
    a = analyze(text, policy)
    doc = a.doc
    assert doc is not None and doc.text == text
    assert [s.text.strip() for s in doc.sents] == ["第一句话。", "第二句话！", "第三句", "第四句"]
    assert all(t.tag_ for t in doc)
    punct = [t for t in doc if t.text == "。"]
    assert punct and punct[0].pos_ == "PUNCT"
    assert a.sentences == [(0, 5), (5, 10), (10, 13), (14, 17)]
    assert a.sentence_at(6) == (5, 10)


def test_nlp_object_is_a_spacy_language(policy: Policy) -> None:
    pipe = get_pipeline(policy.lexicons, policy.directory)
    doc = pipe.nlp("请尽快处理。")
    assert [t.text for t in doc] == ["请", "尽快", "处理", "。"]
    assert doc[1].pos_ == "ADV"


def test_is_boundary(policy: Policy) -> None:
    a = analyze("人数在30左右", policy)
    assert a.is_boundary(0) and a.is_boundary(3) and a.is_boundary(5)
    assert not a.is_boundary(1)


def test_pos_mapping() -> None:
    assert pos_of("n", "会议") == "NOUN"
    assert pos_of("nr", "张伟") == "PROPN"
    assert pos_of("x", "，") == "PUNCT"
    assert pos_of("x", "\n") == "SPACE"
    assert pos_of("zz", "?") == "ADJ"  # unknown tags fall back on their first letter


# --- caching -------------------------------------------------------------------------------


def test_pipeline_is_built_once_and_rebuilt_when_the_lexicon_changes(policy: Policy) -> None:
    first = get_pipeline(policy.lexicons, policy.directory)
    assert get_pipeline(policy.lexicons, policy.directory) is first
    copy = {k: dict(v) for k, v in policy.lexicons.items()}
    assert get_pipeline(copy, policy.directory) is first  # same contents, same pipeline
    changed = {**copy, "vague": {**copy["vague"], "hedge": ("兴许",)}}
    other = get_pipeline(changed, policy.directory)
    assert other is not first
    assert [m.word for m in analyze("兴许明天", replace(policy, lexicons=changed)).find({"h": ("兴许",)})] == ["兴许"]


def test_matcher_is_cached_per_lexicon(policy: Policy) -> None:
    pipe = get_pipeline(policy.lexicons, policy.directory)
    assert pipe.matcher(VAGUE) is pipe.matcher(dict(VAGUE))
    assert pipe.matcher(VAGUE) is not pipe.matcher({"x": ("可能",)})


def test_build_pipeline_without_words() -> None:
    pipe = build_pipeline([], [])
    chunk = pipe.segment("近期内完成")
    assert chunk.words == ["近期内", "完成"]  # no lexicon: jieba's own dictionary


# --- scale ---------------------------------------------------------------------------------


def test_chunks_cut_at_sentence_ends_and_cover_the_text() -> None:
    text = ("这是一个句子。" * 2000) + ("没有标点" * 3000)
    spans = list(chunk_spans(text))
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert all(e - s <= MAX_CHUNK for s, e in spans)
    assert text[spans[0][1] - 1] == "。"


def test_long_texts_are_linear(policy: Policy) -> None:
    a = analyze("中文内容没有标点符号" * 100_000, policy)  # 1,000,000 CJK chars, no sentence end
    assert a.find(VAGUE) == []
    b = analyze(("可能" * 10 + "数据增长了一些，" * 30000 + "x" * 200000)[:1_000_000], policy)
    assert len(b.find(VAGUE)) > 30000
    # four times the text takes about four times as long (quadratic would be sixteen)
    assert growth(lambda n: analyze("中文内容没有标点符号" * n, policy), 25_000) < 8
    mixed = growth(lambda n: analyze(("可能" * 10 + "数据增长了一些，" * (n * 3 // 10) + "x" * n * 2), policy), 25_000)
    assert mixed < 8


def test_matches_keep_offsets_across_chunks(policy: Policy) -> None:
    text = "无关内容。" * 2000 + "请尽快处理。"
    a = analyze(text, policy)
    assert len(a.chunks) > 1
    (m,) = a.find(VAGUE)
    assert text[m.start : m.end] == "尽快"


def test_vocabulary_is_bounded(policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    import mailgate.nlp.pipeline as pl

    pipe = get_pipeline(policy.lexicons, policy.directory)
    before = pipe.nlp
    monkeypatch.setattr(pl, "VOCAB_LIMIT", len(pipe.nlp.vocab) + 5)
    for i in range(20):
        analyze(f"工单号ZX{i:06d}已处理，可能需要复核", policy).find(VAGUE)
    assert pipe.nlp is not before  # started afresh
    assert [m.word for m in analyze("请尽快处理", policy).find(VAGUE)] == ["尽快"]
    assert analyze("请尽快处理", policy).doc is not None


def test_concurrent_use_from_threads(policy: Policy) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"第{i}条：可能需要尽快处理一些问题，请相关部门确认。" * 20 for i in range(40)]
    expected = [[m.word for m in analyze(t, policy).find(VAGUE)] for t in texts]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda t: [m.word for m in analyze(t, policy).find(VAGUE)], texts))
    assert got == expected


def test_lone_surrogates_do_not_break_segmentation(policy: Policy) -> None:
    text = "abc\udcff中文可能出现问题"
    a = analyze(text, policy)
    assert [m.word for m in a.find(VAGUE)] == ["可能"]
    assert a.tokens[-1].end == len(text)
