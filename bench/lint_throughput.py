"""Lint throughput on one core, beside a parse-only baseline measured in the same run.

Usage: .venv/bin/python bench/lint_throughput.py [--n 1000] [--json]

The mix: 2–4 KB Chinese messages built here (so the benchmark needs no data
files): multipart/alternative with an HTML part, some GBK base64 bodies, some
with a PDF attachment, some replies quoting an earlier message. Also measures
how lint time grows with size (a 1 MB single-line body, a 100,000-item list)
and the peak RSS once the NLP pipeline is loaded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailgate.lint import lint_bytes  # noqa: E402
from mailgate.parse import parse_message  # noqa: E402
from mailgate.policy import load_policy  # noqa: E402

PEOPLE = [
    ("王芳", "wangfang"), ("李娜", "lina"), ("赵强", "zhaoqiang"), ("陈明", "chenming"),
    ("刘毅", "liuyi"), ("孙杰", "sunjie"), ("周静", "zhoujing"), ("吴宇", "wuyu"),
    ("徐丽", "xuli"), ("何涛", "hetao"), ("高燕", "gaoyan"), ("马军", "majun"),
]
TAGS = ["部门协作", "项目进度", "周报", "通知", "会议通知", "问题反馈", "数据", "需求"]
SENTENCES = [
    "本周完成了订单中心接口的联调，测试环境已部署最新版本，回归用例通过率为百分之九十八",
    "客服工单系统的导出功能已进入自测阶段，预计下周二提交测试",
    "运营活动页面的埋点方案已经和数据部确认，口径说明已更新到Wiki",
    "可能需要尽快协调相关部门评估一些改造工作量，请大家关注",
    "会员积分规则调整涉及三个系统，需要产品部和技术部共同评审",
    "上线窗口定在11月26日22:00，期间支付服务会短暂不可用约10分钟",
    "据统计本月新增注册用户同比增长12.5%，数据来源：数据部周报",
    "请各位在评审前阅读需求文档，并把问题整理到共享表格中",
    "本次变更不影响存量用户的历史订单，退款流程保持不变",
    "The API gateway timeout has been raised to 30s for the export endpoint",
]


def make_message(rng: random.Random, i: int) -> bytes:
    sender, to, cc = rng.sample(PEOPLE, 3)
    tag = rng.choice(TAGS)
    msg = EmailMessage()
    msg["From"] = f"{sender[0]} <{sender[1]}@demo.example.cn>"
    msg["To"] = f"{to[0]} <{to[1]}@demo.example.cn>"
    msg["Cc"] = f"{cc[0]} <{cc[1]}@demo.example.cn>"
    reply = i % 7 == 0
    msg["Subject"] = ("回复：" if reply else "") + f"【{tag}】订单中心第{i}期迭代进度汇报"
    msg["Date"] = format_datetime(dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    lines = [f"{to[0]}：", "", "本期进展如下："]
    target = rng.randint(500, 1100)
    n = 1
    while len("\n".join(lines).encode()) < target * 0.6:
        lines.append(f"{n}. {rng.choice(SENTENCES)}。")
        n += 1
    lines += [
        "",
        "行动项：",
        f"1. 完成接口回归测试；负责人：{to[0]}；截止时间：11月20日18:00前。",
        f"2. 确认上线方案；负责人：{cc[0]}；截止时间：本周五前。",
        "",
        "谢谢！",
        sender[0],
        "技术部",
    ]
    if reply:
        lines += ["", "-----原始邮件-----", f"发件人: {to[0]}", "发送时间: 2026年11月17日 9:00",
                  f"收件人: {sender[0]}", "主题: 进度", "", "请同步一下进度，尽快回复。"]
    body = "\n".join(lines) + "\n"
    charset = "gb18030" if i % 4 == 0 else "utf-8"
    msg.set_content(body, charset=charset, cte="base64" if i % 2 == 0 else "quoted-printable")
    html = "<html><body>" + "".join(f"<div>{ln or '<br>'}</div>" for ln in lines) + "</body></html>"
    msg.add_alternative(html, subtype="html", charset="utf-8")
    if i % 5 == 0:
        msg.add_attachment(b"%PDF-1.4\n" + bytes(rng.getrandbits(8) for _ in range(600)),
                           maintype="application", subtype="pdf", filename="进度表.pdf")
    return bytes(msg)


def rate(fn: Callable[[bytes], object], items: list[bytes], repeat: int = 3) -> float:
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        for raw in items:
            fn(raw)
        best = max(best, len(items) / (time.perf_counter() - t0))
    return best


def scaled(body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "李娜 <lina@demo.example.cn>"
    msg["To"] = "王芳 <wangfang@demo.example.cn>"
    msg["Subject"] = "【通知】规模测试说明"
    msg["Date"] = "Wed, 18 Nov 2026 10:00:00 +0800"
    msg.set_content(body, cte="8bit")
    return bytes(msg)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = random.Random(7)
    policy = load_policy(ROOT / "checks" / "examples" / "mailgate.toml", env={})
    items = [make_message(rng, i) for i in range(args.n)]
    sizes = [len(x) for x in items]
    for raw in items[:50]:  # warm up: NLP pipeline load, caches
        lint_bytes(raw, policy)
    parse_rate = rate(lambda raw: parse_message(raw, limits=policy.limits), items)
    lint_rate = rate(lambda raw: lint_bytes(raw, policy), items)
    verdicts = statistics.mode(lint_bytes(raw, policy).verdict for raw in items[:200])

    def timed(raw: bytes) -> str:
        t0 = time.perf_counter()
        report = lint_bytes(raw, policy)
        outcome = report.verdict if report.error is None else f"error:{report.error.code}"
        return f"{time.perf_counter() - t0:.3f} s ({outcome})"

    scaling = {
        "1 MB single-line body": timed(scaled("可能" * 10 + "数据增长了一些，" * 30000 + "x" * 200000)),
        "100,000-item list": timed(scaled("- a\n" * 100_000)),
        "1,000,000 CJK chars, no punctuation": timed(scaled("中文内容没有标点符号" * 100_000)),
        "32,000 deadlines and vague words (~600 KB)": timed(scaled("尽快处理，11月19日18:00前完成。\n" * 32_000)),
    }
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "messages": len(items),
        "mean size (bytes)": int(statistics.mean(sizes)),
        "parse-only (msg/s)": round(parse_rate),
        "lint, all checks (msg/s)": round(lint_rate),
        "lint / parse-only": round(lint_rate / parse_rate, 3),
        "most common verdict": verdicts,
        **scaling,
        "peak RSS (MB)": round(rss_mb),
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        for k, v in result.items():
            print(f"{k:40} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
