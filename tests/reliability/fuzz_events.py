"""What the fuzzer feeds the functions: hypothesis strategies for every invocation shape.

Events are built from each function's own field names, plausible values (so that fuzzing gets
past the first refusal) and hostile ones: every code point (lone surrogates included), NULs,
non-finite and huge numbers, deep nesting, oversized strings, a dict that holds itself; shapes
are direct calls (a service, or a mini-program user), API-gateway requests (the admin key, a bad
key, a session, none; a source address or none), WeChat-signed and encrypted pushes around a
fuzzed document — any JSON, and WeChat's own events with fuzzed fields, as JSON or XML, so that
the decrypted content reaches the grant ledger and the send log — the dashboard's pages, files
and APIs with fuzzed paths, cookies and sign-in bodies, and timer events.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from typing import Any, Callable, Dict, Tuple

from hypothesis import strategies as st

from wxapush import session
from wxapush.wechat.callback import encrypt, sign
from wxemu import demo

ADMIN_KEY = "fuzz-admin-key-0123456789-0123456789abcdef"
SESSION_SECRET = "fuzz-session-secret-0123456789"
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
    "login": ["code", "appid", "openid"],
    "broadcast": [
        "action", "broadcast_id", "broadcastId", "template_id", "data", "page", "recipients",
        "audience", "miniprogram_state", "lang", "send_at", "touser",
    ],
    "dashboard": [
        "key", "begin_date", "end_date", "status", "template_id", "touser", "openid", "offset",
        "count", "period",
    ],
}  # fmt: skip
#: The dashboard's routes, and paths around them.
DASHBOARD_PATHS = [
    "/dashboard", "/dashboard/", "/release/dashboard/", "/", "/dashboard/login",
    "/dashboard/logout", "/dashboard/api/session", "/dashboard/api/summary", "/dashboard/api/log",
    "/dashboard/api/user", "/dashboard/api/nothing", "/dashboard/static/app.js",
    "/dashboard/static/style.css", "/dashboard/static/../index.html", "/dashboard/\\evil.com",
    "/dashboard//evil.com", "/dashboard/static/", "/dashboard/api/",
]  # fmt: skip
#: Text no store can hold as it is, or that is unlike anything WeChat sends.
NASTY = ["\ud83d", "a\udc00b", "\x00", "a\x00", "🙂", " ", "x" * 5000, "0" * 400]
#: Session cookies of a real sign-in, added by the fuzz environment: the APIs behind the
#: sign-in get fuzzed queries too.
DASHBOARD_COOKIES: list[str] = []
#: The events a push carries, and the fields of their items.
PUSH_EVENTS = [
    "subscribe_msg_popup_event", "subscribe_msg_change_event", "subscribe_msg_sent_event",
    "user_authorization_revoke", "unknown_event",
]  # fmt: skip
TOP_FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "List"]
PUSH_ITEM_FIELDS = [
    "TemplateId", "SubscribeStatusString", "PopupScene", "MsgID", "ErrorCode", "ErrorStatus",
]  # fmt: skip


@functools.cache
def user_session() -> str:
    """A valid session of the demo user (``login``'s own kind), for HTTP calls as that user."""
    return session.issue(demo.APPID, demo.OPENID, SESSION_SECRET, 30 * 86400)


KEYWORDS = ["thing1", "character_string2", "date3", "amount6", "number1", "phrase1", "time1"]
PLAUSIBLE = [
    demo.OPENID, demo.TEMPLATE_ID, demo.LONG_TERM_TEMPLATE_ID, "2026-11-27", "2099-12-31",
    "2026-11-27 10:30", "¥128.00", "SF1234567890", "formal", "developer", "zh_CN", "en_US",
    "pages/index/index?id=1", "sent", "pending", "unknown", "record_subscription", "accept",
    "true", "100", "0", "-1", "", " ", "a ", "٣", "²", "9" * 40, "\ud800", "\x00", "null",
    "create", "status", "cancel", "work", "b-1", "wxcode-0000000000000000000000000001",
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
    if name == "broadcast":
        recipient = st.sampled_from([demo.OPENID, OTHER_OPENID]) | value
        required = {
            "template_id": st.sampled_from([demo.TEMPLATE_ID, demo.LONG_TERM_TEMPLATE_ID]),
            "data": st.fixed_dictionaries({"thing1": st.sampled_from(["x"]) | value}),
        }
        optional = {
            "action": st.sampled_from(["create", "status", "cancel"]) | value,
            "broadcast_id": st.sampled_from(["b-1", "b-2"]) | value,
            "recipients": st.lists(recipient | st.fixed_dictionaries({"touser": recipient})),
            "audience": st.sampled_from([{"granted": True}]) | value,
            "page": value,
        }
        return st.fixed_dictionaries(required, optional=optional)
    if name == "login":
        code = st.sampled_from(["wxcode-0000000000000000000000000001", "x" * 129]) | value
        return st.fixed_dictionaries({"code": code})
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
    methods = ["GET", "POST", "PUT", "HEAD"]
    if name == "dashboard":  # its pages and APIs are GETs
        methods = ["GET", "GET", "GET", *methods]
    method = draw(st.sampled_from(methods) | _hostile_text())
    query = draw(st.dictionaries(st.sampled_from(FIELDS[name]) | _hostile_text(), _scalars()))
    if name == "dashboard" and draw(st.booleans()):
        # the APIs' own parameters with plausible values: the views behind the sign-in run
        good = st.sampled_from(["2026-11-27", "2020-01-01", "20", "0", "sent", demo.OPENID])
        values = st.one_of(good, good, good, st.sampled_from(PLAUSIBLE), _hostile_text())
        query = draw(st.dictionaries(st.sampled_from(FIELDS[name]), values, max_size=5))
    auth = draw(
        st.sampled_from(
            [
                f"Bearer {ADMIN_KEY}",
                "Bearer nope",
                "Session x.y",
                f"Session {user_session()}",
                None,
                None,
            ]
        )
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
    path = f"/{name}"
    if name == "dashboard":
        path = draw(st.sampled_from(DASHBOARD_PATHS) | _hostile_text())
        signed_in = [f"wxapush_dashboard={cookie}" for cookie in DASHBOARD_COOKIES]
        headers["cookie"] = draw(
            st.sampled_from([None, "wxapush_dashboard=1.2.x", "wxapush_dashboard=", *signed_in])
            | st.sampled_from(signed_in or [None])
            | _hostile_text()
        )
        headers["x-csrf-token"] = draw(st.sampled_from([None, "x"]) | _hostile_text())
        headers = {k: v for k, v in headers.items() if v is not None}
    # Mostly a source address of its own (as many callers have), so that the failed-credential
    # buckets do not turn the rest of the run into rate_limited answers; sometimes none.
    source = draw(st.one_of(st.integers(0, 2**24), st.none(), _hostile_text()))
    context: dict[str, Any] = {"path": path, "httpMethod": method, "requestId": "f"}
    if isinstance(source, int):
        context["sourceIp"] = f"10.{source >> 16}.{(source >> 8) & 255}.{source & 255}"
    elif source is not None:
        context["sourceIp"] = source
    event = {
        "httpMethod": method,
        "path": path,
        "headers": headers,
        "queryString": query,
        "body": body,
        "isBase64Encoded": encoded,
        "requestContext": context,
    }
    return "gateway", event, {"request_id": "fuzz", "time_limit_in_ms": 3000}


@st.composite
def _push_document(draw: st.DrawFn) -> Any:
    """Any JSON, or one of WeChat's events with fuzzed fields (what reaches the ledgers)."""
    anything = _json(("ToUserName", "FromUserName", "MsgType", "Event", "CreateTime"))
    if draw(st.integers(0, 3)) == 0:
        return draw(anything)
    nasty = st.sampled_from(NASTY)
    hostile = st.one_of(nasty, nasty, st.sampled_from(PLAUSIBLE), _hostile_text(), _scalars())
    # WeChat's own values, but for one or two fields spoiled: a push gets past its first checks
    # and carries the hostile value as far as the ledgers.
    spoiled = draw(st.sets(st.sampled_from([*TOP_FIELDS, *PUSH_ITEM_FIELDS]), max_size=2))
    # The grant events are the ones whose fields reach the ledger: drawn more often.
    grant_events = st.sampled_from(PUSH_EVENTS[:2])

    def value(name: str, good: st.SearchStrategy[Any]) -> Any:
        return draw(hostile if name in spoiled else good)

    def item() -> dict[str, Any]:
        fields = {
            "TemplateId": value(
                "TemplateId", st.sampled_from([demo.TEMPLATE_ID, demo.LONG_TERM_TEMPLATE_ID])
            ),
            "SubscribeStatusString": value(
                "SubscribeStatusString", st.sampled_from(["accept", "accept", "reject", "ban"])
            ),
            "PopupScene": value("PopupScene", st.sampled_from(["0", "1"])),
            "MsgID": value("MsgID", st.integers(0, 2**64)),
            "ErrorCode": value("ErrorCode", st.sampled_from([0, 43101])),
            "ErrorStatus": value("ErrorStatus", st.sampled_from(["success"])),
        }
        return fields

    items = [item() for _ in range(draw(st.integers(1, 3)))]
    return {
        "ToUserName": value("ToUserName", st.just("gh_123456789abc")),
        "FromUserName": value("FromUserName", st.sampled_from([demo.OPENID, OTHER_OPENID])),
        "CreateTime": value("CreateTime", st.just(int(time.time()))),
        "MsgType": value("MsgType", st.just("event")),
        "Event": value("Event", grant_events | st.sampled_from(PUSH_EVENTS)),
        "List": value("List", st.just(items[0] if len(items) == 1 else items)),
    }


def _xml(document: Any) -> str:
    """A push document as WeChat's XML (``<List>`` repeated for a list); text escaped."""
    from xml.sax.saxutils import escape

    def render(key: str, value: Any) -> str:
        if isinstance(value, list):
            return "".join(render(key, item) for item in value)
        if isinstance(value, dict):
            return f"<{key}>{''.join(render(k, v) for k, v in value.items())}</{key}>"
        return f"<{key}>{escape(str(value))}</{key}>"

    if not isinstance(document, dict):
        return "<xml></xml>"
    safe = {k: v for k, v in document.items() if isinstance(k, str) and k.isidentifier()}
    return f"<xml>{''.join(render(k, v) for k, v in safe.items())}</xml>"


@st.composite
def _signed_push(draw: st.DrawFn) -> Case:
    """A push signed and encrypted as WeChat does, around a fuzzed document."""
    document = draw(_push_document())
    # JSON writes lone surrogates as \ud800 escapes, as a hostile sender would
    as_xml = draw(st.integers(0, 3)) == 0  # WeChat's JSON three times in four
    text = _xml(document) if as_xml else json.dumps(document, allow_nan=True)
    inner = text.encode("utf-8", "surrogatepass")
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
def _dashboard_view(draw: st.DrawFn) -> Case:
    """A signed-in GET of one of the dashboard's APIs with fuzzed parameters: the views run."""
    name = draw(st.sampled_from(["summary", "log", "user", "session"]))
    good = st.sampled_from(["2026-11-27", "2020-01-01", "2099-12-31", "20", "0", "sent"])
    good = good | st.sampled_from([demo.OPENID, demo.TEMPLATE_ID, "7", "30"])
    value = st.one_of(good, good, good, st.sampled_from(PLAUSIBLE), _hostile_text())
    query = draw(st.dictionaries(st.sampled_from(FIELDS["dashboard"]), value, max_size=5))
    cookies = [f"wxapush_dashboard={cookie}" for cookie in DASHBOARD_COOKIES] or [""]
    event = {
        "httpMethod": "GET",
        "path": f"/dashboard/api/{name}",
        "headers": {"cookie": draw(st.sampled_from(cookies))},
        "queryString": query,
        "body": "",
        "isBase64Encoded": False,
        "requestContext": {"sourceIp": "10.255.255.254", "requestId": "f"},
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
        shapes += [_signed_push(), _signed_push()]
    if name == "dashboard":
        shapes += [_gateway(name), _dashboard_view(), _dashboard_view()]
    return st.one_of(*shapes)
