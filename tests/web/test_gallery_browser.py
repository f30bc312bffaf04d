"""The template gallery in a real browser: Debian's Chromium driven by Playwright (issue 5).

A real ``mailgate serve --api-only`` process serves the pages; Chromium opens them, types into
the form, waits for the live preview, downloads the .eml and hands it to the CLI (the harness is
in ``tests/web/conftest.py``).
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES
from tests.web.conftest import MAILGATE, Page, Server, serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(tmp_path_factory.mktemp("gallery"))


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Page]:
    p = Page(browser, server.base)
    yield p
    p.close()


def fill_dept_collab(p: Page, background: str = "会员积分活动计划于12月上线，运营后台需要查询积分流水") -> None:
    pg = p.page
    pg.fill("#from", "李娜 <lina@demo.example.cn>")
    pg.fill("#to-1", "刘毅 <liuyi@demo.example.cn>")
    pg.fill("#f-project", "会员积分系统")
    pg.fill("#f-need_kind", "接口开发")
    pg.fill("#f-background", background)
    pg.fill("#f-points", "提供按会员编号查询积分流水的接口\n查询响应时间不超过1秒")
    pg.fill("#f-actions-task-0", "评估接口开发工作量并反馈排期")
    pg.fill("#f-actions-owner-0", "刘毅")
    pg.fill("#f-actions-deadline-0", "2026-12-01")


def add_suggested_cc(p: Page) -> list[str]:
    added: list[str] = []
    for _ in range(5):
        button = p.page.query_selector("button.add-cc")
        if button is None:
            break
        address = button.get_attribute("data-address") or ""
        added.append(address)
        button.click()
        # the preview re-renders without that suggestion once the address is in Cc
        p.page.wait_for_function(
            "(a) => ![...document.querySelectorAll('button.add-cc')].some(b => b.dataset.address === a)",
            arg=address,
            timeout=15_000,
        )
    return added


def preview_frame(p: Page) -> Any:
    handle = p.page.wait_for_selector("iframe.mail")
    frame = handle.content_frame()
    frame.wait_for_selector("pre.body")
    return frame


def test_browse_and_search_the_gallery(page: Page) -> None:
    page.goto("/gallery")
    cards = page.page.locator("li.card")
    total = cards.count()
    assert total >= 14
    assert page.page.locator("html").get_attribute("lang") == "zh-CN"
    page.page.fill("#q", "会议")
    page.page.wait_for_function("() => document.querySelectorAll('li.card[hidden]').length > 0")
    shown = page.page.locator("li.card:not([hidden])")
    assert 0 < shown.count() < total
    assert all("会议" in t for t in shown.all_inner_texts())
    page.shot("index-search")
    page.page.locator("li.card:not([hidden]) a").first.click()
    page.page.wait_for_selector("form#draft")
    assert page.csp_violations() == []


def test_fill_a_dept_collab_template_and_the_preview_passes(page: Page) -> None:
    page.goto("/gallery/dept-collab")
    fill_dept_collab(page)
    page.verdict("fail")  # the heads of both departments are missing from Cc
    assert "recipients-scope" in page.page.inner_text("#findings")
    added = add_suggested_cc(page)
    assert added == ["王芳 <wangfang@demo.example.cn>", "陈明 <chenming@demo.example.cn>"]
    page.verdict("pass")
    assert page.page.input_value("#cc-1") == added[0]
    frame = preview_frame(page)
    assert "【部门协作】会员积分系统接口开发需求" in frame.inner_text("dd.subject")
    assert "1. 提供按会员编号查询积分流水的接口" in frame.inner_text("pre.body")
    href = page.page.get_attribute("#mailto", "href") or ""
    assert href.startswith("mailto:liuyi@demo.example.cn?cc=wangfang@demo.example.cn,chenming@demo.example.cn")
    assert page.page.is_visible("#mailto") and page.page.is_visible("#copy")
    page.shot("dept-collab-pass")
    assert page.csp_violations() == [] and page.dialogs == []


def test_a_vague_word_is_flagged_in_place_with_its_suggestion(page: Page) -> None:
    page.goto("/gallery/dept-collab?example=1")
    page.verdict("pass")
    page.page.click("#f-background")
    page.page.keyboard.press("End")
    page.page.keyboard.type("，请尽快处理")
    page.verdict("warn")
    flag = page.page.wait_for_selector("#flag-f-background p.flag")
    text = flag.inner_text()
    assert "尽快" in text and "建议" in text
    assert page.page.get_attribute("#f-background", "aria-invalid") == "true"
    mark = preview_frame(page).wait_for_selector("pre.body mark.sev-warning")
    assert mark.inner_text().startswith("尽快")
    finding = page.page.inner_text("#findings")
    assert "wording-vague" in finding and "建议" in finding
    page.shot("vague-flagged")
    page.page.fill("#f-background", "会员积分活动计划于12月上线，请在12月1日前处理")
    page.verdict("pass")
    assert page.page.get_attribute("#f-background", "aria-invalid") is None


def test_download_the_eml_and_lint_it_with_the_cli(page: Page, server: Server, tmp_path: Path) -> None:
    page.goto("/gallery/dept-collab?example=1")
    page.verdict("pass")
    with page.page.expect_download() as info:
        page.page.click("#download")
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.name.startswith("dept-collab-") and target.suffix == ".eml"
    demo = EXAMPLES / "mailgate.toml"
    out = subprocess.run([*MAILGATE, "lint", "--config", str(demo), "--format", "json", str(target)],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)[0]
    assert report["verdict"] == "pass", report["findings"]


def test_keyboard_labels_and_phone_width(browser: Any, server: Server) -> None:
    p = Page(browser, server.base, width=375, height=740)
    try:
        p.goto("/gallery/meeting-notice" if _exists(server, "meeting-notice") else "/gallery/dept-collab")
        unlabelled = p.page.evaluate("""() => Array.from(document.querySelectorAll('input, textarea, select'))
            .filter(el => el.type !== 'hidden' && !el.labels.length && !el.getAttribute('aria-label'))
            .map(el => el.name || el.id)""")
        assert unlabelled == []
        overflow = p.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px wider than the phone"
        p.page.focus("#from")
        seen = []
        for _ in range(60):  # Tab walks the form: every control is reachable without a mouse
            p.page.keyboard.press("Tab")
            seen.append(p.page.evaluate("() => document.activeElement.id || document.activeElement.textContent"))
        assert "to-1" in seen and "预览并检查" in seen and "download" in seen
        p.shot("phone")
        assert p.csp_violations() == []
    finally:
        p.close()


def _exists(server: Server, template_id: str) -> bool:
    try:
        with urllib.request.urlopen(f"{server.base}/gallery/{template_id}", timeout=5) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def test_hostile_metadata_runs_no_script(page: Page, server: Server) -> None:
    auth = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(f"{server.base}/v1/templates/dept-collab",
                                                       headers=auth)) as r:  # fmt: skip
        spec = json.load(r)["spec"]
    spec |= {"id": "xss-browser", "title": "<img src=x onerror=alert(1)>", "description": "<script>alert(2)</script>"}
    req = urllib.request.Request(f"{server.base}/v1/templates/xss-browser", data=json.dumps(spec).encode(),
                                 headers=auth, method="PUT")  # fmt: skip
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
    page.goto("/gallery")
    assert "<img src=x onerror=alert(1)>" in page.page.inner_text("body")  # shown as text
    page.goto("/gallery/xss-browser?example=1")
    page.verdict("pass")
    page.page.fill("#f-background", "<script>alert(3)</script><img src=x onerror=alert(4)>")
    page.page.wait_for_function("() => (document.querySelector('iframe.mail')?.srcdoc || '').includes('alert(4)')")
    page.page.wait_for_timeout(500)
    assert page.dialogs == []
    page.shot("xss-escaped")


def test_copy_puts_subject_and_body_on_the_clipboard(browser: Any, server: Server) -> None:
    p = Page(browser, server.base)
    try:
        p.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base)
        p.goto("/gallery/dept-collab?example=1")
        p.verdict("pass")
        p.page.click("#copy")
        p.page.wait_for_function("() => document.getElementById('copied').textContent === '已复制'")
        text = p.page.evaluate("() => navigator.clipboard.readText()")
        assert text.startswith("【部门协作】") and "行动项" in text
    finally:
        p.close()


def test_a_draft_survives_leaving_the_page_and_can_be_cleared(page: Page) -> None:
    page.goto("/gallery/dept-collab")
    fill_dept_collab(page)
    page.verdict("fail")
    added = add_suggested_cc(page)  # two Cc rows, filled by the suggestion buttons
    page.page.fill("#f-actions-task-0", "评估工作量")  # the last keystrokes, just before leaving
    page.goto("/gallery")  # away, and back to a blank form of the same template
    page.goto("/gallery/dept-collab")
    page.page.wait_for_selector("#draft-note:not([hidden])")
    assert "草稿只保存在本浏览器中" in page.page.inner_text("#draft-note")
    assert page.page.input_value("#from") == "李娜 <lina@demo.example.cn>"
    assert page.page.input_value("#f-project") == "会员积分系统"
    assert page.page.input_value("#f-points") == "提供按会员编号查询积分流水的接口\n查询响应时间不超过1秒"
    assert page.page.input_value("#f-actions-task-0") == "评估工作量"
    assert page.page.input_value("#f-actions-deadline-0") == "2026-12-01"
    assert [i.input_value() for i in page.page.locator('input[name="cc"]').all()][:2] == added
    page.verdict("pass")  # the restored draft is previewed at once
    page.shot("draft-restored")
    # another template keeps its own (no) draft; the example link never restores
    page.goto("/gallery/meeting-notice")
    assert page.page.is_hidden("#draft-note") and page.page.input_value("#from") == ""
    page.goto("/gallery/dept-collab?example=1")
    assert page.page.is_hidden("#draft-note")
    # looking at the example (nothing typed there) does not overwrite the draft
    page.goto("/gallery/dept-collab")
    page.page.wait_for_selector("#draft-note:not([hidden])")
    assert page.page.input_value("#f-background") == "会员积分活动计划于12月上线，运营后台需要查询积分流水"
    # clearing starts over, and stays cleared
    page.page.click("#draft-clear")
    page.page.wait_for_load_state()
    page.page.wait_for_selector("#draft-note[hidden]", state="attached")
    assert page.page.input_value("#from") == "" and page.page.input_value("#f-project") == ""
    assert page.page.evaluate("() => localStorage.getItem('mailgate.draft.dept-collab')") is None
    page.goto("/gallery/dept-collab")
    assert page.page.is_hidden("#draft-note") and page.page.input_value("#f-project") == ""
    assert page.csp_violations() == [] and page.dialogs == []
