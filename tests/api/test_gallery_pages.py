"""The gallery pages without a browser: the no-JavaScript path, the preview JSON, the download."""

from __future__ import annotations

import re
from collections.abc import Callable
from email import message_from_bytes
from email import policy as email_policy

from mailgate.api.ratelimit import RateLimiter
from tests.api.conftest import Api

FORM = {
    "from": "李娜 <lina@demo.example.cn>",
    "to": ["刘毅 <liuyi@demo.example.cn>", ""],
    "cc": ["wangfang@demo.example.cn；chenming@demo.example.cn"],  # one box may hold several, any separator
    "f.project": "会员积分系统",
    "f.need_kind": "接口开发",
    "f.background": "会员积分活动计划于12月上线",
    "f.points": "提供积分流水查询接口\n查询响应时间不超过1秒\n",
    "a.actions.task": ["评估接口开发工作量", "", ""],
    "a.actions.owner": ["刘毅", "", ""],
    "a.actions.deadline": ["2026-12-01", "", ""],
}


def test_index_searches_without_javascript(api: Api) -> None:
    page = api.client.get("/gallery", params={"q": "会议"}).text
    titles = re.findall(r"<h2>([^<]+)</h2>", page)
    assert titles and all("会议" in t for t in titles)
    assert "没有找到" in api.client.get("/gallery", params={"q": "不存在的模板"}).text


def test_the_form_posts_and_comes_back_with_its_preview(api: Api) -> None:
    r = api.client.post("/gallery/dept-collab", data=FORM)
    assert r.status_code == 200 and r.headers["content-security-policy"].startswith("default-src 'none'")
    assert 'data-verdict="pass"' in r.text
    assert 'value="会员积分系统"' in r.text  # the form keeps what was typed
    assert re.search(r'href="mailto:liuyi@demo\.example\.cn\?cc=wangfang@demo\.example\.cn,chenming@', r.text)


def test_missing_fields_are_named_on_the_page(api: Api) -> None:
    r = api.client.post("/gallery/dept-collab", data={**FORM, "f.project": "", "from": ""})
    assert r.status_code == 200
    assert "请填写「项目名称」" in r.text and "请填写发件人" in r.text


def test_preview_json_maps_findings_to_the_fields_that_hold_them(api: Api) -> None:
    vague = {**FORM, "a.actions.task": ["尽快评估工作量", "", ""]}
    j = api.client.post("/gallery/dept-collab/preview", data=vague).json()
    assert j["verdict"] == "warn"
    assert list(j["flags"]) == ["a.actions.task.0"] and "尽快" in j["flags"]["a.actions.task.0"][0]
    assert '&lt;mark class=&#34;sev-warning&#34;' in j["html"]  # inside the iframe's srcdoc: escaped once more
    incomplete = api.client.post("/gallery/dept-collab/preview", data={"from": "x"}).json()
    assert set(incomplete["errors"]) >= {"from", "to", "project"} and "请先完成表单" in incomplete["html"]


def test_download_is_the_finished_message(api: Api) -> None:
    r = api.client.post("/gallery/dept-collab/eml", data=FORM)
    assert r.status_code == 200 and r.headers["content-type"] == "message/rfc822"
    assert re.match(r'attachment; filename="dept-collab-\d{8}-\d{4}\.eml"', r.headers["content-disposition"])
    msg = message_from_bytes(r.content, policy=email_policy.default)
    assert str(msg["Subject"]) == "【部门协作】会员积分系统接口开发需求"
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["wangfang@demo.example.cn", "chenming@demo.example.cn"]


def test_unknown_templates_and_files_are_a_plain_404(api: Api) -> None:
    assert api.client.get("/gallery/nope").status_code == 404
    assert api.client.post("/gallery/nope/preview", data=FORM).status_code == 404
    assert api.client.post("/gallery/nope/eml", data=FORM).status_code == 404
    assert api.client.get("/gallery/static/nope.js").status_code == 404
    js = api.client.get("/gallery/static/gallery.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")


def test_open_routes_are_rate_limited_per_client(make_api: Callable[..., Api]) -> None:
    api = make_api(open_rate=1.0, open_burst=3, public_lint=True)
    codes = [api.client.post("/gallery/dept-collab/preview", data=FORM).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    r = api.client.post("/gallery/dept-collab/eml", data=FORM)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "请求过于频繁" in r.json()["detail"]["message"]
    # the same bucket for anonymous lint; spoofed forwarding headers do not buy a new one
    spoofed = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9", "Content-Type": "message/rfc822"}
    assert api.client.post("/v1/lint", content=b"Subject: x\r\n\r\nbody\r\n", headers=spoofed).status_code == 429
    # a token holder is not limited here, and reading pages is not limited
    ok = api.client.post("/v1/lint", content=b"Subject: x\r\n\r\nbody\r\n", headers={**spoofed, **api.viewer})
    assert ok.status_code == 200
    assert api.client.get("/gallery").status_code == 200


def test_the_bucket_refills_over_time() -> None:
    limiter = RateLimiter(rate=2.0, burst=2)
    assert [limiter.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert limiter.take("b", now=0.0) == 0.0  # another client has its own bucket
    assert limiter.take("a", now=1.0) == 0.0  # 2 tokens/s: refilled
    assert RateLimiter(rate=0, burst=1).take("a") == 0.0  # 0 = off
