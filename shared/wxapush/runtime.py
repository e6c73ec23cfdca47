"""Invocation shapes -> (request, caller); results -> the return value (DESIGN §4).

An entry point is one line::

    def main_handler(event, context):
        return runtime.invoke(services.send.run, event, context)

Shapes (Tencent's documentation of each):

* **direct** — CloudBase ``callFunction``, SCF Invoke, console test: the event is the request.
  A mini-program user's identity is read from ``context["environment"]`` (a JSON string; the
  ``K=V;K=V`` string ``context["environ"]`` is read too) and the legacy ``event["userInfo"]``
  (https://developers.weixin.qq.com/miniprogram/dev/wxcloud/reference-sdk-api/utils/Cloud.getWXContext.html,
  …/wxcloud/guide/functions/userinfo.html). Never from ``os.environ``: a warm instance's runtime
  may have copied a previous invocation's identity there and never removed it.
* **gateway** — API gateway integration request (https://cloud.tencent.com/document/product/583/12513);
  the answer is an integrated response (https://www.tencentcloud.com/document/product/583/40324).
* **timer** — ``{"Type": "Timer", "TriggerName", "Time", "Message"}``
  (https://cloud.tencent.com/document/product/583/9708).

``context`` is described at https://cloud.tencent.com/document/product/583/9210 .
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from wxapush.errors import (
    ERROR_CLASSES,
    REQUEST_TOO_LARGE,
    Forbidden,
    Internal,
    InvalidRequest,
    Unauthorized,
    WxapushError,
    redact,
)

__all__ = ["MAX_BODY_BYTES", "Caller", "HttpRequest", "Invocation", "RawResponse", "invoke"]

log = logging.getLogger("wxapush.runtime")

#: Largest request body accepted over HTTP; a send request is a few KiB.
MAX_BODY_BYTES = 256 * 1024
#: Assumed time limit when the context does not give one (local runs, tests).
DEFAULT_TIME_LIMIT = 10.0

SERVICE, USER, WECHAT, ANONYMOUS = "service", "user", "wechat", "anonymous"
DIRECT, GATEWAY, TIMER = "direct", "gateway", "timer"

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


@dataclass(frozen=True)
class Caller:
    """Who is calling.

    ``kind``: ``service`` (cloud credentials, the admin key or a timer), ``user`` (a
    mini-program user, ``openid`` set), ``anonymous`` (an HTTP call to a function that
    authenticates by itself, e.g. receive_event, before it has) or ``wechat`` (set by such a
    function once WeChat's signature checks out).
    """

    kind: str
    openid: Optional[str] = None
    appid: Optional[str] = None
    unionid: Optional[str] = None
    source: Optional[str] = None


@dataclass(frozen=True)
class HttpRequest:
    """The HTTP side of a gateway invocation: header names lower-cased, values joined."""

    method: str
    path: str
    headers: Dict[str, str]
    query: Dict[str, str]
    body: bytes
    source_ip: Optional[str] = None

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A header by case-insensitive name."""
        return self.headers.get(name.lower(), default)


@dataclass(frozen=True)
class Invocation:
    """One call: what was asked, by whom, through which shape, and until when."""

    request: Dict[str, Any]
    caller: Caller
    shape: str
    deadline: float
    http: Optional[HttpRequest] = None
    request_id: Optional[str] = None
    context: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def remaining(self) -> float:
        """Seconds left before the platform's time limit (never negative)."""
        return max(0.0, self.deadline - time.monotonic())


@dataclass(frozen=True)
class RawResponse:
    """A gateway answer sent as is, not as a JSON envelope (receive_event's ``success`` or
    echoed ``echostr``, which WeChat reads as plain text)."""

    body: str
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


Service = Callable[[Invocation], Union[Dict[str, Any], RawResponse]]


def invoke(
    service: Service, event: Any, context: Any, *, auth: str = "admin", raw_body: bool = False
) -> Any:
    """Run ``service`` for one SCF/CloudBase invocation and render its result for the shape.

    ``auth="admin"``: an HTTP (gateway) caller must present ``Authorization: Bearer
    <WXAPUSH_ADMIN_KEY>``, and becomes a service; with no key configured HTTP calls are refused.
    ``auth="none"``: HTTP callers arrive ``anonymous`` and the service authenticates them
    (receive_event checks WeChat's signature). Direct and timer calls are not affected.
    ``raw_body=True`` (with ``auth="none"``): the gateway body is left unparsed for the service
    to read from ``inv.http.body`` (an XML push is not JSON), and the request holds the query.
    A service may return a :class:`RawResponse` to a gateway call.

    Never raises for a bad event or a failing service: every failure is an envelope.
    """
    if auth not in ("admin", "none"):
        raise ValueError(f"auth must be 'admin' or 'none', not {auth!r}")
    if raw_body and auth != "none":
        raise ValueError("raw_body is for functions that authenticate the request themselves")
    started = time.monotonic()
    ctx: Mapping[str, Any] = context if isinstance(context, Mapping) else {}
    shape = DIRECT
    try:
        if not isinstance(event, dict):
            raise InvalidRequest(f"the event must be a JSON object, not {type(event).__name__}")
        wx = _wx_context(event, ctx)
        shape = _shape_of(event, wx)
        inv = _parse(shape, event, wx, ctx, started + _time_limit(ctx), auth, raw_body)
        result = service(inv)
        if isinstance(result, RawResponse) and shape == GATEWAY:
            headers = {"Content-Type": result.content_type}
            return _http_response(result.status, result.body, headers)
        if not isinstance(result, dict):
            raise TypeError(f"service returned {type(result).__name__}, not a dict")
        body = json.dumps(result, ensure_ascii=False, allow_nan=False)
    except WxapushError as error:
        log.info("%s: %s errcode=%s", error.slug, error.errmsg, error.errcode)
        return _render(error.to_result(), shape, error)
    except Exception:
        _log_unexpected(service, ctx)
        return _render(Internal("internal error; see the function log").to_result(), shape)
    if shape == GATEWAY:
        return _http_response(_status_of(result), body)
    return json.loads(body)


# -- parsing ------------------------------------------------------------------------------------


def _shape_of(event: Mapping[str, Any], wx: Mapping[str, str]) -> str:
    # A user's identity is set by the platform, the event's shape by whoever wrote the event:
    # a mini-program user can put {"Type": "Timer"} or "httpMethod" in callFunction's data, and
    # must not become a service that way. So an identified user is always a direct call.
    if "WX_OPENID" in wx:
        return DIRECT
    if "httpMethod" in event:
        return GATEWAY
    kind = event.get("Type")
    # Tencent's doc and real logs write "Timer"; the v1 plugin doc writes "timer".
    if isinstance(kind, str) and kind.lower() == "timer":
        return TIMER
    return DIRECT


def _parse(
    shape: str,
    event: Mapping[str, Any],
    wx: Mapping[str, str],
    ctx: Mapping[str, Any],
    deadline: float,
    auth: str,
    raw_body: bool = False,
) -> Invocation:
    rid = ctx.get("request_id")
    request_id = rid if isinstance(rid, str) else None
    if shape == GATEWAY:
        return _gateway(event, ctx, deadline, request_id, auth, raw_body)
    if shape == TIMER:
        return _timer(event, ctx, deadline, request_id)
    request = {k: v for k, v in event.items() if k != "userInfo"}
    if "WX_OPENID" in wx:
        caller = Caller(
            USER,
            openid=wx["WX_OPENID"],
            appid=wx.get("WX_APPID"),
            unionid=wx.get("WX_UNIONID"),
            source=wx.get("WX_SOURCE"),
        )
        _check_app(caller)
    else:
        caller = Caller(SERVICE, source=wx.get("WX_SOURCE"))
    return Invocation(request, caller, DIRECT, deadline, None, request_id, ctx)


def _check_app(caller: Caller) -> None:
    from wxapush.config import get_settings

    # An openid is only meaningful for its own AppID: a user of another mini program (a shared
    # CloudBase environment) is identified, but has no business with this app's messages.
    appid = get_settings().appid
    if caller.appid is not None and caller.appid != appid:
        raise Forbidden("the caller belongs to another mini program (WX_APPID differs)")


def _time_limit(ctx: Mapping[str, Any]) -> float:
    raw = ctx.get("time_limit_in_ms")
    try:
        limit = float(raw) / 1000.0 if raw is not None and not isinstance(raw, bool) else 0.0
    except (TypeError, ValueError):
        limit = 0.0
    return limit if 0 < limit < 86400 else DEFAULT_TIME_LIMIT


def _timer(
    event: Mapping[str, Any], ctx: Mapping[str, Any], deadline: float, request_id: Optional[str]
) -> Invocation:
    request: Dict[str, Any] = {}
    for key, name in (("TriggerName", "trigger"), ("Time", "time"), ("Message", "message")):
        value = event.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidRequest(f"timer event field {key} must be a string")
        request[name] = value
    return Invocation(
        request, Caller(SERVICE, source="timer"), TIMER, deadline, None, request_id, ctx
    )


# -- identity -----------------------------------------------------------------------------------


def _wx_context(event: Mapping[str, Any], ctx: Mapping[str, Any]) -> Dict[str, str]:
    """The invocation's ``WX_*`` identity (empty: none), read from the invocation only.

    Every channel the platform may use is read: ``context.environment`` (JSON),
    ``context.environ`` (``K=V;K=V``) and the legacy ``event.userInfo``; they must agree.
    """
    sources: List[Tuple[str, Dict[str, str]]] = []
    for key, parser in (("environment", _parse_json_env), ("environ", _parse_kv_env)):
        raw = ctx.get(key)
        if raw is None or raw == "":
            continue
        values = raw if isinstance(raw, Mapping) else parser(raw)
        if values is None:
            # Unreadable: it may hold a user's identity, so the caller cannot be a service.
            raise Unauthorized(f"context {key} is unreadable; caller identity unknown")
        sources.append((f"context {key}", _wx_fields(values, f"context {key}")))
    info = event.get("userInfo")
    if info is not None:
        if not isinstance(info, Mapping):
            raise Unauthorized("event userInfo is not an object; caller identity unknown")
        legacy = {
            "WX_OPENID": info.get("openId"),
            "WX_APPID": info.get("appId"),
            "WX_UNIONID": info.get("unionId"),
        }
        sources.append(("event userInfo", _wx_fields(legacy, "event userInfo")))
    merged: Dict[str, str] = {}
    for _, values in sources:
        for key, value in values.items():
            if key in ("WX_OPENID", "WX_APPID") and merged.get(key, value) != value:
                # Two platform channels disagree on who is calling: nobody is identified.
                raise Unauthorized("conflicting caller identities in the invocation")
            merged.setdefault(key, value)
    return merged


def _wx_fields(values: Mapping[str, Any], where: str) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for key in ("WX_OPENID", "WX_APPID", "WX_UNIONID", "WX_SOURCE"):
        value = values.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or value != value.strip() or not value:
            raise Unauthorized(f"{where} {key} is malformed; caller identity unknown")
        found[key] = value
    return found


def _parse_json_env(raw: Any) -> Optional[Dict[str, Any]]:
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text.startswith("{"):
        # Not JSON: some runtimes hand over the K=V;K=V form here too.
        return _parse_kv_env(text)
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _parse_kv_env(raw: Any) -> Optional[Dict[str, str]]:
    if not isinstance(raw, str):
        return None
    values: Dict[str, str] = {}
    for item in raw.split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            return None
        values[key.strip()] = value
    return values


# -- API gateway --------------------------------------------------------------------------------


def _gateway(
    event: Mapping[str, Any],
    ctx: Mapping[str, Any],
    deadline: float,
    request_id: Optional[str],
    auth: str,
    raw_body: bool = False,
) -> Invocation:
    method = event.get("httpMethod")
    if not isinstance(method, str) or not method:
        raise InvalidRequest("httpMethod must be a string")
    method = method.upper()
    headers = _headers(event.get("headers"))
    # Authenticate before reading the body: a stranger learns nothing about it, costs nothing.
    # X-WX-* headers (WeChat Cloud Run's identity) are ignored: anyone can send them here.
    caller = _http_caller(headers) if auth == "admin" else Caller(ANONYMOUS, source="http")
    query = _query(event)
    body = _body(event)
    context = event.get("requestContext")
    source_ip = context.get("sourceIp") if isinstance(context, Mapping) else None
    path = event.get("path")
    http = HttpRequest(
        method=method,
        path=path if isinstance(path, str) else "/",
        headers=headers,
        query=query,
        body=body,
        source_ip=source_ip if isinstance(source_ip, str) else None,
    )
    if request_id is None and isinstance(context, Mapping):
        rid = context.get("requestId")
        request_id = rid if isinstance(rid, str) else None
    if raw_body:
        return Invocation(dict(query), caller, GATEWAY, deadline, http, request_id, ctx)
    request = _json_object(body)
    if method in ("GET", "HEAD"):
        for key, value in query.items():
            if key in request and request[key] != value:
                raise InvalidRequest(f"{key} is given in both the query and the body")
            request.setdefault(key, value)
    return Invocation(request, caller, GATEWAY, deadline, http, request_id, ctx)


def _http_caller(headers: Mapping[str, str]) -> Caller:
    from wxapush.config import get_settings

    key = get_settings().admin_key
    if not key:
        raise Unauthorized("HTTP service calls are disabled: WXAPUSH_ADMIN_KEY is not set")
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <WXAPUSH_ADMIN_KEY>")
    if not hmac.compare_digest(token.strip().encode("utf-8"), key.encode("utf-8")):
        raise Unauthorized("the bearer key is not valid")
    return Caller(SERVICE, source="http")


def _headers(raw: Any) -> Dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidRequest("headers must be an object")
    headers: Dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str):
            raise InvalidRequest("header names must be strings")
        values = value if isinstance(value, list) else [value]
        texts = [_scalar_text(v, f"header {name}") for v in values if v is not None]
        if not texts:
            continue
        key = name.lower()
        # RFC 9110 §5.3: repeated fields combine with commas; Cookie uses "; " (RFC 6265 §5.4).
        sep = "; " if key == "cookie" else ", "
        headers[key] = sep.join([headers[key], *texts]) if key in headers else sep.join(texts)
    return headers


def _query(event: Mapping[str, Any]) -> Dict[str, str]:
    raw = event.get("queryString")
    if raw is None:
        raw = event.get("queryStringParameters")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidRequest("queryString must be an object")
    query: Dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, list):
            # Which of two values counts differs between parsers (and between a signature
            # check and the code after it): refuse instead of picking one.
            if len(value) != 1:
                raise InvalidRequest(f"query parameter {name} is given more than once")
            value = value[0]
        query[str(name)] = "" if value is None else _scalar_text(value, f"query parameter {name}")
    return query


def _scalar_text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise InvalidRequest(f"{what} must be a string")


def _body(event: Mapping[str, Any]) -> bytes:
    raw = event.get("body")
    if raw is None or raw == "":
        return b""
    if not isinstance(raw, str):
        raise InvalidRequest("body must be a string")
    # Refuse before decoding anything: base64 text is 4/3 of its bytes.
    if len(raw) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise _too_large()
    if event.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("body is marked isBase64Encoded but is not base64") from None
    else:
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from a lenient decoder upstream
            raise InvalidRequest("body is not valid UTF-8") from None
    if len(data) > MAX_BODY_BYTES:
        raise _too_large()
    return data


def _too_large() -> InvalidRequest:
    return InvalidRequest(f"body is larger than {MAX_BODY_BYTES} bytes", errcode=REQUEST_TOO_LARGE)


def _json_object(body: bytes) -> Dict[str, Any]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest("body is not valid UTF-8") from None
    if not text.strip():
        return {}
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise InvalidRequest("body is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"body must be a JSON object, not {_json_kind(value)}")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


# -- rendering ----------------------------------------------------------------------------------


def _status_of(result: Mapping[str, Any]) -> int:
    if result.get("errcode", 0) == 0:
        return 200
    cls = ERROR_CLASSES.get(str(result.get("error")))
    return cls.status if cls is not None else 500


def _render(result: Dict[str, Any], shape: str, error: Optional[WxapushError] = None) -> Any:
    try:
        body = json.dumps(result, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        # An extra field that is not JSON (a bug in the raiser): keep the envelope, drop extras.
        log.error("unserializable extras in a %s result; dropped", result.get("error"))
        core = ("errcode", "errmsg", "error", "retryable")
        result = {k: result[k] for k in core if k in result}
        body = json.dumps(result, ensure_ascii=False)
    if shape != GATEWAY:
        return json.loads(body)
    status = error.status if error is not None else _status_of(result)
    headers = dict(JSON_HEADERS)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="wxapush"'
    return _http_response(status, body, headers)


def _http_response(
    status: int, body: str, headers: Optional[Dict[str, str]] = None
) -> Dict[str, Any]:
    return {
        "isBase64Encoded": False,
        "statusCode": status,
        "headers": dict(JSON_HEADERS) if headers is None else headers,
        "body": body,
    }


def _log_unexpected(service: Service, ctx: Mapping[str, Any]) -> None:
    # The traceback goes to the function log only; exception texts can quote URLs, bodies or
    # settings, so every known secret and credential pattern is masked first.
    from wxapush.config import get_settings

    secrets: Tuple[str, ...] = ()
    if get_settings.cache_info().currsize:  # never load settings just to log
        secrets = get_settings().secrets()
    text = redact(traceback.format_exc(), *secrets)
    name = getattr(service, "__module__", "?") + "." + getattr(service, "__qualname__", "?")
    log.error("unexpected error in %s (request %s)\n%s", name, ctx.get("request_id"), text)
