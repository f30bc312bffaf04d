"""New text versus quoted earlier messages, and the closing (SPEC §1).

``new_text`` keeps the offsets of the body: it is the body cut at the first
quote header, with ``>`` lines inside it replaced by spaces. Quote headers:

- separator lines: ``-----原始邮件-----``, ``-----Original Message-----``,
  ``------------------ 原始邮件 ------------------`` (Foxmail/QQ),
  ``---------- Forwarded message ---------``, ``Begin forwarded message:`` …;
- attribution lines: ``在 2026年11月17日周二 15:20，X <x@y> 写道：`` (Gmail, also
  wrapped over two or three lines), ``X <x@y> 于2026年11月17日 15:20写道：``,
  ``On … wrote:``; they must hold a year or an ``@`` (a date or an address),
  so a sentence that happens to end in 写道： is not a quote header;
- an Outlook header block: ``发件人:``/``From:`` followed by at least two of
  ``发送时间`` ``收件人`` ``抄送`` ``主题`` / ``Sent`` ``To`` ``Cc`` ``Subject`` …,
  optionally after a ``____`` rule.

The closing is the trailing block of at most 6 short lines (≤ 40 characters)
made only of closing elements: a ``-- `` separator (after which anything goes),
a salutation (``谢谢！`` ``此致`` ``敬礼`` ``Best regards``), a courtesy sign-off
(``请查收，谢谢！`` ``如有疑问请随时联系。``, a pointer to a contact such as
``如有问题请联系行政值班电话：010-6588 2200。``, but not a request with content such as
``请尽快回复，谢谢。``), a device line
(``发自我的iPhone``), contact lines (``电话：…`` ``Tel: …``), and lines whose
segments (split at ``|``, ``/``, commas, brackets, then at spaces) are each a
name (the sender's, or a personal name: a common surname and one or two more
characters, or capitalised Latin words), a department, a job title, a company,
an address, contact details or a date. A line with a sentence or a colon in it
ends the walk, so a real paragraph (or an item line) after the action items is
never taken for a closing. A block made only of personal names counts only when
it is the single last line.

Everything here is linear in the text and looks at lines of bounded length.
"""

from __future__ import annotations

import re

__all__ = ["MAX_CLOSING_CHARS", "MAX_CLOSING_LINES", "find_closing", "split_new_text"]

MAX_CLOSING_LINES = 6
MAX_CLOSING_CHARS = 40
_MAX_HEADER_LINE = 300
_MAX_CANDIDATES = 2000  # candidate lines examined before giving up (real new text has a handful)

# ---------------------------------------------------------------- quote headers

_SEPARATOR_HEADER = re.compile(
    r"""^[ \t\xa0\u3000]*(?:[-=_—~*]{2,}[ \t\xa0\u3000]*(?:原始邮件|原始郵件|邮件原件|原邮件|Original\ Message|Original|
        Forwarded\ message|Forwarded\ Message|转发邮件信息|转发的邮件|转发的消息|转发邮件|转发消息|转发信息|
        原始信息|原始消息|轉寄郵件|轉寄的郵件|回复的原邮件|
        Reply\ Message|回复邮件|Message\ d'origine)[ \t\xa0\u3000]*[-=_—~*]{2,}
      | Begin\ forwarded\ message[ \t\xa0\u3000]*:
      | 以下为转发的邮件[ \t\xa0\u3000]*[：:]
      | 开始转发的邮件[ \t\xa0\u3000]*[：:]
      | 转发的邮件[ \t\xa0\u3000]*[：:]
    )[ \t\xa0\u3000]*$""",
    re.X | re.I,
)
_WROTE_END = re.compile(r"(?:写道|寫道|wrote)[ \t\xa0\u3000]*[：:][ \t\xa0\u3000]*$", re.I)
_ATTRIBUTION_OPEN = re.compile(r"^[ \t\xa0\u3000]*(?:在|On[ \t\xa0\u3000])", re.I)
_HAS_EVIDENCE = re.compile(r"[@＠]|(?:19|20)[0-9]{2}|年")  # an address or a year
_HEADER_FROM = re.compile(r"^[ \t\xa0\u3000]*\*{0,2}(?:发件人|寄件者|寄件人|From)\*{0,2}[ \t\xa0\u3000]*[：:]", re.I)
_HEADER_NEXT = re.compile(
    r"^[ \t\xa0\u3000]*\*{0,2}(?:发送时间|发件时间|发送日期|寄件日期|时间|日期|Sent|Date|收件人|收件者|To|抄送|副本|Cc|"
    r"主题|主旨|Subject|Reply-To)\*{0,2}[ \t\xa0\u3000]*[：:]",
    re.I,
)
_RULE = re.compile(r"^[ \t\xa0\u3000]*(?:_{8,}|-{8,}|—{4,})[ \t\xa0\u3000]*$")


# A line that might start a quote: the only lines the exact tests above look at.
_CANDIDATE = re.compile(
    r"^[ \t\xa0\u3000]*(?:[-=_—~*]{2}|Begin|以下|开始|转发|在|On[ \t\xa0]|\*{0,2}(?:发件人|寄件|From))"
    r"|(?:写道|寫道|wrote)[ \t\xa0\u3000]*[：:][ \t\xa0\u3000]*$",
    re.I | re.M,
)
_QUOTED_LINE = re.compile(r"^[ \t\u3000]*(?:>|＞(?=\S))[^\n]*", re.M)


def _line_at(text: str, pos: int) -> tuple[int, int]:
    """(start, end) of the line holding ``pos``; the end excludes the ``\\n``."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def _next_line(text: str, end: int) -> tuple[int, int] | None:
    """The line after the one ending at ``end``, or None at the end of the text."""
    if end >= len(text):
        return None
    start = end + 1
    nxt = text.find("\n", start)
    return start, len(text) if nxt < 0 else nxt


def split_new_text(body: str) -> str:
    """The new text of ``body``: cut at the first quote header, ``>`` lines blanked (same offsets)."""
    cut = len(body)
    checked = -1
    budget = _MAX_CANDIDATES
    for m in _CANDIDATE.finditer(body):
        start, end = _line_at(body, m.start())
        if start == checked:
            continue
        checked = start
        if _is_quote_header(body, start, end):
            cut = start
            break
        budget -= 1
        if budget <= 0:  # a hostile body: thousands of lines that look like the start of a quote
            break
    text = body[:cut]
    if ">" in text or "＞" in text:
        text = _QUOTED_LINE.sub(lambda q: " " * len(q.group(0)), text)
    return text


def _is_quote_header(body: str, s: int, e: int) -> bool:
    if e - s > _MAX_HEADER_LINE:
        return False
    line = body[s:e]
    if not line.strip():
        return False
    if _SEPARATOR_HEADER.match(line):
        return True
    if _WROTE_END.search(line) and _HAS_EVIDENCE.search(line):
        return True
    if _ATTRIBUTION_OPEN.match(line):
        # Gmail wraps a long attribution: "在 …，X <x@y>" / "写道：" on the next line(s).
        window = body[e : e + 2 * _MAX_HEADER_LINE]
        if "写道" not in window and "寫道" not in window and "rote" not in window.lower():
            return False
        joined = line
        end = e
        for _ in (1, 2):
            nxt = _next_line(body, end)
            if nxt is None:
                break
            ns, end = nxt
            part = body[ns:end]
            if not part.strip() or end - ns > _MAX_HEADER_LINE:
                break
            joined += part
            if len(joined) > _MAX_HEADER_LINE:
                break
            if _WROTE_END.search(part):
                return bool(_HAS_EVIDENCE.search(joined))
        return False
    if _RULE.match(line):
        nxt = _next_nonblank(body, e, 3)
        return nxt is not None and _is_header_block(body, *nxt)
    if _HEADER_FROM.match(line):
        return _is_header_block(body, s, e)
    return False


def _next_nonblank(body: str, end: int, limit: int) -> tuple[int, int] | None:
    for _ in range(limit):
        nxt = _next_line(body, end)
        if nxt is None:
            return None
        if body[nxt[0] : nxt[1]].strip():
            return nxt
        end = nxt[1]
    return None


def _is_header_block(body: str, s: int, e: int) -> bool:
    """``发件人:``/``From:`` at ``s`` followed by two more header fields (blank lines allowed)."""
    if not _HEADER_FROM.match(body[s:e]):
        return False
    found = 0
    seen = 0
    end = e
    for _ in range(12):
        nxt = _next_line(body, end)
        if nxt is None:
            break
        ks, end = nxt
        if end - ks > 2000:
            seen += 1
        elif body[ks:end].strip():
            seen += 1
            if _HEADER_NEXT.match(body[ks:end]):
                found += 1
                if found >= 2:
                    return True
        if seen >= 5:
            break
    return False


# ---------------------------------------------------------------- the closing

_CLOSING_PHRASE = (
    r"谢谢|謝謝|多谢|多謝|感谢|感謝|致谢|此致|敬礼|敬禮|顺祝|顺颂|顺致|祝好|商祺|敬上|谨上|敬請|敬请|辛苦了|"
    r"祝(?:大家|您|你|各位)?(?:工作|生活|周末|节日|新年|一切)?(?:顺利|愉快|快乐|商祺|安好|健康|如意|好)|"
    r"有劳|拜托|麻烦了|best\ regards|best\ wishes|best(?=[,，!！.。]?$)|regards|kind\ regards|warm\ regards|"
    r"many\ thanks|thanks|thank\ you|thx|cheers|sincerely|yours|br(?=[,，.。!！]?$)|greetings|respectfully"
)
_SALUTATION = re.compile(
    rf"""^(?:以上[，,、]?[ \t]*|再次|先|提前|非常|十分|多)?(?:{_CLOSING_PHRASE})
        [\w \t、&'’]{{0,12}}[！!。.，,~～…]*$""",
    re.X | re.I,
)
# Courtesy sign-off sentences: "请查收，谢谢！", "如有疑问请随时与我联系。", "以上，请知悉。"
_COURTESY = re.compile(
    r"""^(?:以上[，,]?[ \t]*)?(?:
        请(?:各位|大家|您)?(?:查收|知悉|查阅|审阅|周知|悉知|批示|审批|参考|指正|斧正|回复确认)
      | 敬请(?:知悉|查收|批示|指正|谅解)
      | 如有(?:任何)?(?:疑问|问题|需要|不清楚|不明)[，,]?[^，,。！!？?；;]{0,14}
      | (?:如?有(?:任何)?(?:疑问|问题|需要|不清楚|不明)[，,]?[ \t]*)?(?:请|可|欢迎)?(?:随时)?(?:与|和)?
        (?:联系|致电|拨打|咨询|联络)[^，,。！!？?；;@]{0,20}?[：:]?[ \t]*
        (?:[+0-9０-９][0-9０-９\- ]{2,20}(?:(?:转|轉|分机|ext\.?)[ \t]*[0-9]{1,6})?|[^\s@，,。]+@[^\s，,。]+)[)）]?
      | 有(?:问题|疑问)随时[^，,。！!？?；;]{0,8}
      | 辛苦(?:了|大家|各位)?
      | 麻烦(?:了|大家|各位)?
      | 感谢(?:大家|各位|您)?的?(?:支持|配合|帮助|理解)?
    )[，,。.！!～~ \t]*(?:(?:谢谢|多谢|感谢)[\w]{0,6})?[。.！!～~]*$""",
    re.X,
)
_DEVICE = re.compile(
    r"^(?:[-—]{1,2}[ \t]*)?(?:(?:发自|來自|来自|sent\ from|sent\ with|sent\ via|get\ outlook|发送自)"
    r"[ \t]*(?:我的|my)?|(?:從|从)我的)[^：:，,。]{0,10}?"
    r"(?:iphone|ipad|android|手机|手機|邮箱|郵箱|客户端|mail|outlook|foxmail|设备|華為|华为|小米|荣耀|oppo|vivo|"
    r"三星|samsung|galaxy|mobile|device|大师|app|ios)(?:[ \t]*(?:发送|發送|客户端|版|app))?[ \t]*$",
    re.X | re.I,
)
_SEPARATOR = re.compile(r"^(?:--|——)$")
_CONTACT_LINE = re.compile(
    r"^(?:(?:电话|電話|手机|手機|座机|分机|分機|传真|傳真|邮箱|郵箱|电邮|電郵|邮件|微信|QQ|地址|网址|網址|"
    r"Tel|Phone|Mobile|Mob|Cell|Fax|E-?mail|Mail|WeChat|Addr|Address|Web|Website|Ext)\.?"
    r"(?:[ \t]*[：:]|[ \t]+(?=[+0-9０-９]|[^\s@]+@))|[MTEPF][ \t]*[：:.][ \t]*(?=[+0-9０-９]|[^\s@]+@))",
    re.I,
)
_CONTACT_LABEL = re.compile(
    r"^\w{0,4}?(?:电话|電話|手机|手機|座机|分机|分機|传真|傳真|邮箱|郵箱|电邮|電郵|微信|地址|网址|網址|热线|熱線|"
    r"Tel|Phone|Mobile|Cell|Fax|E-?mail|WeChat|Address|Hotline)$",
    re.I,
)
_SEGMENT_SPLIT = re.compile(r"[ \t]*[|｜/／·•・,，、()（）\[\]【】<>《》：:—–~～][ \t]*|[\u3000\xa0\t]+|[ ]{2,}")
_WORDS_SPLIT = re.compile(r"[ \t\u3000\xa0]+")
_SHORT_NUMBER = re.compile(r"^[0-9０-９]{3,6}$")  # an extension or room number beside a label
_ADDRESS = re.compile(
    r"^[\w\-]{0,30}?(?:省|市|区|區|县|縣|路|街|道)[\w\-]{0,30}?"
    r"(?:号|號|楼|樓|层|層|室|座|大厦|大廈|园区|園區|广场|廣場)$"
)
_SENTENCE = re.compile(r"[。？?！!；;]")
_PHONE = re.compile(r"^\+?[0-9０-９][0-9０-９\- ]{5,20}(?:(?:ext|转|轉|分机)\.?[0-9]{1,6})?$", re.I)
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
_URL = re.compile(r"^(?:https?://|www\.)\S+$", re.I)
_DATE = re.compile(
    r"^(?:\d{4}[年/.\-]\d{1,2}[月/.\-]\d{1,2}日?|\d{1,2}月\d{1,2}日|[〇零一二三四五六七八九十]{4}年[一二三四五六七八九十]{1,3}月"
    r"[一二三四五六七八九十]{1,3}日)$"
)
_STOP_CHARS = frozenset("的了是请需要由把被让吗呢吧将会已在对给这那就都也还再和并")
_DEPT = re.compile(
    r"^(?!.*(?:会议室|培训室|教室|好处|用处|到处|此处|学科|本科|专科|分组|编组|本部|全部|局部|内部|外部|顶部|底部))"
    r"[^\d\s][\w&\-\u3000 ]{0,13}?(?:部|部门|中心|组|小组|室|处|科|团队|事业部|事业群|办公室|委员会|研究院|"
    r"实验室|工作室|分公司|子公司|公司|集团|學院|学院|Dept\.?|Department|Team|Group|Division|Office|Center|Centre|Lab|Labs|BU)$",
    re.I,
)
_TITLE = re.compile(
    r"^[\w&\-\u3000 ]{0,14}?(?:经理|經理|总监|總監|主管|工程师|工程師|专员|專員|助理|总裁|總裁|总经理|副总|"
    r"主任|组长|部长|处长|负责人|科长|秘书|架构师|设计师|顾问|分析师|实习生|经理人|CEO|CTO|CFO|COO|CIO|VP|SVP|Manager|Director|"
    r"Engineer|Lead|Specialist|Assistant|Consultant|Analyst|Designer|Architect|President|Intern|Officer|"
    r"Head|Owner|PM|HRBP)$",
    re.I,
)
_COMPANY = re.compile(
    r"(?:科技|有限公司|有限责任公司|股份|集团|集團|控股|Co\.?|Ltd\.?|Limited|Inc\.?|Corp\.?|Corporation|LLC|"
    r"Technology|Technologies|Tech)$",
    re.I,
)
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦"
    "戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻"
    "苑迟邝陳張劉黃趙吳孫馬鄭謝韓馮鄧蕭葉蘇呂蔣盧鍾譚陸賈韋鄒龔萬錢嚴湯溫閆聶顧賴羅許楊"
)
_COMPOUND_SURNAME = re.compile(
    r"^(?:欧阳|司马|诸葛|上官|东方|皇甫|尉迟|公孙|慕容|夏侯|令狐|长孙|宇文|司徒|端木|歐陽|司馬|諸葛|東方)"
)
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
_NAME_SUFFIX = re.compile(r"^[\u4e00-\u9fff](?:总|總|工|经理|經理|老师|老師|姐|哥)$")
_LATIN_WORD = re.compile(r"^[A-Z][a-z'’]{1,20}\.?$")
_LATIN_NAME = re.compile(r"^[A-Z][a-zA-Z'’]{1,20}(?:[ .\-]{1,2}[A-Z][a-zA-Z'’]{0,20}\.?){1,3}$")

_STRONG, _WEAK = 2, 1


def _is_person_name(seg: str) -> bool:
    if _CJK_NAME.match(seg):
        if _COMPOUND_SURNAME.match(seg):
            return True
        return len(seg) <= 3 and seg[0] in _SURNAMES
    if _NAME_SUFFIX.match(seg):
        return seg[0] in _SURNAMES
    return bool(_LATIN_NAME.match(seg))


def _segment_kind(seg: str, sender_names: tuple[str, ...]) -> int:
    """_STRONG, _WEAK (a personal name only) or 0 (not a closing element)."""
    if seg in sender_names:
        return _STRONG
    if _PHONE.match(seg) or _EMAIL.match(seg) or _URL.match(seg) or _DATE.match(seg):
        return _STRONG
    if _SALUTATION.match(seg) or _CONTACT_LINE.fullmatch(seg) or _CONTACT_LABEL.match(seg):
        return _STRONG
    if any(c in _STOP_CHARS for c in seg):
        return 0
    if _DEPT.match(seg) or _TITLE.match(seg) or (_COMPANY.search(seg) and len(seg) <= 30):
        return _STRONG
    if _ADDRESS.match(seg):
        return _STRONG
    if _is_person_name(seg) or _SHORT_NUMBER.match(seg):
        return _WEAK
    return 0


def _line_kind(line: str, sender_names: tuple[str, ...]) -> int:
    if len(line) > MAX_CLOSING_CHARS:
        return 0
    if _SALUTATION.match(line) or _COURTESY.match(line) or _DEVICE.match(line) or _CONTACT_LINE.match(line):
        return _STRONG
    if "".join(line.split()) in sender_names:
        return _STRONG
    if ":" in line or "：" in line or _SENTENCE.search(line.rstrip("。.!！")):
        return 0  # "负责人：技术部", a sentence: body text
    kinds = []
    for seg in _SEGMENT_SPLIT.split(line.strip("。.!！")):
        seg = seg.strip()
        if not seg:
            continue
        kind = _segment_kind(seg, sender_names)
        if not kind and " " in seg:  # "星河科技 市场部", "林峰 Frank Lin": words that are each an element
            words = [
                _WEAK if _LATIN_WORD.match(w) else _segment_kind(w, sender_names) for w in _WORDS_SPLIT.split(seg) if w
            ]
            kind = 0 if 0 in words else max(words, default=0)
        if not kind:
            return 0
        kinds.append(kind)
    return max(kinds, default=0)


def _sender_names(sender_name: str) -> tuple[str, ...]:
    name = " ".join(sender_name.split())
    if not name or len(name) > 40:
        return ()
    names = {name, name.replace(" ", "")}
    if _CJK_NAME.match(name.replace(" ", "")) and len(name) >= 3:
        names.add(name.replace(" ", "")[1:])  # 晓宇 for 郭晓宇
    elif " " in name:
        names.update(t for t in name.split() if len(t) >= 2)  # Frank for Frank Lin
    return tuple(n for n in names if n)


def _tail(new_text: str) -> list[tuple[int, str]]:
    """The last non-blank lines, newest first: (start offset, stripped text of at most 200 chars)."""
    tail: list[tuple[int, str]] = []
    end = len(new_text)
    scanned = 0
    while end > 0 and len(tail) < MAX_CLOSING_LINES + 2 and scanned < 200:
        start = new_text.rfind("\n", 0, end) + 1
        text = new_text[start : min(end, start + 200)].strip()
        if text:
            tail.append((start, text))
        scanned += 1
        end = start - 1
    return tail


def find_closing(new_text: str, sender_name: str = "") -> int:
    """Offset where the closing begins in ``new_text`` (``len(new_text)`` when there is none)."""
    names = _sender_names(sender_name)
    tail = _tail(new_text)
    best = len(new_text)
    used = 0
    strong = False
    # A "-- " signature separator starts the closing, whatever short lines follow it.
    for k, (start, text) in enumerate(tail[: MAX_CLOSING_LINES + 1]):
        if _SEPARATOR.match(text):
            after = tail[:k]
            if all(len(t) <= MAX_CLOSING_CHARS and not t.endswith(("：", ":")) for _, t in after):
                best, used, strong = start, k + 1, True
            break
    weak = 0
    for start, text in tail[used:]:
        if used >= MAX_CLOSING_LINES:
            break
        kind = _line_kind(text, names)
        if not kind:
            break
        if kind == _STRONG:
            strong = True
        else:
            weak += 1
        best = start
        used += 1
    if not strong and not (used == 1 and weak == 1):
        return len(new_text)
    return best
