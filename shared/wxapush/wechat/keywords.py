"""Keyword value rules of WeChat subscribe messages, and the 47003 errmsg forms.

The rules are the table "订阅消息参数值内容限制说明" of sendMessage
(https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_sendmessage.html),
read together with what WeChat answered to real requests and the errmsg forms it uses; where the
doc is silent the reading is marked "undocumented" below. The emulator uses
them to answer 47003 and the sender uses them to refuse a send locally, so both agree.

Readings chosen where the doc is silent (each is also noted where it is applied):

- Characters are counted as Unicode code points: one Chinese character is 1 (observed: 20 accepted,
  21 refused). An emoji is a "symbol" and counts one per code point (undocumented).
- Letters and digits are ASCII; "symbol" is any other printable character that is not Chinese.
- A missing value, ``None``, ``""`` or whitespace only is ``"empty"``; WeChat's only two answers
  are "is empty" and "invalid", and a blank keyword is what a card with no value shows.
- Where the evidence is thin the reading that does not refuse what real senders send wins,
  because a false local refusal blocks a message WeChat would deliver.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Callable, Mapping, Optional, Sequence

from wxapush.lazy_pattern import LazyPattern

__all__ = [
    "EMPTY",
    "INVALID",
    "KNOWN_TYPES",
    "KeywordProblem",
    "check_data",
    "check_value",
    "keyword_type",
    "parse_template_content",
]

EMPTY = "empty"
INVALID = "invalid"
#: WeChat's 47003 errmsg keeps this many characters of the detail after "argument invalid! ".
DETAIL_MAX = 30


# "不能带有换行等控制字符": C0/C1 controls, Unicode line/paragraph separators, and lone
# surrogates (a JSON "\ud83d" decodes to one and cannot be re-encoded as UTF-8).
_CTRL = r"\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"
# CJK ideographs: the basic block, extension A, compatibility, and the supplementary planes.
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# "1个币种符号": $ ¢ £ ¥, the Currency Symbols block (€ ₩ ₹ ₽ …) and their full-width forms.
_CURRENCY = r"$\u00a2\u00a3\u00a5\u20a0-\u20bf\ufe69\uff04\uffe0\uffe1\uffe5\uffe6"

# Each pattern is compiled by its first use: a cold send pays only for the types it checks.
_CONTROL_RE = LazyPattern(f"[{_CTRL}]")
_HAS_HAN_RE = LazyPattern(f"[{_HAN}]")
_LETTER_RE = LazyPattern(r"[A-Za-z]{1,32}")
_SYMBOL_RE = LazyPattern(f"[^{_CTRL}{_HAN}A-Za-z0-9]{{1,5}}")
_CHARACTER_STRING_RE = LazyPattern(f"[^{_CTRL}{_HAN}]{{1,32}}")
_PHONE_RE = LazyPattern(f"[^{_CTRL}{_HAN}A-Za-z]{{1,17}}")
_PHRASE_RE = LazyPattern(f"[{_HAN}]{{1,5}}")
# First and last may be Chinese, the rest letters or digits, 8 at most (粤A8Z888挂).
_CAR_RE = LazyPattern(f"[{_HAN}A-Za-z0-9](?:[A-Za-z0-9]{{0,6}}[{_HAN}A-Za-z0-9])?")
_NAME_RE = LazyPattern(f"[^{_CTRL}0-9]+")
_NUMBER_RE = LazyPattern(r"[0-9]+(?:\.[0-9]+)?")
_AMOUNT_RE = LazyPattern(f"[{_CURRENCY}]?([0-9]+)(?:\\.([0-9]+))?元?")
# One point in time: an optional date (y年m月d日 | y年m月 | m月d日 | y-m-d | y-m | m-d, with - / .
# as separator and unpadded numbers, per the table's notes and observed answers), then an
# optional H:MM or H:MM:SS.
_POINT_RE = LazyPattern(
    r"(?:(?:(?:(?P<cy>[0-9]{4})年)?(?P<cm>[0-9]{1,2})月(?:(?P<cd>[0-9]{1,2})日)?"
    r"|(?P<ny>[0-9]{4})(?P<s>[-/.])(?P<nm>[0-9]{1,2})(?:(?P=s)(?P<nd>[0-9]{1,2}))?"
    r"|(?P<pm>[0-9]{1,2})[-/.](?P<pd>[0-9]{1,2}))(?P<sp> *))?"
    r"(?:(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2})(?::(?P<se>[0-9]{2}))?)?"
)
_PLACEHOLDER_RE = LazyPattern(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*?)\.DATA\s*\}\}")

_DATE, _TIME = 1, 2
# Not a WeChat rule: a guard for types whose limits nobody has published (undocumented), so that an
# unknown type still refuses control characters and absurd lengths but nothing a sender means.
_SANITY_MAX = 200

_Rule = Callable[[str, Optional[Sequence[str]]], bool]


def _point(text: str) -> int:
    """_DATE | _TIME for what one point of a time/date value holds; 0 when it is malformed."""
    m = _POINT_RE.get().fullmatch(text)
    if m is None:
        return 0
    year, month, day = m.group("cy", "cm", "cd")
    if month is None:
        year, month, day = m.group("ny", "nm", "nd")
    if month is None:
        month, day = m.group("pm", "pd")
    hour, minute, second = m.group("h", "mi", "se")
    kind = (_DATE if month is not None else 0) | (_TIME if hour is not None else 0)
    if kind == 0:
        return 0
    if month is not None:
        if year is None and day is None:  # "10月" alone is none of the documented forms
            return 0
        try:  # month and day in range; 2000 is a leap year, so a yearless 2月29日 passes
            date(int(year or 2000), int(month), int(day or 1))
        except ValueError:
            return 0
        # A time follows a whole date after a space ("2019年10月1日 15:01"; the space may be
        # left out after 日 only, where nothing is ambiguous). A bare date has no trailing space.
        sp = m.group("sp")
        if hour is None and sp:
            return 0
        if hour is not None and (day is None or not (sp or text[m.end("sp") - 1] == "日")):
            return 0
    if hour is not None and not (int(hour) <= 23 and int(minute) <= 59 and int(second or 0) <= 59):
        return 0
    return kind


def _moment(text: str, need: int) -> bool:
    """A time or date value: one point, or two joined by an ASCII "~" (table and observations).

    The first point must hold what the type names (a time for ``time``, a date for ``date``);
    the second may be shorter, as in the accepted "2021年10月25日 09:00~09:30". Full-width "～"
    and "-" between times are refused (observed) simply because no point contains them. Spaces
    around "~" are tolerated: undocumented, and common in hand-written ranges.
    """
    parts = text.split("~")
    if len(parts) == 1:
        return bool(_point(text) & need)
    if len(parts) != 2:
        return False
    return bool(_point(parts[0].rstrip(" ")) & need) and _point(parts[1].lstrip(" ")) != 0


def _number(text: str, _: Sequence[str] | None) -> bool:
    # "32位以内数字，只能数字，可带小数": the point is the only non-digit allowed (no sign), and
    # the 32 counts digits, not the point.
    return _NUMBER_RE.get().fullmatch(text) is not None and len(text) - ("." in text) <= 32


def _amount(text: str, _: Sequence[str] | None) -> bool:
    # "1个币种符号+10位以内纯数字，可带小数，结尾可带元": the symbol is read as optional: senders
    # commonly write "100.00元", no observation (observed) shows it refused, and the exact check is
    # unpublished (undocumented). The 10 counts every digit, decimals included, as number's 32 does.
    m = _AMOUNT_RE.get().fullmatch(text)
    return m is not None and len(m.group(1)) + len(m.group(2) or "") <= 10


def _name(text: str, _: Sequence[str] | None) -> bool:
    # "10个以内纯汉字或20个以内纯字母或符号；中文和字母混合按中文名算": any Chinese makes the
    # limit 10; digits are neither letters nor symbols.
    if _NAME_RE.get().fullmatch(text) is None:
        return False
    return len(text) <= (10 if _HAS_HAN_RE.get().search(text) else 20)


def _enum(text: str, allowed: Sequence[str] | None) -> bool:
    # "只能上传枚举值范围内的字段值": with the list unknown (template not synced) membership cannot
    # be judged, so only the sanity guard applies; an empty list known allows nothing.
    return len(text) <= _SANITY_MAX if allowed is None else text in allowed


def _sanity(text: str, _: Sequence[str] | None) -> bool:
    return len(text) <= _SANITY_MAX


_RULES: dict[str, _Rule] = {
    "thing": lambda t, _: len(t) <= 20,
    # short_thing is not in the table and its limit is undocumented: thing's character set with
    # a limit of 5 is a guess from the name; keep it here so one line changes if it is wrong.
    "short_thing": lambda t, _: len(t) <= 5,
    "number": _number,
    "letter": lambda t, _: _LETTER_RE.get().fullmatch(t) is not None,
    "symbol": lambda t, _: _SYMBOL_RE.get().fullmatch(t) is not None,
    "character_string": lambda t, _: _CHARACTER_STRING_RE.get().fullmatch(t) is not None,
    "time": lambda t, _: _moment(t, _TIME),
    "date": lambda t, _: _moment(t, _DATE),
    "amount": _amount,
    "phone_number": lambda t, _: _PHONE_RE.get().fullmatch(t) is not None,
    "car_number": lambda t, _: _CAR_RE.get().fullmatch(t) is not None,
    "name": _name,
    # "5个以内纯汉字": digits refused (observed: "111"), Chinese punctuation too.
    "phrase": lambda t, _: _PHRASE_RE.get().fullmatch(t) is not None,
    # enum_string is the enum of the send table under the name getTemplateList uses (undocumented).
    "enum": _enum,
    "enum_string": _enum,
    # const (Official Account templates) has no published rule (undocumented): sanity guard only.
    "const": _sanity,
}

KNOWN_TYPES: frozenset[str] = frozenset(_RULES)


def keyword_type(code: str) -> str:
    """The keyword type of a template code: ``"thing12"`` -> ``"thing"``.

    Accepts ``"thing1.DATA"``. Trailing digits are stripped and nothing else, since types hold
    underscores (``character_string3``); an unknown prefix comes back as it is.
    """
    return _code(code).rstrip("0123456789")


def check_value(kind: str, value: object, enum_values: Sequence[str] | None = None) -> str | None:
    """``None`` if ``value`` obeys the rule of type ``kind``, else ``"empty"`` or ``"invalid"``.

    Rules: https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_sendmessage.html
    Values are strings: WeChat refuses a JSON number with 47003 (observed: ``{"amount5":
    {"value": 656887888.0}}``), so a number, bool, list or object is invalid (the layer sends a
    number as its JSON text, see ``wxapush.services.fields.wechat_items``). ``enum_values``
    applies to ``enum``/``enum_string`` only. A kind given as a code (``"thing1"``) is resolved
    by its prefix; an unknown kind gets only the control-character and length sanity checks.
    """
    if value is None:
        return EMPTY
    if not isinstance(value, str):
        return INVALID
    text = value
    if not text or text.isspace():
        return EMPTY
    if _CONTROL_RE.get().search(text):
        return INVALID
    rule = _RULES.get(kind)
    if rule is None:
        rule = _RULES.get(keyword_type(kind), _sanity)
    return None if rule(text, enum_values) else INVALID


@dataclass(frozen=True)
class KeywordProblem:
    """The first keyword that breaks a rule, named the way WeChat names it in a 47003."""

    key: str
    reason: str

    @property
    def field(self) -> str:
        return f"data.{self.key}.value"

    def errmsg(self) -> str:
        """WeChat's 47003 errmsg without the `` rid: …`` suffix.

        WeChat cuts the detail after ``argument invalid! `` at 30 characters (observed:
        ``data.character_string1.value i``, ``data.car_number12.value is emp``).
        """
        detail = f"{self.field} {'is empty' if self.reason == EMPTY else 'invalid'}"
        return f"argument invalid! {detail[:DETAIL_MAX]}"


def check_data(
    data: object,
    keywords: Sequence[tuple[str, str]] | None = None,
    enum_values: Mapping[str, Sequence[str]] | None = None,
) -> KeywordProblem | None:
    """The first problem of a subscribe ``data`` object, in template order, or ``None``.

    Rules: https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_sendmessage.html
    ``keywords`` is the template's ``(code, type)`` list in order; without it every key of
    ``data`` is checked by the type its prefix names. A key missing (``thing1.DATA`` does not
    count as ``thing1``), an item that is not ``{"value": …}`` and ``data`` that is not an object
    are all "is empty", as WeChat answers (observed). Keys outside the template are not
    judged (undocumented); extra fields inside an item (``color``) are fine.
    """
    enums = enum_values or {}
    if keywords is None:
        if not isinstance(data, Mapping):
            return KeywordProblem(_guess_first_key(data), EMPTY)
        pairs: Sequence[tuple[str, str]] = [(_code(str(k)), "") for k in data]
    else:
        pairs = keywords
        if not isinstance(data, Mapping):
            return KeywordProblem(_code(pairs[0][0]) if pairs else _guess_first_key(data), EMPTY)
    for raw_code, kind in pairs:
        code = _code(raw_code)
        item = data.get(code)
        value = item.get("value") if isinstance(item, Mapping) else None
        allowed = enums.get(code)
        if allowed is None:
            allowed = enums.get(code + ".DATA")
        reason = check_value(kind or keyword_type(code), value, allowed)
        if reason is not None:
            return KeywordProblem(code, reason)
    return None


def parse_template_content(content: str) -> list[tuple[str, str]]:
    """``(code, type)`` of each ``{{code.DATA}}`` in a template's ``content``, in order, once each.

    Format: getTemplateList, https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_getwxapubnewtemplate.html
    """
    seen: dict[str, str] = {}
    for code in _PLACEHOLDER_RE.get().findall(content):
        seen.setdefault(code, keyword_type(code))
    return list(seen.items())


def _code(key: str) -> str:
    return key[:-5] if key.endswith(".DATA") else key


def _guess_first_key(data: object) -> str:
    # With no template, WeChat's "first template key" is unknowable; a JSON-encoded object
    # (the usual mistake) most likely lists the template's keys, so its first key is named.
    # Anything else gets "data", which at least points at the field that is wrong.
    if isinstance(data, str):
        try:
            decoded = json.loads(data)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and decoded:
            return _code(str(next(iter(decoded))))
    return "data"
