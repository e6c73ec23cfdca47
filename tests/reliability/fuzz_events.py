"""What the fuzzer feeds the functions: hypothesis strategies for every invocation shape.

Events are built from each function's own field names, plausible values (so that fuzzing gets
past the first refusal) and hostile ones: every code point (lone surrogates included), NULs,
non-finite and huge numbers, deep nesting, oversized strings, a dict that holds itself; shapes
are direct calls (a service, or a mini-program user), API-gateway requests (the admin key, a bad
key, none), WeChat-signed and encrypted pushes around a fuzzed document, and timer events.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from typing import Any, Callable, Dict, Tuple

from hypothesis import strategies as st

from wxapush.wechat.callback import encrypt, sign
from wxemu import demo

ADMIN_KEY = "fuzz-admin-key-0123456789-0123456789abcdef"
CALLBACK_TOKEN = "fuzz-callback-token"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
OTHER_OPENID = "oOther-000000000000000000000"
Case = Tuple[str, Dict[str, Any], Dict[str, Any]]

FIELDS = {
    "send": [
        "touser", "toUser", "template_id", "templateId", "page", "data", "miniprogram_state",
        "miniprogramState", "lang", "idempotency_key", "idempotencyKey", "action", "result",
        "formId", "emphasisKeyword",
    ],
    "send_log": [
        "begin_date", "end_date", "beginDate", "endDate", "offset", "count", "touser",
        "template_id", "status",
    ],
    "get_token": ["force_refresh"],
    "refresh_code": ["TriggerName", "Time", "Message"],
    "receive_event": [
        "signature", "timestamp", "nonce", "echostr", "encrypt_type", "msg_signature",
    ],
}  # fmt: skip
KEYWORDS = ["thing1", "character_string2", "date3", "amount6", "number1", "phrase1", "time1"]
PLAUSIBLE = [
    demo.OPENID, demo.TEMPLATE_ID, demo.LONG_TERM_TEMPLATE_ID, "2026-11-27", "2099-12-31",
    "2026-11-27 10:30", "¥128.00", "SF1234567890", "formal", "developer", "zh_CN", "en_US",
    "pages/index/index?id=1", "sent", "pending", "unknown", "record_subscription", "accept",
    "true", "100", "0", "-1", "", " ", "a ", "٣", "²", "9" * 40, "\ud800", "\x00", "null",
]  # fmt: skip


#: Values that pass the checks of some field: they carry a fuzzed request past the first refusal.
SAFE = ["2026-11-27", "2020-01-01", "2099-12-31", "0", "20", 5, 100, "sent", demo.OPENID, True]


@functools.cache
def _hostile_text() -> st.SearchStrategy[str]:
    # Every code point, lone surrogates (category Cs) included.
    return st.text(st.characters(codec=None, categories=None), max_size=40)


@functools.cache
def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.just([]),
        st.just({}),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.floats(allow_nan=True, allow_infinity=True),
        _hostile_text(),
        st.sampled_from(PLAUSIBLE),
    )


@functools.cache
def _json(keys: Tuple[str, ...]) -> st.SearchStrategy[Any]:
    """JSON-like values, nested; built once per key set (a strategy is costly to build)."""
    key = st.one_of(st.sampled_from(keys or ("k",)), _hostile_text())
    return st.recursive(
        _scalars(),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=4),
            st.dictionaries(key, inner, min_size=1, max_size=4),
        ),
        max_leaves=12,
    )


def _data() -> st.SearchStrategy[Any]:
    value = st.one_of(_scalars(), st.sampled_from(PLAUSIBLE))
    item = st.one_of(value, st.fixed_dictionaries({"value": value}), _json(("value", "color")))
    return st.one_of(st.dictionaries(st.sampled_from(KEYWORDS), item, max_size=5), _json(()))


def _self_holding() -> dict[str, Any]:
    data: dict[str, Any] = {"thing1": {"value": "x"}}
    data["thing1"]["again"] = data
    return {"touser": demo.OPENID, "template_id": demo.TEMPLATE_ID, "data": data}


def _deep() -> dict[str, Any]:
    value: Any = "x"
    for _ in range(3000):
        value = {"value": value}
    return {"data": {"thing1": value}, "begin_date": value}


SPECIALS: list[Callable[[], dict[str, Any]]] = [
    _self_holding,
    _deep,
    lambda: {"touser": "x" * 400_000},
    lambda: {"data": {f"thing{i}": "y" * 300 for i in range(1000)}},
    lambda: {"begin_date": "9999-12-31", "end_date": "9999-12-31", "count": "9" * 5000},
]


def _plausible(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """A request that passes the first checks, so that fuzzing reaches the deeper paths."""
    safe = st.sampled_from(SAFE)
    value = st.one_of(safe, safe, safe, st.sampled_from(PLAUSIBLE), _scalars())
    if name == "send":
        fine = {
            "thing1": st.sampled_from(["手机保护壳", "x"]) | value,
            "character_string2": st.sampled_from(["SF1234567890"]) | value,
            "date3": st.sampled_from(["2026-11-27 10:30"]),
            "amount6": st.sampled_from(["¥128.00"]) | value,
        }
        required = {
            "touser": st.just(demo.OPENID),
            "template_id": st.sampled_from([demo.TEMPLATE_ID, demo.LONG_TERM_TEMPLATE_ID]),
            "data": st.fixed_dictionaries(fine),
        }
        optional = {
            "page": st.sampled_from(["pages/index/index?id=1"]) | value,
            "lang": st.sampled_from(["zh_CN", "en_US"]) | value,
            "miniprogram_state": st.sampled_from(["formal", "trial"]) | value,
            "idempotency_key": st.sampled_from(["k1", "k2", "k1 "]) | value,
        }
        return st.fixed_dictionaries(required, optional=optional)
    if name == "send_log":
        dates = st.sampled_from(["2026-11-27", "2020-01-01", "2099-12-31"]) | value
        required = {"begin_date": dates, "end_date": dates}
        optional = {k: value for k in ("offset", "count", "touser", "template_id", "status")}
        return st.fixed_dictionaries(required, optional=optional)
    return st.fixed_dictionaries({}, optional={k: value for k in FIELDS[name]})


def _request(name: str) -> st.SearchStrategy[dict[str, Any]]:
    keys = FIELDS[name]
    values = st.one_of(_scalars(), _json(tuple(keys)), _data() if name == "send" else st.none())
    fuzzed = st.dictionaries(st.one_of(st.sampled_from(keys), _hostile_text()), values, max_size=8)
    specials = st.sampled_from(SPECIALS).map(lambda make: make())
    return st.one_of(fuzzed, _plausible(name), _plausible(name), specials)


def _context(user: bool, openid: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {"request_id": "fuzz", "time_limit_in_ms": 3000}
    if user:
        ctx["environment"] = json.dumps({"WX_OPENID": openid, "WX_APPID": demo.APPID})
    return ctx


@st.composite
def _direct(draw: st.DrawFn, name: str) -> Case:
    user = draw(st.booleans())
    openid = draw(st.sampled_from([demo.OPENID, demo.OPENID, OTHER_OPENID]))
    openid = draw(st.one_of(st.just(openid), st.just(openid), _hostile_text()))
    return "direct", draw(_request(name)), _context(user, openid)


@st.composite
def _gateway(draw: st.DrawFn, name: str) -> Case:
    request = draw(_request(name))
    method = draw(st.sampled_from(["GET", "POST", "PUT", "HEAD"]) | _hostile_text())
    query = draw(st.dictionaries(st.sampled_from(FIELDS[name]) | _hostile_text(), _scalars()))
    auth = draw(
        st.sampled_from([f"Bearer {ADMIN_KEY}", "Bearer nope", "Session x.y", None])
        | _hostile_text()
    )
    try:
        body: Any = json.dumps(request, allow_nan=True)
    except (ValueError, RecursionError):
        body = "{"
    body = draw(st.sampled_from([body, body, None, "", "<xml><a>1</a></xml>"]) | _hostile_text())
    encoded = draw(st.booleans())
    if encoded and isinstance(body, str):
        body = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
    headers: dict[str, Any] = {"content-type": "application/json"}
    if auth is not None:
        headers["authorization"] = auth
    event = {
        "httpMethod": method,
        "path": f"/{name}",
        "headers": headers,
        "queryString": query,
        "body": body,
        "isBase64Encoded": encoded,
        "requestContext": {"path": f"/{name}", "httpMethod": method, "requestId": "f"},
    }
    return "gateway", event, {"request_id": "fuzz", "time_limit_in_ms": 3000}


@st.composite
def _signed_push(draw: st.DrawFn) -> Case:
    """A push signed and encrypted as WeChat does, around a fuzzed document."""
    document = draw(_json(("ToUserName", "FromUserName", "MsgType", "Event", "CreateTime")))
    inner = json.dumps(document, allow_nan=True).encode("utf-8", "surrogatepass")
    cipher = encrypt(inner, AES_KEY, demo.APPID)
    stamp, nonce = str(int(time.time())), draw(st.sampled_from(["1", "22", "333"]))
    query = {
        "timestamp": stamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sign(CALLBACK_TOKEN, stamp, nonce, cipher),
    }
    event = {
        "httpMethod": "POST",
        "path": "/receive_event",
        "headers": {"content-type": "application/json"},
        "queryString": query,
        "body": json.dumps({"Encrypt": cipher}),
        "isBase64Encoded": False,
    }
    return "gateway", event, {"request_id": "fuzz", "time_limit_in_ms": 3000}


@st.composite
def _timer(draw: st.DrawFn, name: str) -> Case:
    event = {"Type": draw(st.sampled_from(["Timer", "timer"]))}
    for key in ("TriggerName", "Time", "Message"):
        event[key] = draw(_scalars())
    return "timer", event, {"request_id": "fuzz"}


def events(name: str) -> st.SearchStrategy[Case]:
    """Every shape an invocation of ``name`` can take."""
    shapes = [_direct(name), _gateway(name), _timer(name)]
    if name == "receive_event":
        shapes.append(_signed_push())
    return st.one_of(*shapes)
