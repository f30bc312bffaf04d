"""sensitive-data: ID and card numbers, passwords, secret keys and phone lists in the new text."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from itertools import islice

from checks.language.spans import Spans, occurrences
from checks.language.words import lowered
from mailgate.context import Context
from mailgate.model import Applicability, Edit, Finding, Fix, Message, Text
from mailgate.registry import Params, check

# Digit-led patterns put their "not inside a longer token" look-behind after the first digit, so
# the regex engine can skip to digits; keyword patterns run only when a literal needle occurs.
_ID_NUMBER = re.compile(
    r"[1-9](?<![0-9A-Za-z][1-9])\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"(?![0-9A-Za-z])"
)
_CARD_NUMBER = re.compile(
    r"\d(?<![0-9A-Za-z_\-]\d)(?:\d{12,18}|\d{3}(?:[ \-]\d{4}){2,3}(?:[ \-]\d{1,3})?|\d{5}[ \-]\d{7,13})"
    r"(?![0-9A-Za-z_])"
)
_NOT_CARD_CONTEXT = re.compile(
    r"(?:订单|单号|工单|编号|流水|批次|序列|运单|快递|order|ticket|No\.?|#)\s?[:：]?\s?$", re.I
)
_PASSWORD_KEYS = ("密码", "口令", "password", "passwd", "passcode", "pwd")
_PASSWORD_VALUE = re.compile(r"\s{0,3}(?:[：:=]|为|是)\s{0,3}([!-~]{4,64})(?![!-~])")
_PASSWORD_PLACEHOLDER = re.compile(
    r"^(?:[*xX•·.\-_]+|<[^>]*>|\{[^}]*\}|\$\{?\w+\}?|https?://\S*|null|none|n/a|tbd|\*+\w{0,3})$", re.I
)
_SECRETS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    ("private key", ("PRIVATE KEY",), re.compile(r"-----BEGIN (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----")),
    ("GitHub token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), re.compile(
        r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})")),
    ("AWS access key", ("AKIA", "ASIA"), re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])")),
    ("API key", ("sk-", "sk_live_", "rk_live_"), re.compile(
        r"(?<![A-Za-z0-9_\-])sk-[A-Za-z0-9_\-]{20,255}|(?<![A-Za-z0-9])(?:sk|rk)_live_[A-Za-z0-9]{16,255}")),
    ("Alibaba Cloud AccessKey", ("LTAI",), re.compile(r"(?<![A-Za-z0-9])LTAI[0-9A-Za-z]{12,28}(?![A-Za-z0-9])")),
    ("Tencent Cloud SecretId", ("AKID",), re.compile(r"(?<![A-Za-z0-9])AKID[0-9A-Za-z]{28,40}(?![A-Za-z0-9])")),
    ("Slack token", ("xox",), re.compile(r"(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9\-]{10,255}")),
    ("Google API key", ("AIza",), re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])")),
)
# api_key=… style assignments: found from the lower-cased key name, then the value is matched.
_SECRET_KEYS = tuple(
    f"{a}{sep}{b}"
    for a, b in (
        ("api", "key"), ("secret", "key"), ("access", "token"), ("client", "secret"), ("auth", "token"),
        ("accesskey", "secret"), ("access_key", "secret"), ("access key", "secret"), ("secret", "id"),
        ("secret_access", "key"),
    )
    for sep in ("_", "-", "", " ")
)
_SECRET_VALUE = re.compile(r"\s{0,3}[:=：]\s{0,3}[\"']?[A-Za-z0-9_\-+/=]{16,255}")
_MOBILE = re.compile(r"1[3-9]\d[ \-]?\d{4}[ \-]?\d{4}(?![0-9A-Za-z])")


def _case_variants(word: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((word, word.upper(), word.capitalize())))


def mobile_numbers(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, digits) of mainland mobile numbers (optionally +86), not inside longer numbers."""
    for m in _MOBILE.finditer(text):
        s = m.start()
        before = text[s - 1] if s else ""
        if before.isascii() and before.isalnum():
            lead = text[max(0, s - 3) : s].lstrip("+")
            if not lead.endswith("86") or (s >= 3 and text[s - 3].isascii() and text[s - 3].isalnum()):
                continue  # inside a longer number, unless it is the +86 country code
        yield s, m.end(), re.sub(r"[ \-]", "", m.group(0))


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_id_number(value: str) -> bool:
    """A mainland resident ID number (18 characters) with a valid birth date and check digit."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if not dt.date(1900, 1, 1) <= born <= dt.date.today():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == value[17].upper()


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _mask(value: str, kind: str) -> str:
    """The value with its middle starred: 6222***********0128; passwords entirely."""
    if kind == "password" or len(value) < 10:
        return "*" * len(value)
    chars = list(value)
    idx = [i for i, c in enumerate(chars) if c.isalnum()]
    for i in idx[4:-4]:
        chars[i] = "*"
    return "".join(chars)


def sensitive_items(text: str, limit: int = 1000) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, value) of ID numbers, card numbers, passwords and secret keys.

    At most the first ``limit`` items of each kind (and 10 × ``limit`` candidates) are looked at.
    """
    out: list[tuple[int, int, str, str]] = []
    taken: list[tuple[int, int]] = []
    scan = limit * 10
    for m in islice(_ID_NUMBER.finditer(text), scan):
        if valid_id_number(m.group(0)):
            out.append((m.start(), m.end(), "id", m.group(0)))
            taken.append(m.span())
            if len(taken) >= limit:
                break
    taken_spans = Spans(sorted(taken))
    cards = 0
    for m in islice(_CARD_NUMBER.finditer(text), scan):
        digits = re.sub(r"[ \-]", "", m.group(0))
        if not 13 <= len(digits) <= 19 or digits[0] not in "3456" or len(set(digits)) < 3:
            continue
        if taken_spans.hits(m.start(), m.end()) or not luhn_valid(digits):
            continue
        if _NOT_CARD_CONTEXT.search(text[max(0, m.start() - 8) : m.start()]):
            continue
        out.append((m.start(), m.end(), "card", m.group(0)))
        cards += 1
        if cards >= limit:
            break
    seen_values: set[int] = set()
    for key in _PASSWORD_KEYS:
        for variant in _case_variants(key):
            for i in islice(occurrences(text, variant), scan):
                pm = _PASSWORD_VALUE.match(text, i + len(variant))
                if pm is None or pm.start(1) in seen_values:
                    continue
                value = pm.group(1).rstrip(".,;:!?)]}'\"")
                if len(value) < 4 or _PASSWORD_PLACEHOLDER.match(value):
                    continue
                seen_values.add(pm.start(1))
                out.append((pm.start(1), pm.start(1) + len(value), "password", value))
                if len(seen_values) >= limit:
                    break
    for name, needles, rx in _SECRETS:
        if any(n in text for n in needles):
            out.extend((m.start(), m.end(), "secret:" + name, m.group(0)) for m in islice(rx.finditer(text), limit))
    low = lowered(text)
    if len(low) == len(text):
        for key in _SECRET_KEYS:
            for i in islice(occurrences(low, key), scan):
                if i and low[i - 1].isascii() and low[i - 1].isalnum():
                    continue
                sm = _SECRET_VALUE.match(text, i + len(key))
                if sm is not None:
                    out.append((i, sm.end(), "secret:secret", text[i : sm.end()]))
    out.sort(key=lambda item: (item[0], -item[1]))
    kept: list[tuple[int, int, str, str]] = []
    for item in out:  # one finding per spot: `SecretId: AKID…` is a key shape and an assignment
        if kept and item[0] < kept[-1][1]:
            continue
        kept.append(item)
    return kept


class SensitiveParams(Params):
    min_mobiles: int = 3
    """This many distinct mobile numbers in one message count as a personal-data list."""
    max_findings: int = 20
    """At most this many findings per message."""


_KIND_NAMES = {
    "id": Text("身份证号", "a resident ID number"),
    "card": Text("银行卡号", "a bank card number"),
    "password": Text("明文密码", "a plain-text password"),
}


@check("sensitive-data", family="language", severity="error", params=SensitiveParams, external=True)
def sensitive_data(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Personal data and secrets in the new text: ID numbers, card numbers, passwords, keys, phone lists.

    ## What it checks
    - a mainland resident ID number (18 characters, valid birth date and check digit);
    - a bank card number: 13–19 digits, optionally in groups separated by spaces or dashes,
      that passes the Luhn check (not after 订单号/工单/编号 …);
    - a password: `密码：…` `口令为…` `password=…` with a real value (not `******`);
    - a secret key: a PEM private key block, GitHub tokens (`ghp_…`, `github_pat_…`), AWS access
      keys (`AKIA…`), Alibaba Cloud (`LTAI…`) and Tencent Cloud (`AKID…`) key ids, `sk-…` API keys,
      Slack and Google keys, `api_key=…` / `AccessKey Secret：…`-style assignments;
    - 3 or more distinct mobile numbers (a contact list).
    Error on mail to external recipients, warning on internal mail.

    ## Why
    运营管理沟通规定: 涉及公司机密的信息不得外传; seed 000 二(二)1 注意事项: “禁止……讨论敏感话题”;
    seed 002: “规范数据和信息的存储、传输和使用”. Mail is copied, forwarded and archived: a
    password or ID number in it is leaked for good.

    ## Bad
    ```
    请使用联调账号mall_test登录，密码：Mall@2026test。
    员工的身份证号为110105199003072311。
    ```

    ## Good
    ```
    联调账号mall_test的密码已通过企业微信单独发送。
    员工的身份证信息已录入人事系统。
    ```

    ## Fix safety
    Masking the value (`6222****0128`) is offered as an unsafe fix: it changes what the
    recipient receives, so the sender decides.

    ## Params
    - `min_mobiles` (int): distinct mobile numbers that make a contact list. Default: 3.
    - `max_findings` (int): cap on ID/card/password/key findings per message. Default: 20.
    """
    params = ctx.p(SensitiveParams)
    text = msg.new_text
    if not text.strip():
        return
    shift = -1 if ctx.scope == "internal" else 0
    for start, end, kind, value in sensitive_items(text, max(1, params.max_findings))[: params.max_findings]:
        if kind.startswith("secret:"):
            name = kind.split(":", 1)[1]
            what = Text(f"密钥（{name}）", f"a secret ({name})")
        else:
            what = _KIND_NAMES[kind]
        masked = _mask(value, kind)
        yield ctx.finding(
            message=Text(f"正文含{what.zh}：{masked}", f"the text contains {what.en}: {masked}"),
            suggestion=Text(
                f"删除{what.zh}，改用安全渠道（如企业微信单独发送、密码管理系统）传递；若已发出，请立即更换或吊销",
                f"remove {what.en} and share it through a secure channel (a password manager, a direct message); "
                "if it was already sent, rotate or revoke it",
            ),
            field="body",
            start=start,
            end=end,
            shift=shift,
            fix=Fix(
                Text(f"将{what.zh}遮盖为“{masked}”", f"mask {what.en} as {masked!r}"),
                (Edit("body", start, end, masked),),
                Applicability.UNSAFE,
            ),
        )
    if params.min_mobiles > 0:
        seen: dict[str, tuple[int, int]] = {}
        for start, end, digits in mobile_numbers(text):
            seen.setdefault(digits, (start, end))
            if len(seen) >= 1000:
                break
        if len(seen) >= params.min_mobiles:
            spans = list(seen.values())
            yield ctx.finding(
                message=Text(
                    f"正文列出了{len(seen)}个手机号码（个人信息）",
                    f"the text lists {len(seen)} mobile numbers (personal data)",
                ),
                suggestion=Text(
                    "不要在邮件中群发个人手机号，改为引用通讯录或值班系统中的联系方式",
                    "do not mail lists of personal phone numbers; refer to the directory or the on-call system",
                ),
                field="body",
                start=spans[0][0],
                end=spans[-1][1],
                shift=shift,
            )
