"""An HTTP event — the API gateway's or a Function URL's — read into an ``HttpRequest``, a
caller and a request object.

* API gateway: https://cloud.tencent.com/document/product/583/12513
* Function URL (函数 URL), event functions: https://cloud.tencent.com/document/product/583/96099 —
  the gateway's event without ``requestContext``, ``isBase64Encoded``,
  ``queryStringParameters``, ``pathParameters`` and ``headerParameters``.

Callers: ``Authorization: Bearer <WXAPUSH_ADMIN_KEY>`` is a service; ``Authorization: Session
<token>`` (from ``login``) is that mini-program user (:mod:`wxapush.session`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple

from wxapush import credential_guard, session
from wxapush.errors import (
    REQUEST_TOO_LARGE,
    InvalidRequest,
    MethodNotAllowed,
    Unauthorized,
)
from wxapush.invocation import (
    ANONYMOUS,
    GATEWAY,
    MAX_BODY_BYTES,
    SERVICE,
    USER,
    Caller,
    HttpRequest,
    Invocation,
)

if TYPE_CHECKING:
    from wxapush.store.base import Store


def http_invocation(
    event: Mapping[str, Any],
    ctx: Mapping[str, Any],
    deadline: float,
    request_id: Optional[str],
    auth: str,
    raw_body: bool = False,
    shape: str = GATEWAY,
    methods: Optional[Tuple[str, ...]] = ("POST",),
) -> Invocation:
    """The invocation an HTTP event makes: caller (the admin key or a session; anonymous for a
    function that authenticates by itself), headers, query and the body — a JSON object, or raw
    bytes with ``raw_body`` — merged with the query for GET. A method outside ``methods`` is
    :class:`MethodNotAllowed` (405 with ``Allow``); ``None``: the service checks methods itself."""
    method = event.get("httpMethod")
    if not isinstance(method, str) or not method:
        raise InvalidRequest("httpMethod must be a string")
    method = method.upper()
    if methods is not None and method not in methods:
        raise MethodNotAllowed(method, methods)
    headers = _headers(event.get("headers"))
    # Authenticate before reading the body: a stranger learns nothing about it, costs nothing.
    # X-WX-* headers (WeChat Cloud Run's identity) are ignored: anyone can send them here.
    context = event.get("requestContext")
    source_ip = context.get("sourceIp") if isinstance(context, Mapping) else None
    if not isinstance(source_ip, str) or not source_ip:
        source_ip = None
    if auth == "admin":
        caller = _http_caller(headers, source_ip)
    else:
        caller = Caller(ANONYMOUS, source="http")
    query = _query(event)
    body = _body(event)
    path = event.get("path")
    http = HttpRequest(
        method=method,
        path=path if isinstance(path, str) else "/",
        headers=headers,
        query=query,
        body=body,
        source_ip=source_ip,
    )
    if request_id is None and isinstance(context, Mapping):
        rid = context.get("requestId")
        request_id = rid if isinstance(rid, str) else None
    if raw_body:
        return Invocation(dict(query), caller, shape, deadline, http, request_id, ctx)
    request = _json_object(body)
    if method in ("GET", "HEAD"):
        for key, value in query.items():
            if key in request and request[key] != value:
                raise InvalidRequest(f"{key} is given in both the query and the body")
            request.setdefault(key, value)
    return Invocation(request, caller, shape, deadline, http, request_id, ctx)


def _http_caller(headers: Mapping[str, str], source_ip: Optional[str]) -> Caller:
    """The caller a credential proves. A wrong key or a forged session counts as a failed
    credential, and a source that failed too often is refused before its credential is read
    (:mod:`wxapush.credential_guard`)."""
    from wxapush.config import get_settings

    settings = get_settings()
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    scheme, token = scheme.lower(), token.strip()
    if scheme == session.SCHEME and token:
        secrets = settings.resolve_session_secrets()
        store = _guard(settings.appid, source_ip)
        try:
            found = session.verify(token, settings.appid, secrets)
        except session.ForgedSession:
            credential_guard.failed(store, settings.appid, source_ip)
            raise
        return Caller(USER, openid=found.openid, appid=found.appid, source="session")
    if scheme != "bearer" or not token:
        raise Unauthorized(
            "send Authorization: Bearer <WXAPUSH_ADMIN_KEY> (a service) or "
            "Session <token from login> (a mini-program user)"
        )
    keys = settings.admin_keys()
    if not keys:
        raise Unauthorized("HTTP service calls are disabled: WXAPUSH_ADMIN_KEY is not set")
    store = _guard(settings.appid, source_ip)
    given = token.encode("utf-8")
    # Every key is compared (no early exit): the time taken does not say which one matched.
    matches = [hmac.compare_digest(given, key.encode("utf-8")) for key in keys]
    if not any(matches):
        credential_guard.failed(store, settings.appid, source_ip)
        raise Unauthorized("the bearer key is not valid")
    return Caller(SERVICE, source="http")


def _guard(appid: str, source_ip: Optional[str]) -> Store:
    """The shared store, once the source is known not to be locked out."""
    from wxapush.app import current_app

    store = current_app().store
    credential_guard.check(store, appid, source_ip)
    return store


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
