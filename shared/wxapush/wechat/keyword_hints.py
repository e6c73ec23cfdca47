"""What a keyword rule asks for, and what a refused value got wrong, in words a sender can act on.

WeChat's 47003 says only ``argument invalid! data.thing1.value invalid``. The local check knows
more: the rule (:mod:`wxapush.wechat.keywords`) and the value. :func:`explain` turns both into a
hint such as ``thing1: at most 20 characters, got 21``. The hint quotes the value back to its
sender in the answer; it is never logged (message data stays out of the function log).
"""

from __future__ import annotations

import math
import unicodedata
from typing import Mapping, Optional, Sequence

from wxapush.wechat.keywords import EMPTY, keyword_type

#: Each type's rule, as the sendMessage table states it (characters are Unicode code points).
RULES: Mapping[str, str] = {
    "thing": "at most 20 characters",
    "short_thing": "at most 5 characters",
    "number": "digits with an optional decimal point, at most 32 digits, no sign",
    "letter": "1 to 32 ASCII letters",
    "symbol": "1 to 5 symbols (no letters, digits or Chinese)",
    "character_string": "at most 32 letters, digits or symbols (no Chinese)",
    "time": "a time such as 15:01, 2019年10月1日 15:01 or 2019-10-01 15:01 (a range joined by ~)",
    "date": "a date such as 2019年10月1日 or 2019-10-01, optionally with a time (a range "
    "joined by ~)",
    "amount": "a number with an optional currency symbol such as ¥ and an optional 元, "
    "at most 10 digits",
    "phone_number": "at most 17 digits or symbols (no letters or Chinese)",
    "car_number": "a plate of at most 8 letters or digits, Chinese only first and last",
    "name": "at most 10 Chinese characters, or at most 20 letters or symbols (no digits)",
    "phrase": "1 to 5 Chinese characters",
    "enum": "one of the template's values",
    "enum_string": "one of the template's values",
    "const": "at most 200 characters",
}
#: Types whose only limit is a length: the hint counts instead of quoting.
_LENGTH_LIMITS = {"thing": 20, "short_thing": 5, "const": 200}
_QUOTE_MAX = 40


def rule_of(kind: str) -> str:
    """The rule of keyword type (or code) ``kind`` in words."""
    return RULES.get(kind) or RULES.get(keyword_type(kind)) or "at most 200 characters"


def explain(
    key: str,
    kind: str,
    reason: str,
    item: object,
    enum_values: Optional[Sequence[str]] = None,
) -> str:
    """``<key>: <rule>, got <what>`` for a refused keyword; ``item`` is ``data[key]`` as sent."""
    kind = kind or keyword_type(key)
    rule = rule_of(kind)
    if keyword_type(kind) in ("enum", "enum_string") and enum_values is not None:
        shown = ", ".join(enum_values[:10]) + (", …" if len(enum_values) > 10 else "")
        rule = f"one of: {shown}" if enum_values else "a value, but the template lists none"
    if item is None:
        return f"{key}: required by the template ({rule}), but data has no {key}"
    if not isinstance(item, Mapping) or "value" not in item:
        return f'{key}: write {{"value": …}} or a plain value, got {_short(item)}'
    value = item.get("value")
    if reason == EMPTY:
        return f"{key}: {rule}, got an empty value"
    return f"{key}: {rule}, got {_what(kind, value)}"


def _what(kind: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return f"a JSON {_json_type(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return "a number that is not finite"
    text = value if isinstance(value, str) else repr(value)
    char = next((c for c in text if _is_control(c)), None)
    if char is not None:
        return f"{_quote(text)}, which holds the control character U+{ord(char):04X}"
    limit = _LENGTH_LIMITS.get(keyword_type(kind))
    if limit is not None and len(text) > limit:
        return f"{len(text)}"  # "at most 20 characters, got 21"
    return _quote(text)


def explain_data(data: object) -> str:
    """The hint for a ``data`` that is not an object of keywords."""
    return f'data must be an object such as {{"thing1": "…"}}, got {_short(data)}'


def _short(value: object) -> str:
    return _quote(value) if isinstance(value, str) else f"a JSON {_json_type(value)}"


def _is_control(char: str) -> bool:
    # The characters the rules refuse everywhere: C0/C1 controls, line and paragraph
    # separators, lone surrogates.
    return unicodedata.category(char) in ("Cc", "Cs") or char in "\u2028\u2029"


def _quote(text: str) -> str:
    if len(text) > _QUOTE_MAX:
        return repr(text[:_QUOTE_MAX] + "…") + f" ({len(text)} characters)"
    return repr(text)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "null" if value is None else type(value).__name__
