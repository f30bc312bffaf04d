"""Checks of the recipients family (SPEC §2): who the mail goes to.

Addresses come parsed from the message (``msg.to``/``cc``/``bcc``, each with
its span in ``msg.field_text[field]``); people, departments and heads come
from the directory at runtime, never from this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from checks.fixes import add_to_cc
from checks.tags import subject_tag
from mailgate.context import Context
from mailgate.directory import Directory, Person
from mailgate.model import Address, Applicability, Edit, Field, Finding, Fix, Message, Text
from mailgate.registry import CheckSpec, Params, check

CHECKS: list[CheckSpec] = []


def _entries(msg: Message, fields: Iterable[str]) -> Iterator[Address]:
    for name in fields:
        yield from getattr(msg, name)


def _field(addr: Address) -> Field:
    return addr.field if addr.field in ("from", "to", "cc", "bcc") else "to"  # type: ignore[return-value]


def _removal(msg: Message, addr: Address) -> tuple[int, int]:
    """Span of ``addr`` plus one neighbouring ``, `` separator in its field text."""
    same: tuple[Address, ...] = getattr(msg, addr.field, ())
    idx = next((i for i, a in enumerate(same) if a is addr), -1)
    prev = next((a for a in reversed(same[:idx]) if a.end > a.start), None) if idx > 0 else None
    if prev is not None:
        return prev.end, addr.end
    nxt = next((a for a in same[idx + 1 :] if a.end > a.start), None) if idx >= 0 else None
    if nxt is not None:
        return addr.start, nxt.start
    return addr.start, addr.end


def _people(items: Iterable[Person]) -> tuple[str, str]:
    """``张三 <a@x>、李四 <b@x>`` in zh and en."""
    shown = [p.formatted() for p in items]
    return "、".join(shown), ", ".join(shown)


# --- recipients-valid -------------------------------------------------------------------

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_GROUP = re.compile(r"[^@<>\":]*:[\s;]*")  # an empty group such as ``undisclosed-recipients:;``


def _domain_ok(domain: str, ctx: Context) -> bool:
    """A plausible mail domain: dotted labels, or an internal name, or an IP literal."""
    if ctx.is_internal(domain):
        return True
    if domain.startswith("[") and domain.endswith("]"):
        return True
    labels = domain.split(".")
    if len(labels) < 2:
        return False
    for label in labels:
        if not label:
            return False
        if label.isascii():
            if not _LABEL.fullmatch(label):
                return False
        elif label.startswith("-") or label.endswith("-") or any(c in label for c in '_ @,;:<>()[]\\"'):
            return False
    tld = labels[-1]
    return len(tld) >= 2 and not tld.isdigit()


def _is_valid(addr: Address, ctx: Context) -> bool:
    return addr.valid and "@" in addr.key and _domain_ok(addr.domain, ctx)


def _valid_or_group(addr: Address, ctx: Context) -> bool:
    """True for a valid address, and for an empty group (which holds no address at all)."""
    if _is_valid(addr, ctx):
        return True
    return _is_group(addr)


def _is_group(addr: Address) -> bool:
    return not addr.valid and bool(_GROUP.fullmatch(addr.raw.strip() or addr.email))


@check("recipients-valid", family="recipients", severity="error", external=True)
def recipients_valid(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Every recipient address must be valid, To must not be empty, nobody listed twice, not the sender.

    ## What it checks
    - an address in To, Cc or Bcc that does not parse, or whose domain is not a mail domain
      (`zhangsan@xinghe`, `foo@@x.com`, `王五` without an address);
    - an empty To (only Cc or Bcc recipients; an empty group such as
      `undisclosed-recipients:;` counts as empty);
    - an address that appears twice across To and Cc (compared case-insensitively, display
      names ignored);
    - the sender's own address in To or Cc.

    ## Why
    运营管理沟通规定 二(二)2(2): “收件人按职责范围选择,抄送关键相关方”. A mail without a To
    has no one responsible for acting on it; duplicates and the sender in the list are
    copy-paste slips that blur who the mail is for; an invalid address bounces silently.

    ## Bad
    ```
    From: 李娜 <lina@demo.example.cn>
    To: 王芳 <wangfang@demo.example.cn>, 李娜 <lina@demo.example.cn>
    Cc: 王芳 <wangfang@demo.example.cn>
    ```

    ## Good
    ```
    From: 李娜 <lina@demo.example.cn>
    To: 王芳 <wangfang@demo.example.cn>
    Cc: 赵强 <zhaoqiang@demo.example.cn>
    ```

    ## Fix safety
    Removing a second copy of an address is safe (the mailbox still receives the mail).
    Removing the sender from To/Cc is unsafe (the sender may want a copy in the inbox).
    Invalid addresses and an empty To need a person to decide.

    ## Params
    None.
    """
    sender_key = msg.sender.key if msg.sender is not None and msg.sender.valid else None
    listed_to = [a for a in msg.to if not _is_group(a)]
    for addr in _entries(msg, ("to", "cc", "bcc")):
        if not _valid_or_group(addr, ctx):
            shown = addr.raw.strip() or addr.email
            yield ctx.finding(
                message=Text(f"收件地址「{shown}」无效", f"the address {shown!r} is invalid"),
                suggestion=Text(
                    "改为完整的邮箱地址，格式如「姓名 <name@example.com>」",
                    "write a complete address such as 'Name <name@example.com>'",
                ),
                field=_field(addr),
                start=addr.start,
                end=addr.end,
            )
    if not listed_to:
        yield ctx.finding(
            message=Text("收件人（To）为空", "the To field is empty"),
            suggestion=Text(
                "把负责处理此事的人放入收件人（To），知会的人放入抄送（Cc）",
                "put the people who must act in To and those kept informed in Cc",
            ),
            field="to",
            start=0,
            end=len(msg.field_text.get("to", "")),
        )
    seen: dict[str, Address] = {}
    for addr in _entries(msg, ("to", "cc")):
        if not addr.valid:
            continue
        key = addr.key
        if key == sender_key:
            where = "收件人（To）" if addr.field == "to" else "抄送（Cc）"
            where_en = "To" if addr.field == "to" else "Cc"
            s, e = _removal(msg, addr)
            yield ctx.finding(
                message=Text(
                    f"发件人本人（{addr.email}）出现在{where}中",
                    f"the sender ({addr.email}) is listed in {where_en}",
                ),
                suggestion=Text(
                    f"从{where}中删除「{addr.formatted()}」", f"remove {addr.formatted()!r} from {where_en}"
                ),
                field=_field(addr),
                start=addr.start,
                end=addr.end,
                fix=Fix(
                    Text(f"从{where}中删除发件人", f"remove the sender from {where_en}"),
                    (Edit(_field(addr), s, e, ""),),
                    Applicability.UNSAFE,
                ),
            )
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = addr
            continue
        label = {"to": "收件人", "cc": "抄送"}
        s, e = _removal(msg, addr)
        yield ctx.finding(
            message=Text(
                f"地址 {addr.email} 重复出现（{label[first.field]}、{label[addr.field]}）",
                f"the address {addr.email} is listed twice ({first.field.capitalize()}, {addr.field.capitalize()})",
            ),
            suggestion=Text(
                f"只保留一次：删除{label[addr.field]}中的「{addr.formatted()}」",
                f"keep it once: remove {addr.formatted()!r} from {addr.field.capitalize()}",
            ),
            field=_field(addr),
            start=addr.start,
            end=addr.end,
            fix=Fix(
                Text("删除重复的地址", "remove the duplicate address"),
                (Edit(_field(addr), s, e, ""),),
                Applicability.UNSAFE,  # format and the relay never change who receives a message
            ),
        )


CHECKS.append(recipients_valid)


# --- recipients-directory ---------------------------------------------------------------

_BRACKETED = re.compile(r"[（(\[【〔<《][^）)\]】〕>》]{0,40}[）)\]】〕>》]")
_NAME_SEPARATORS = re.compile(r"[\s\-_/|·•,，:：'\"“”‘’]+")
_NAME_TOKENS = re.compile(r"[\s\-_/|·•,，:：'\"“”‘’()（）\[\]【】〔〕<>《》]+")


def _display_ok(display: str, person: Person, directory: Directory) -> bool:
    """True when a display name is the person's name or alias (decorations allowed)."""
    if person.answers_to(display):
        return True
    cleaned = _BRACKETED.sub(" ", display)
    for dept in {person.department, *directory.departments()}:
        if dept:
            cleaned = cleaned.replace(dept, " ")
    parts = [p for p in _NAME_SEPARATORS.split(cleaned) if p]
    if not parts:
        return False
    for candidate in (" ".join(parts), "".join(parts), " ".join(reversed(parts))):
        if person.answers_to(candidate):
            return True
    # One token of a decorated name is the name: 王芳 | 星河科技, Fang (王芳).
    return any(person.answers_to(t) for t in _NAME_TOKENS.split(display) if t)


def _is_bare(addr: Address) -> bool:
    """No display name, or one that only repeats the address."""
    name = addr.display_name.strip().strip("'\"").strip().lower()
    return not name or name == addr.key or name == addr.key.partition("@")[0]


def nearest_people(key: str, directory: Directory, limit: int = 3) -> list[Person]:
    """Directory people whose address is closest to ``key`` by edit distance (close ones only).

    Local parts are compared (a different domain costs 2 more); ties are all returned.
    """
    local, _, domain = key.partition("@")
    people = directory.people
    cutoff = max(2, len(local) // 3)
    matches = process.extract(
        local,
        [p.key.partition("@")[0] for p in people],
        scorer=Levenshtein.distance,
        score_cutoff=cutoff,
        limit=None,
    )
    scored = sorted((int(d) + (0 if people[i].key.partition("@")[2] == domain else 2), i) for _, d, i in matches)
    scored = [(d, i) for d, i in scored if d <= cutoff]
    if not scored:
        return []
    best = scored[0][0]
    return [people[i] for d, i in scored if d == best][:limit]


# Unknown addresses beyond this many in one message get no nearest-address search.
_MAX_NEAREST_LOOKUPS = 50


@check("recipients-directory", family="recipients", severity="warning", external=True)
def recipients_directory(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Internal recipients must be in the company directory, under their real name.

    ## What it checks
    For every To/Cc/Bcc address whose domain is internal:
    - the address is not in the directory (a typo such as `liuyan@` for `liuyang@`, a
      former employee, an unlisted group): the suggestion names the nearest directory
      address by edit distance, or the person the display name belongs to;
    - the display name is neither the person's directory name nor one of their aliases
      (实名制). Decorations are tolerated (`王芳（运营部）`, `Wang Fang` for alias `Fang Wang`);
      a bare address without a display name is fine.
    External addresses are not checked. Without a directory the check is silent.

    ## Why
    运营管理沟通规定 二(二)2(2): “收件人按职责范围选择”; 运营群管理制度 一(三)3 实名制原则:
    “群成员需使用真实姓名或公司内部统一的昵称,以便于识别和溝通”. A mistyped internal address
    bounces or reaches the wrong colleague; a wrong display name hides who really gets the mail.

    ## Bad
    ```
    Cc: liuyan@demo.example.cn          (not in the directory; nearest: liuyi@)
    To: 王方 <wangfang@demo.example.cn>  (the directory name is 王芳)
    ```

    ## Good
    ```
    To: 王芳 <wangfang@demo.example.cn>, Fang Wang <wangfang@demo.example.cn>, zhaoqiang@demo.example.cn
    ```

    ## Fix safety
    Replacing a display name by the directory name is unsafe: the address itself may be the
    mistake. Unknown addresses have no automatic fix.

    ## Params
    None. The directory is `[organization] directory`, the internal domains
    `[organization] internal_domains`.
    """
    directory = ctx.directory
    if not len(directory):
        return
    reported: set[tuple[str, str]] = set()
    lookups = 0
    for addr in _entries(msg, ("to", "cc", "bcc")):
        if not addr.valid or "@" not in addr.key or not ctx.is_internal(addr.domain):
            continue
        if (addr.key, addr.display_name) in reported:
            continue
        reported.add((addr.key, addr.display_name))
        person = directory.by_email(addr.key)
        if person is None:
            by_name = [] if _is_bare(addr) else directory.by_name(addr.display_name.strip())
            lookups += 1
            nearest = nearest_people(addr.key, directory) if lookups <= _MAX_NEAREST_LOOKUPS else []
            candidates = by_name or nearest
            if candidates:
                zh, en = _people(candidates)
                suggestion = Text(f"是否应为：{zh}？", f"did you mean {en}?")
            else:
                suggestion = Text(
                    "核对地址；通讯录中没有相近的地址，如为新同事或群组请联系管理员加入通讯录",
                    "check the address; no directory address is close. New colleagues and lists "
                    "must be added to the directory by an admin",
                )
            yield ctx.finding(
                message=Text(
                    f"内部地址 {addr.email} 不在通讯录中",
                    f"the internal address {addr.email} is not in the directory",
                ),
                suggestion=suggestion,
                field=_field(addr),
                start=addr.start,
                end=addr.end,
            )
            continue
        if _is_bare(addr) or _display_ok(addr.display_name, person, directory):
            continue
        others = [p for p in directory.by_name(addr.display_name.strip()) if p.key != person.key]
        extra_zh = extra_en = ""
        if others:
            zh, en = _people(others)
            extra_zh = f"；若要发给「{addr.display_name}」，其地址为 {zh}"
            extra_en = f"; if you meant {addr.display_name}, the address is {en}"
        names = "、".join((person.name, *person.aliases))
        yield ctx.finding(
            message=Text(
                f"显示名「{addr.display_name}」与通讯录中 {addr.email} 的姓名「{person.name}」不符（实名制）",
                f"the display name {addr.display_name!r} differs from the directory name "
                f"{person.name!r} of {addr.email} (real-name rule)",
            ),
            suggestion=Text(
                f"改为「{person.formatted()}」（通讯录姓名或别名：{names}）{extra_zh}",
                f"write {person.formatted()!r} (directory name or aliases: {names}){extra_en}",
            ),
            field=_field(addr),
            start=addr.start,
            end=addr.end,
            fix=Fix(
                Text(f"改为「{person.formatted()}」", f"rewrite as {person.formatted()!r}"),
                (Edit(_field(addr), addr.start, addr.end, person.formatted()),),
                Applicability.UNSAFE,
            ),
        )


CHECKS.append(recipients_directory)


# --- recipients-scope -------------------------------------------------------------------

RuleKind = Literal["cross-department", "department", "source-department", "sender-head"]


class RecipientRule(BaseModel):
    """One row of the recipient-rule table: mail tagged ``tag`` needs ``require``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tag: str
    require: RuleKind
    department: str = ""  # for ``require = "department"``

    @model_validator(mode="after")
    def _needs_department(self) -> RecipientRule:
        if self.require == "department" and not self.department:
            raise ValueError(f"rule for 【{self.tag}】: require = 'department' needs a department")
        return self


DEFAULT_RULES: tuple[RecipientRule, ...] = (
    RecipientRule(tag="部门协作", require="cross-department"),
    RecipientRule(tag="对外发布", require="department", department="市场部"),
    RecipientRule(tag="数据", require="source-department"),
    RecipientRule(tag="紧急", require="sender-head"),
)

# Statements that name where data comes from: 数据来源：数据部, 数据来源于数据部, 来源: …,
# 由数据部提供, 据数据部统计. Bounded spans, no nested quantifiers: linear on any body.
_SOURCE_STATEMENTS = re.compile(
    r"数据(?:来源|出处)[^\n。；;，,]{0,60}"
    r"|(?:来源|source|提供方)[ \t\u3000]*[:：][^\n。；;，,]{0,60}"
    r"|由[^\n。；;，,]{1,30}?(?:提供|统计|导出|出具)"
    r"|据[^\n。；;，,]{1,30}?统计",
    re.I,
)


class ScopeParams(Params):
    rules: tuple[RecipientRule, ...] = DEFAULT_RULES
    """The recipient-rule table: tag, what it requires, and the department where one is named."""


def source_departments(text: str, departments: Sequence[str]) -> list[str]:
    """Directory departments named in the text's data-source statements, in order of mention."""
    found: list[str] = []
    depts = [d for d in departments if d]
    for m in _SOURCE_STATEMENTS.finditer(text):
        span = m.group(0)
        named = sorted((span.find(d), -len(d), d) for d in depts if d in span)
        for _, _, dept in named:
            if not any(dept in f or f in dept for f in found):
                found.append(dept)
    return found


@check("recipients-scope", family="recipients", severity="error", params=ScopeParams)
def recipients_scope(msg: Message, ctx: Context) -> Iterator[Finding]:
    """A tag's required parties must be among the recipients (the recipient-rule table).

    ## What it checks
    For the message's tag (`【TAG】` at the start of the subject, any bracket form), each rule
    of the table with that tag must hold. Rule kinds and the shipped rules:
    - `cross-department` (【部门协作】): To holds at least one person from a department other
      than the sender's, and To or Cc holds a head (`role=head`) of the sender's department
      and of every other department in To, unless the sender is that head;
    - `department` (【对外发布】, department 市场部): someone of the department is in To/Cc,
      unless the sender belongs to it;
    - `source-department` (【数据】): when the new text names a source department in a data
      source statement (`数据来源：数据部`, `由数据部提供`, `据数据部统计`), someone of that
      department is in To/Cc, unless the sender belongs to it;
    - `sender-head` (【紧急】): a head of the sender's department is in To/Cc, unless the
      sender is one.
    The suggestion names every missing person with their address (for a department: its head).

    ## Why
    运营管理沟通规定 二(二)2(2) “收件人按职责范围选择,抄送关键相关方”; 一(一)2(1) “涉及数据的
    信息必须由数据源部门双重确认”; 一(一)4(1) “重要对外发布信息需由市场部牵头”; 一(一)1(3)
    “紧急情况…需立即启动最高优先级沟通通道”; 三(二)2 部门负责人“协调跨部门沟通”.

    ## Bad
    ```
    From: 吴宇 <wuyu@demo.example.cn>          (市场部)
    To: 刘毅 <liuyi@demo.example.cn>            (技术部)
    Subject: 【部门协作】…                     (no head of 市场部 or 技术部 in To/Cc)
    ```

    ## Good
    ```
    From: 吴宇 <wuyu@demo.example.cn>
    To: 刘毅 <liuyi@demo.example.cn>
    Cc: 周静 <zhoujing@demo.example.cn>, 陈明 <chenming@demo.example.cn>
    ```

    ## Fix safety
    Adding recipients is unsafe: the fix appends the missing people to Cc only when asked.

    ## Params
    - `rules` (list of tables `{tag, require, department}`): the recipient-rule table;
      `require` is one of `cross-department`, `department` (needs `department`),
      `source-department`, `sender-head`. In mailgate.toml:
      `[[checks.recipients-scope.rules]]` `tag = "对外发布"` `require = "department"`
      `department = "市场部"`.
    """
    rules = ctx.p(ScopeParams).rules
    tag = subject_tag(msg)
    directory = ctx.directory
    if tag is None or not rules or not len(directory):
        return
    applicable = [r for r in rules if r.tag == tag.name]
    if not applicable:
        return
    sender = directory.by_email(msg.sender.key) if msg.sender is not None else None
    present: dict[str, Person] = {}
    to_people: list[Person] = []
    for addr in _entries(msg, ("to", "cc")):
        person = directory.by_email(addr.key) if addr.valid else None
        if person is not None:
            present[person.key] = person
            if addr.field == "to":
                to_people.append(person)
    present_depts = {p.department for p in present.values()}
    shown_tag = f"【{tag.name}】"

    def missing_heads(dept: str) -> list[Person]:
        heads = directory.heads_of(dept)
        if not heads or (sender is not None and sender in heads):
            return []
        if any(h.key in present for h in heads):
            return []
        return heads[:1]

    for rule in applicable:
        if rule.require == "cross-department":
            own = sender.department if sender is not None else None
            other_depts: list[str] = []
            for p in to_people:
                if p.department != own and p.department not in other_depts:
                    other_depts.append(p.department)
            if not other_depts:
                yield ctx.finding(
                    message=Text(
                        f"{shown_tag}邮件的收件人（To）中没有其他部门的人员",
                        f"{shown_tag} mail has nobody from another department in To",
                    ),
                    suggestion=Text(
                        "把协作部门的对接人放入收件人（To）；如只是本部门内沟通，请改用其他标签",
                        "put the contact of the cooperating department in To, or use another tag "
                        "for mail within one department",
                    ),
                    field="to",
                    start=0,
                    end=len(msg.field_text.get("to", "")),
                )
            need: list[Person] = []
            for dept in ([own] if own else []) + other_depts:
                for head in missing_heads(dept):
                    if head not in need:
                        need.append(head)
            if need:
                zh, en = _people(need)
                names = [p.department for p in need]
                yield ctx.finding(
                    message=Text(
                        f"{shown_tag}邮件未抄送相关部门负责人（{'、'.join(names)}）",
                        f"{shown_tag} mail does not copy the department heads ({', '.join(names)})",
                    ),
                    suggestion=Text(f"抄送 {zh}", f"add {en} to Cc"),
                    field="cc",
                    start=len(msg.field_text.get("cc", "")),
                    end=len(msg.field_text.get("cc", "")),
                    fix=add_to_cc(msg, need),
                )
        elif rule.require in ("department", "source-department"):
            if rule.require == "department":
                depts = [rule.department]
            else:
                depts = source_departments(msg.new_text, directory.departments())
            for dept in depts:
                if (sender is not None and sender.department == dept) or dept in present_depts:
                    continue
                contacts = directory.heads_of(dept)[:1] or directory.members_of(dept)[:1]
                if not contacts:
                    continue
                zh, en = _people(contacts)
                why = (
                    Text(f"须由{dept}牵头", f"must be led by {dept}")
                    if rule.require == "department"
                    else Text(f"数据来源为{dept}，须由其确认", f"the data comes from {dept}, which must confirm it")
                )
                yield ctx.finding(
                    message=Text(
                        f"{shown_tag}邮件{why.zh}，但收件人和抄送中没有{dept}的人员",
                        f"{shown_tag} mail {why.en}, but nobody from {dept} is in To or Cc",
                    ),
                    suggestion=Text(f"抄送{dept}的 {zh}", f"add {en} ({dept}) to Cc"),
                    field="cc",
                    start=len(msg.field_text.get("cc", "")),
                    end=len(msg.field_text.get("cc", "")),
                    fix=add_to_cc(msg, contacts),
                )
        elif rule.require == "sender-head" and sender is not None:
            need = missing_heads(sender.department)
            if need:
                zh, en = _people(need)
                yield ctx.finding(
                    message=Text(
                        f"{shown_tag}邮件未包含发件人所在部门（{sender.department}）的负责人",
                        f"{shown_tag} mail does not include the head of the sender's department ({sender.department})",
                    ),
                    suggestion=Text(f"抄送 {zh}", f"add {en} to Cc"),
                    field="cc",
                    start=len(msg.field_text.get("cc", "")),
                    end=len(msg.field_text.get("cc", "")),
                    fix=add_to_cc(msg, need),
                )


CHECKS.append(recipients_scope)


# --- recipients-external ----------------------------------------------------------------

DEFAULT_INTERNAL_ONLY_TAGS: tuple[str, ...] = ("部门协作", "会议纪要", "数据", "政策变动", "战略调整")


class ExternalParams(Params):
    internal_only_tags: tuple[str, ...] = DEFAULT_INTERNAL_ONLY_TAGS
    """Tags whose mail must not leave the company."""


def _word_pattern(word: str) -> str:
    parts = [re.escape(p) for p in word.split()]
    body = r"\s+".join(parts)
    if word.isascii():
        return rf"(?<![A-Za-z0-9]){body}(?![A-Za-z0-9])"
    return body


@lru_cache(maxsize=64)
def _compile_words(words: tuple[str, ...]) -> re.Pattern[str] | None:
    words = tuple(sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True))
    if not words:
        return None
    return re.compile("|".join(_word_pattern(w) for w in words), re.I)


def _line_around(text: str, start: int, end: int, reach: int = 300) -> str:
    """The line holding ``text[start:end]``, at most ``reach`` characters either side."""
    lo = max(text.rfind("\n", max(0, start - reach), start) + 1, start - reach, 0)
    hi = text.find("\n", end, end + reach)
    return text[lo : hi if hi >= 0 else min(len(text), end + reach)]


def confidential_markers(
    text: str, markers: tuple[str, ...], exceptions: tuple[str, ...], disclaimers: tuple[str, ...] = ()
) -> list[str]:
    """The confidentiality markers in ``text``.

    A marker inside an exception phrase (保密协议) does not count, nor one on a line of
    boilerplate disclaimer (“如果您不是指定收件人…”), which every mail of a company carries.
    """
    marker_re = _compile_words(markers)
    if marker_re is None:
        return []
    exception_re = _compile_words(exceptions)
    disclaimer_re = _compile_words(disclaimers)
    excepted = [(m.start(), m.end()) for m in exception_re.finditer(text)] if exception_re else []
    found: list[str] = []
    for m in marker_re.finditer(text):
        if any(s <= m.start() and m.end() <= e for s, e in excepted):
            continue
        if disclaimer_re is not None and disclaimer_re.search(_line_around(text, m.start(), m.end())):
            continue
        if m.group(0) not in found:
            found.append(m.group(0))
    return found


@check("recipients-external", family="recipients", severity="error", params=ExternalParams, external=True)
def recipients_external(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Confidential or internal-only mail must not go to external recipients.

    ## What it checks
    When a recipient (To, Cc or Bcc) has a domain outside `internal_domains`, the check fires if
    - the subject or the new text carries a confidentiality marker from the
      `recipients_confidential` lexicon (机密 绝密 秘密 内部资料 仅限内部 保密 confidential
      "internal only" …; phrases such as 保密协议 are exceptions, and a marker on a line of
      boilerplate disclaimer — “如果您不是指定收件人…” — does not count), or
    - the subject's tag is internal-only (【部门协作】 【会议纪要】 【数据】 【政策变动】 【战略调整】).
    One finding names every external recipient.

    ## Why
    The regulation (SPEC top): “涉及公司机密的信息不得外传”; 运营群管理制度 一(三)4 保密原则:
    “嚴禁…傳播未經授權的機密信息”. Mail marked confidential, and mail of the internal-only
    kinds, is meant for colleagues only.

    ## Bad
    ```
    To: partner@partner.example.net
    Subject: 机密：第四季度结算对账差异说明
    ```

    ## Good
    ```
    To: partner@partner.example.net
    Subject: 第四季度结算对账差异说明      (no marker, no internal-only tag)
    ```

    ## Fix safety
    No automatic fix: removing a recipient or the content is the sender's decision.

    ## Params
    - `internal_only_tags` (list of strings): tags whose mail must stay internal. Default:
      部门协作 会议纪要 数据 政策变动 战略调整.
    The markers and exceptions are the `recipients_confidential` lexicon.
    """
    external = [
        a for a in _entries(msg, ("to", "cc", "bcc")) if a.valid and "@" in a.key and not ctx.is_internal(a.domain)
    ]
    if not external:
        return
    reasons: list[Text] = []
    tag = subject_tag(msg)
    if tag is not None and tag.name in ctx.p(ExternalParams).internal_only_tags:
        reasons.append(Text(f"标签【{tag.name}】仅限内部", f"the tag 【{tag.name}】 is internal-only"))
    lexicon = ctx.lexicon("recipients_confidential")
    markers = tuple(lexicon.get("markers", ()))
    exceptions = tuple(lexicon.get("exceptions", ()))
    disclaimers = tuple(lexicon.get("disclaimers", ()))
    found = confidential_markers(msg.subject, markers, exceptions)
    for word in confidential_markers(msg.new_text, markers, exceptions, disclaimers):
        if word not in found:
            found.append(word)
    if found:
        shown = "、".join(f"“{w}”" for w in found)
        reasons.append(Text(f"邮件标注了{shown}", f"the mail is marked {', '.join(found)}"))
    if not reasons:
        return
    who_zh = "、".join(a.formatted() for a in external)
    who_en = ", ".join(a.formatted() for a in external)
    first = external[0]
    yield ctx.finding(
        message=Text(
            f"机密或仅限内部的邮件发给了外部收件人 {who_zh}：" + "；".join(r.zh for r in reasons),
            f"confidential or internal-only mail goes to external recipients {who_en}: "
            + "; ".join(r.en for r in reasons),
        ),
        suggestion=Text(
            f"删除外部收件人 {who_zh}；如确需对外发送，请另写一封不含机密内容、不带内部标签的邮件",
            f"remove the external recipients {who_en}; if the partner needs it, write a separate mail "
            "without confidential content or internal tags",
        ),
        field=_field(first),
        start=first.start,
        end=first.end,
    )


CHECKS.append(recipients_external)


# --- recipients-audience ----------------------------------------------------------------


class AudienceParams(Params):
    max_to: int = 10
    """Most addresses in To before the check suggests Cc or a list (info)."""
    max_total: int = 50
    """Most recipients in all before the check warns (one step above the configured severity)."""


@check("recipients-audience", family="recipients", severity="info", params=AudienceParams)
def recipients_audience(msg: Message, ctx: Context) -> Iterator[Finding]:
    """Too many recipients: more than 10 in To (info), more than 50 in all (warning).

    ## What it checks
    Counts distinct addresses: more than `max_to` in To suggests moving those who need not
    act to Cc, or using a mailing list; more than `max_total` across To, Cc and Bcc is reported
    one severity step higher (warning by default).

    ## Why
    运营管理沟通规定 二(二)2(2): “收件人按职责范围选择,抄送关键相关方”. A long To line hides
    who has to act; mail to half the company belongs on a list or an announcement channel.

    ## Bad
    ```
    To: eleven colleagues, none of them in Cc
    ```

    ## Good
    ```
    To: the two owners of the task
    Cc: the nine colleagues who only need to know
    ```

    ## Fix safety
    No automatic fix: who must act is the sender's decision.

    ## Params
    - `max_to` (int, 10): most To addresses.
    - `max_total` (int, 50): most recipients in all.
    """
    params = ctx.p(AudienceParams)
    to_count = len({a.key for a in msg.to})
    total = len({a.key for a in msg.recipients})
    to_text = msg.field_text.get("to", "")
    if total > params.max_total:
        yield ctx.finding(
            message=Text(
                f"收件人共{total}个（超过{params.max_total}个）",
                f"the mail has {total} recipients (more than {params.max_total})",
            ),
            suggestion=Text(
                "改用邮件组或公告渠道发送；只把需要处理的人放入收件人（To）",
                "send it to a mailing list or announcement channel; keep only those who must act in To",
            ),
            field="to",
            start=0,
            end=len(to_text),
            shift=+1,
        )
    elif to_count > params.max_to:
        yield ctx.finding(
            message=Text(
                f"收件人（To）有{to_count}个地址（超过{params.max_to}个）",
                f"To holds {to_count} addresses (more than {params.max_to})",
            ),
            suggestion=Text(
                "只把需要处理的人放入收件人（To），其余改为抄送（Cc）或使用邮件组",
                "keep in To only those who must act; move the others to Cc or use a mailing list",
            ),
            field="to",
            start=0,
            end=len(to_text),
        )


CHECKS.append(recipients_audience)
