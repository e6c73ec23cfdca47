"""Reading a request's fields: snake_case or camelCase, typed, with precise errors."""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Optional

from wxapush.errors import InvalidRequest

_MISSING = object()


def pick(request: Mapping[str, Any], *names: str) -> Any:
    """The value under the first of ``names`` present; the spellings must agree when both are."""
    found = [(name, request[name]) for name in names if name in request]
    if not found:
        return None
    first_name, value = found[0]
    for name, other in found[1:]:
        if other != value:
            raise InvalidRequest(f"{first_name} and {name} disagree; send one of them")
    return value


#: The longest identifier (openid, template id, idempotency key…) a request may carry: far above
#: WeChat's own (28- and 43-character ids), and within every store's indexed columns.
MAX_ID = 128


def text(
    request: Mapping[str, Any], *names: str, required: bool = False, limit: int = MAX_ID
) -> Optional[str]:
    """A string field of at most ``limit`` characters (empty counts as absent)."""
    value = pick(request, *names)
    if value is None or value == "":
        if required:
            raise InvalidRequest(f"{names[0]} is required")
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{names[0]} must be a string")
    if len(value) > limit:
        raise InvalidRequest(f"{names[0]} is longer than {limit} characters")
    return value


def integer(
    request: Mapping[str, Any], *names: str, default: int, low: int, high: Optional[int] = None
) -> int:
    """An integer field within ``[low, high]``; digit strings are accepted (query strings)."""
    value = pick(request, *names)
    if value is None:
        return default
    # ASCII digits only ("٣" and "²" pass str.isdigit), and few enough to convert.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{names[0]} must be an integer")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidRequest(f"{names[0]} must be {bound}")
    return value


def flag(request: Mapping[str, Any], *names: str) -> bool:
    """A boolean field; ``"true"``/``"false"`` are accepted (query strings)."""
    value = pick(request, *names)
    if value is None:
        return False
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise InvalidRequest(f"{names[0]} must be true or false")
    return value


def wechat_items(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as WeChat takes it: each item ``{"value": text}``, a plain value wrapped.

    WeChat refuses a JSON number as a value (47003, observed), so a number is sent as its JSON
    text (``12.5`` as ``"12.5"``, ``7`` as ``"7"``). A bool is left as it is and refused locally
    (``true`` is no text a card should show); so is anything else that is not a finite number.
    """
    items: dict[str, Any] = {}
    for key, item in data.items():
        if not isinstance(item, dict):
            item = {"value": item}
        value = item.get("value")
        if _finite_number(value):
            item = {**item, "value": json.dumps(value)}
        items[key] = item
    return items


def _finite_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
