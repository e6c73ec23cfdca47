"""Invocation shapes -> (request, caller); results -> the return value.

An entry point is one line::

    def main_handler(event, context):
        return runtime.invoke(services.send.run, event, context)

Shapes (Tencent's documentation of each):

* **direct** — CloudBase ``callFunction``, SCF Invoke, console test: the event is the request.
  A mini-program user's identity is read from ``context["environment"]`` (a JSON string; the
  ``K=V;K=V`` string ``context["environ"]`` is read too) and fails closed
  (:mod:`wxapush.identity`): any other end user is refused, never a service. The legacy
  ``event["userInfo"]`` must agree but never identifies anyone. Never from ``os.environ``: a
  warm instance's runtime may have copied a previous invocation's identity there.
* **gateway** — API gateway integration request (https://cloud.tencent.com/document/product/583/12513);
  the answer is an integrated response (https://www.tencentcloud.com/document/product/583/40324).
* **function_url** — SCF Function URL (函数 URL) of an event function
  (https://cloud.tencent.com/document/product/583/96099): ``{body, headers, httpMethod, path,
  queryString}`` in, ``{statusCode, headers, body}`` out. Told from the gateway's event by the
  absence of every gateway-only field (``requestContext``, ``isBase64Encoded``…).
* **timer** — ``{"Type": "Timer", "TriggerName", "Time", "Message"}``
  (https://cloud.tencent.com/document/product/583/9708).

``context`` is described at https://cloud.tencent.com/document/product/583/9210 .
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from wxapush import limits, logs
from wxapush.errors import (
    ERROR_CLASSES,
    Forbidden,
    Internal,
    InvalidRequest,
    MethodNotAllowed,
    Unauthorized,
    WxapushError,
    redact,
)
from wxapush.identity import wx_context
from wxapush.invocation import (
    DEFAULT_TIME_LIMIT,
    DIRECT,
    FUNCTION_URL,
    GATEWAY,
    HTTP_SHAPES,
    MAX_BODY_BYTES,
    SERVICE,
    TIMER,
    USER,
    Caller,
    HttpRequest,
    Invocation,
    RawResponse,
)
from wxapush.store.failures import store_failure

__all__ = ["MAX_BODY_BYTES", "Caller", "HttpRequest", "Invocation", "RawResponse", "invoke"]

log = logging.getLogger("wxapush.runtime")

#: Every JSON answer over HTTP is the caller's own, of the moment: no cache may keep it.
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"}
#: Fields only the API gateway's event has; a Function URL's event has none of them.
_GATEWAY_ONLY = (
    "requestContext",
    "isBase64Encoded",
    "queryStringParameters",
    "pathParameters",
    "headerParameters",
)


Service = Callable[[Invocation], Union[Dict[str, Any], RawResponse]]


def invoke(
    service: Service,
    event: Any,
    context: Any,
    *,
    auth: str = "admin",
    raw_body: bool = False,
    methods: Optional[Sequence[str]] = ("POST",),
    request_limit: int = limits.MAX_REQUEST_BYTES,
    headers: Optional[Mapping[str, str]] = None,
) -> Any:
    """Run ``service`` for one SCF/CloudBase invocation and render its result for the shape.

    ``auth="admin"``: an HTTP caller (API gateway or Function URL) must present
    ``Authorization: Bearer <WXAPUSH_ADMIN_KEY>`` (a service; refused when no key is set) or
    ``Authorization: Session <token>`` from ``login`` (that mini-program user).
    ``auth="none"``: HTTP callers arrive ``anonymous`` and the service authenticates them
    (receive_event checks WeChat's signature; login takes a ``wx.login`` code). Direct and timer
    calls are not affected. ``raw_body=True`` (with ``auth="none"``): the body is left unparsed
    for the service to read from ``inv.http.body`` (an XML push is not JSON), and the request
    holds the query. ``methods``: the HTTP methods the function answers; any other gets 405
    with ``Allow`` (``None``: the service routes and checks methods itself, as the dashboard).
    A service may return a :class:`RawResponse` to an HTTP call. ``request_limit``: the
    largest request (compact JSON bytes) a direct or timer call may carry; an HTTP body stays
    bounded by the platform's limit. ``headers``: added to every HTTP answer of the function,
    its errors included (the dashboard's security headers).

    Never raises for a bad event or a failing service: every failure is an envelope.
    """
    if auth not in ("admin", "none"):
        raise ValueError(f"auth must be 'admin' or 'none', not {auth!r}")
    if raw_body and auth != "none":
        raise ValueError("raw_body is for functions that authenticate the request themselves")
    started = time.monotonic()
    ctx: Mapping[str, Any] = context if isinstance(context, Mapping) else {}
    logs.configure()  # once per instance
    name = getattr(service, "__module__", "?").rpartition(".")[2]
    scope = logs.begin(ctx, name)  # every line of the invocation carries its function and id
    try:
        return _invoke(
            service, event, ctx, started, auth, raw_body, methods, request_limit, headers
        )
    finally:
        logs.finish(started, scope)  # the one INFO summary


def _invoke(
    service: Service,
    event: Any,
    ctx: Mapping[str, Any],
    started: float,
    auth: str,
    raw_body: bool,
    methods: Optional[Sequence[str]],
    request_limit: int,
    headers: Optional[Mapping[str, str]],
) -> Any:
    shape = DIRECT
    personal: list[Any] = []  # masked in the log of an unexpected failure
    try:
        if not isinstance(event, dict):
            raise InvalidRequest(f"the event must be a JSON object, not {type(event).__name__}")
        wx = wx_context(event, ctx)
        shape = _shape_of(event, wx)
        logs.note(shape=shape)
        size = limits.check_event(event, limit=max(limits.MAX_EVENT_BYTES, 2 * request_limit))
        _check_identity(wx)
        personal += [event.get("touser"), event.get("toUser"), wx.get("WX_OPENID")]
        personal += _message_texts(event.get("data"))
        deadline = started + _time_limit(ctx)
        allowed = None if methods is None else tuple(methods)
        inv = _parse(shape, event, wx, ctx, deadline, auth, raw_body, allowed)
        if shape != DIRECT or size > request_limit:  # a direct request is the event, walked
            limits.check_request(inv.request, request_limit)
        logs.note(caller=logs.caller_label(inv.caller, service), asked=logs.asked(inv))
        result = service(inv)
        if isinstance(result, RawResponse) and shape in HTTP_SHAPES:
            logs.note(status=result.status)  # a page or a plain-text answer: no envelope
            raw_headers = {"Content-Type": result.content_type, **(result.headers or {})}
            return _http_response(shape, result.status, result.body, raw_headers, headers)
        if not isinstance(result, dict):
            raise TypeError(f"service returned {type(result).__name__}, not a dict")
        body = json.dumps(result, ensure_ascii=False, allow_nan=False)
        logs.note_result(result)
    except WxapushError as error:
        logs.note_result(error.to_result())
        return _render(error.to_result(), shape, error, headers)
    except Exception as exc:
        _log_unexpected(service, ctx, personal)
        failure = store_failure(exc) or Internal("internal error; see the function log")
        logs.note_result(failure.to_result())
        return _render(failure.to_result(), shape, failure, headers)
    if shape in HTTP_SHAPES:
        return _http_response(shape, _status_of(result), body, None, headers)
    return json.loads(body)


# -- parsing ------------------------------------------------------------------------------------


def _shape_of(event: Mapping[str, Any], wx: Mapping[str, str]) -> str:
    # A user's identity is set by the platform, the event's shape by whoever wrote the event:
    # a mini-program user can put {"Type": "Timer"} or "httpMethod" in callFunction's data, and
    # must not become a service that way. So an identified user is always a direct call.
    if "WX_OPENID" in wx:
        return DIRECT
    if "httpMethod" in event:
        return GATEWAY if any(k in event for k in _GATEWAY_ONLY) else FUNCTION_URL
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
    methods: Optional[Tuple[str, ...]] = ("POST",),
) -> Invocation:
    rid = ctx.get("request_id")
    request_id = rid if isinstance(rid, str) else None
    if shape in HTTP_SHAPES:
        from wxapush.http_event import http_invocation  # HTTP calls only: hmac, sessions, base64

        return http_invocation(event, ctx, deadline, request_id, auth, raw_body, shape, methods)
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


def _message_texts(data: Any) -> List[str]:
    """A send's message data (``{"k": "v"}`` or ``{"k": {"value": "v"}}``), for masking."""
    if not isinstance(data, dict):
        return []
    items = (v.get("value") if isinstance(v, dict) else v for v in data.values())
    return [str(v) for v in items if isinstance(v, (str, int, float)) and not isinstance(v, bool)]


def _check_identity(wx: Mapping[str, str]) -> None:
    try:
        limits.check_event(dict(wx), what="identity")
    except InvalidRequest as error:  # fail closed: an unreadable identity identifies nobody
        raise Unauthorized(f"malformed caller identity: {error.errmsg}") from None


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


# -- rendering ----------------------------------------------------------------------------------


def _status_of(result: Mapping[str, Any]) -> int:
    if result.get("errcode", 0) == 0:
        return 200
    cls = ERROR_CLASSES.get(str(result.get("error")))
    return cls.status if cls is not None else 500


def _render(
    result: Dict[str, Any],
    shape: str,
    error: Optional[WxapushError] = None,
    extra: Optional[Mapping[str, str]] = None,
) -> Any:
    try:
        body = json.dumps(result, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        # An extra field that is not JSON (a bug in the raiser): keep the envelope, drop extras.
        log.error("unserializable extras in a %s result; dropped", result.get("error"))
        core = ("errcode", "errmsg", "error", "retryable")
        result = {k: result[k] for k in core if k in result}
        body = json.dumps(result, ensure_ascii=False)
    if shape not in HTTP_SHAPES:
        return json.loads(body)
    status = error.status if error is not None else _status_of(result)
    headers = dict(JSON_HEADERS)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="wxapush", Session realm="wxapush"'
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(error.allowed)
    return _http_response(shape, status, body, headers, extra)


def _http_response(
    shape: str,
    status: int,
    body: str,
    headers: Optional[Dict[str, str]] = None,
    extra: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    # The gateway's integrated response has isBase64Encoded; a Function URL's answer is
    # exactly {statusCode, headers, body}.
    response: Dict[str, Any] = {"isBase64Encoded": False} if shape == GATEWAY else {}
    answer_headers = dict(JSON_HEADERS) if headers is None else headers
    response.update(statusCode=status, headers={**(extra or {}), **answer_headers}, body=body)
    return response


def _log_unexpected(service: Service, ctx: Mapping[str, Any], personal: List[Any]) -> None:
    # The traceback goes to the function log only; exception texts can quote URLs, bodies or
    # settings, so every known secret (store passwords included), every URL's password, the
    # openids and the message data of the request are masked first. Store drivers never quote
    # bound values (hide_parameters).
    from wxapush.config import get_settings

    secrets: Tuple[str, ...] = ()
    if get_settings.cache_info().currsize:  # never load settings just to log
        secrets = get_settings().secrets()
    private = [value for value in personal if isinstance(value, str) and len(value) >= 4]
    text = redact(traceback.format_exc(), *secrets, *private)
    name = getattr(service, "__module__", "?") + "." + getattr(service, "__qualname__", "?")
    log.error("unexpected error in %s (request %s)\n%s", name, ctx.get("request_id"), text)
