"""``signature``: the new text ends with a closing that names the sender and their department."""

from __future__ import annotations

import re
from collections.abc import Iterator

from checks.tags import fold
from mailgate.context import Context
from mailgate.model import Applicability, Edit, Finding, Fix, Message, Text
from mailgate.registry import Params, check


class SignatureParams(Params):
    require_department: bool = True
    """The closing must also name the sender's department."""


_DEPT_SHAPE = re.compile(
    r"[\u4e00-\u9fff]{1,12}(?:部|中心|事业部|办公室|委员会|组|处|科)|[A-Za-z][A-Za-z &]{1,40}Dept\.?"
)


@check("signature", family="types", severity="info", params=SignatureParams)
def signature(msg: Message, ctx: Context) -> Iterator[Finding]:
    """The new text should end with a closing that holds the sender's real name and department.

    ## What it checks
    The closing — the last short lines of the new text (``谢谢`` / ``此致 敬礼`` / name /
    department / phone, SPEC §1) — must contain the sender's real name (the directory name or an
    alias of the ``From`` address, or the ``From`` display name) and department (the sender's
    directory department; for a sender not in the directory, any department-shaped word such as
    ``市场部``). The message names what is missing and gives the closing to add.

    ## Why
    运营群管理制度 一(三)3 实名制原则: “群成员需使用真实姓名或公司内部统一的昵称，以便于识别和
    沟通”; a mail that ends with the sender's name and department tells every recipient who is
    responsible and whom to ask.

    ## Bad
    ```
    ……
    行动项：
    1. 更新排班表；负责人：赵强；截止时间：11月20日前。

    谢谢！
    ```

    ## Good
    ```
    ……
    谢谢！
    李娜
    运营部
    ```

    ## Fix safety
    An *unsafe* fix appends the missing name/department line from the directory: it is right
    for the sender in the directory but changes the visible text, so it is applied only on
    request.

    ## Params
    - ``require_department`` (default ``true``): also require the department.
    """
    p = ctx.p(SignatureParams)
    sender = msg.sender
    if sender is None:
        return
    person = ctx.directory.by_email(sender.key)
    names = [n for n in ((person.name, *person.aliases) if person else ()) if n]
    if sender.display_name:
        names.append(sender.display_name)
    if not names:
        return  # nobody to look for
    real_name = person.name if person else sender.display_name
    dept = person.department if person else ""
    closing = msg.new_text[msg.closing_start :]
    folded = fold(closing)
    has_name = any(fold(n) in folded for n in names if fold(n))
    if dept:
        has_dept = fold(dept) in folded
    else:
        has_dept = bool(_DEPT_SHAPE.search(closing)) or any(fold(d) in folded for d in ctx.directory.departments())
    need_dept = p.require_department and not has_dept
    if has_name and not need_dept:
        return
    lacks_zh = "、".join(x for x, f in (("姓名", not has_name), ("部门", need_dept)) if f)
    lacks_en = " and ".join(x for x, f in (("name", not has_name), ("department", need_dept)) if f)
    add_lines = [x for x, f in ((real_name, not has_name), (dept, need_dept and bool(dept))) if f and x]
    end = len(msg.new_text.rstrip())
    start = msg.closing_start if msg.closing_start < end else end
    if closing.strip():
        message = Text(f"结尾署名缺少发件人的{lacks_zh}", f"the closing lacks the sender's {lacks_en}")
    else:
        message = Text("正文结尾没有署名（姓名和部门）", "the mail does not end with a closing (name and department)")
    block = "\n".join(add_lines) if add_lines else "<姓名>\n<部门>"
    fix = None
    if add_lines:
        fix = Fix(
            description=Text("在结尾补上署名", "append the closing"),
            edits=(Edit("body", end, end, "\n" + "\n".join(add_lines)),),
            applicability=Applicability.UNSAFE,
        )
    yield ctx.finding(
        message=message,
        suggestion=Text(f"在邮件结尾署名：\n{block}", f"End the mail with:\n{block}"),
        field="body",
        start=start,
        end=end,
        fix=fix,
    )
