"""Bounds on every request, whatever shape it came in: size, depth, and what a value may be.

The gateway already bounds an HTTP body (``MAX_BODY_BYTES``); a direct call (CloudBase
``callFunction``, SCF Invoke) hands over its event as a parsed object, so the same bound is
applied here to the request itself, once per invocation, before any service reads it. The walk
is iterative (no recursion to exhaust) and refuses what no store or JSON document can hold:

* more than ``MAX_REQUEST_BYTES`` of JSON, or containers nested deeper than ``MAX_DEPTH``;
* a container that holds itself;
* a string with a lone UTF-16 surrogate or a NUL, a non-finite number, an integer beyond
  ``±2**64``, an object key that is not a string, or a value JSON has no type for.

A refusal is ``invalid_request`` naming the path of the offending value (``data.thing1.value``),
never the value itself (it may be anything, a secret included).
"""

from __future__ import annotations

import math
from typing import Any, List, Mapping, Optional, Tuple, Union

from wxapush.errors import REQUEST_TOO_LARGE, InvalidArgument, InvalidRequest
from wxapush.invocation import MAX_BODY_BYTES

#: The largest request, as compact UTF-8 JSON: the HTTP body limit, for every shape.
MAX_REQUEST_BYTES = MAX_BODY_BYTES
#: The deepest nesting of objects and arrays in a request (a send's is 3: data.item.value).
MAX_DEPTH = 16
#: The largest integer magnitude (WeChat's msgid is unsigned 64-bit; nothing needs more).
MAX_INT = 2**64
#: A whole event (request plus the platform's envelope: headers, context…), before parsing.
MAX_EVENT_BYTES = 2 * MAX_BODY_BYTES
#: ``send``'s data: at most this many items, each key and each value this long at most.
MAX_DATA_ITEMS = 32
MAX_DATA_KEY = 64
MAX_DATA_VALUE = 256

_SCALARS = (str, int, float, bool, type(None))


def check_event(event: Any, *, limit: int = MAX_EVENT_BYTES, what: str = "event") -> int:
    """Refuse an event (or request) no service may be handed: see the module docstring.

    Returns its size (an upper bound of its compact JSON, in bytes).
    """
    size = 0
    # (value, where, the ids of the containers above it): a container among its own ancestors
    # is a cycle. A container shared by two branches is walked (and counted) twice. ``where``
    # is (parent's where, key or index), rendered into a path only for an error message.
    stack: List[Tuple[Any, Where, Tuple[int, ...]]] = [(event, None, ())]
    while stack:
        value, where, above = stack.pop()
        if isinstance(value, str):
            size += _string_size(value, what, where) + 2
        elif isinstance(value, bool) or value is None:
            size += 5
        elif isinstance(value, int):
            if not -MAX_INT <= value <= MAX_INT:
                raise InvalidRequest(
                    f"{_path(what, where)} is out of range (at most 2**64 in magnitude)"
                )
            size += 21
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidRequest(f"{_path(what, where)} must be a finite number")
            size += 24
        elif isinstance(value, (dict, list, tuple)):
            if len(above) >= MAX_DEPTH:
                raise InvalidRequest(
                    f"{_path(what, where)} is nested deeper than {MAX_DEPTH} levels"
                )
            if id(value) in above:
                raise InvalidRequest(
                    f"{_path(what, where)} refers back to itself (not a JSON document)"
                )
            inner = (*above, id(value))
            size += 2
            if isinstance(value, dict):
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise InvalidRequest(f"{_path(what, where)} has a key that is not a string")
                    # ASCII text without a NUL (most keys and values): its length is its size.
                    if key.isascii() and "\x00" not in key:
                        size += len(key) + 4
                    else:
                        size += _string_size(key, what, (where, key)) + 4
                    if type(item) is str and item.isascii() and "\x00" not in item:
                        size += len(item) + 2  # a leaf: no need to stack it
                        if size > limit:
                            raise _too_large(what, limit)
                    else:
                        stack.append((item, (where, key), inner))
            else:
                for index, item in enumerate(value):
                    stack.append((item, (where, index), inner))
                size += len(value)
        else:
            raise InvalidRequest(
                f"{_path(what, where)} is not a JSON value ({type(value).__name__})"
            )
        if size > limit:
            raise _too_large(what, limit)
    return size


def _too_large(what: str, limit: int) -> InvalidRequest:
    return InvalidRequest(f"the {what} is larger than {limit} bytes", errcode=REQUEST_TOO_LARGE)


#: Where a value sits: None at the top, else (its container's Where, its key or index).
Where = Optional[Tuple[Any, Union[str, int]]]


def _path(what: str, where: Where) -> str:
    steps: List[Union[str, int]] = []
    while where is not None:
        where, step = where
        steps.append(step)
    rendered = (f"[{s}]" if isinstance(s, int) else f".{_label(s)}" for s in reversed(steps))
    return what + "".join(rendered)


def check_request(request: Mapping[str, Any], limit: int = MAX_REQUEST_BYTES) -> None:
    """The parsed request a service gets: ``MAX_REQUEST_BYTES`` at most, every shape alike
    (a function may allow more to its direct callers: broadcast's recipient lists)."""
    check_event(request, limit=limit, what="request")


def check_send_data(data: Any) -> None:
    """``send``'s data: an object of at most ``MAX_DATA_ITEMS`` items, each exactly
    ``{"value": scalar}`` or a scalar, keys and values bounded. Refusals are WeChat's
    ``invalid_argument`` (47003) naming the field, as for a keyword rule."""
    if not isinstance(data, dict):
        from wxapush.wechat.keyword_hints import explain_data

        raise InvalidArgument(
            "argument invalid! data must be an object", field="data", hint=explain_data(data)
        )
    if len(data) > MAX_DATA_ITEMS:
        raise InvalidArgument(
            f"argument invalid! data has more than {MAX_DATA_ITEMS} items", field="data"
        )
    for key, item in data.items():
        name = f"data.{_label(key)}"
        if not key or len(key) > MAX_DATA_KEY:
            raise InvalidArgument(
                f"argument invalid! {name}: a keyword is 1 to {MAX_DATA_KEY} characters",
                field=name,
            )
        value = item
        if isinstance(item, dict):
            if set(item) != {"value"}:
                extra = sorted(set(item) - {"value"}) or ["value (missing)"]
                raise InvalidArgument(
                    f'argument invalid! {name} must be exactly {{"value": …}};'
                    f" unexpected {_label(extra[0])}",
                    field=name,
                    hint=f'send {name} as {{"value": "…"}} or as the plain value; subscribe '
                    "messages have no other item fields (no color)",
                )
            value = item["value"]
        if not isinstance(value, _SCALARS):
            raise InvalidArgument(
                f"argument invalid! {name}.value must be a string or a number",
                field=f"{name}.value",
            )
        if isinstance(value, str) and len(value) > MAX_DATA_VALUE:
            raise InvalidArgument(
                f"argument invalid! {name}.value is longer than {MAX_DATA_VALUE} characters",
                field=f"{name}.value",
            )


def _string_size(value: str, what: str, where: Where) -> int:
    if "\x00" in value:
        raise InvalidRequest(f"{_path(what, where)} contains a NUL character")
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidRequest(
            f"{_path(what, where)} is not valid Unicode (a lone surrogate)"
        ) from None


def _label(key: Any) -> str:
    """A key as it may appear in an error message: printable, short, never a surrogate."""
    text = str(key)[:40].encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else "?" for c in text)
