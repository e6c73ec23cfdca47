"""The dashboard's sign-in: the admin key exchanged for a signed, expiring session cookie.

The key travels once, in a POST body, and is never put in a URL, a cookie or browser storage.
The cookie holds ``<issued ms>.<expires s>.<mac>``: an HMAC under a key derived from
``WXAPUSH_ADMIN_KEY``, so rotating the admin key ends every session, and no session table is
needed. Sign-out ends every session issued before it (there is one operator identity, the
admin key's): the instant is kept in the shared store, read on each request. A wrong key and
a forged cookie are failed credentials, throttled per source address and per app in the buckets
every function shares (:mod:`wxapush.credential_guard`), so guessing the key is slow however
many instances answer and whichever function is asked. ``WXAPUSH_ADMIN_KEY_PREVIOUS`` signs in
too, and its sessions stay valid, while a rotation is under way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from wxapush import credential_guard
from wxapush.app import App
from wxapush.errors import Forbidden, InvalidRequest, Unauthorized
from wxapush.invocation import HttpRequest
from wxapush.store.base import TokenRecord

COOKIE = "wxapush_dashboard"
CSRF_HEADER = "x-csrf-token"
#: How long a session lasts (seconds); the cookie's Max-Age says the same.
SESSION_TTL = 8 * 3600
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
#: The page's own form, posted when script is off (or not loaded yet).
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Session:
    issued_ms: int
    expires_at: int
    cookie: str


def _derived_key(admin_key: str, purpose: str) -> bytes:
    label = f"wxapush dashboard {purpose} v1".encode()
    return hmac.new(admin_key.encode("utf-8"), label, hashlib.sha256).digest()


def _mac(admin_key: str, purpose: str, message: str) -> str:
    digest = hmac.new(_derived_key(admin_key, purpose), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _admin_key(app: App) -> str:
    key = app.settings.admin_key
    if not key:
        raise Unauthorized("the dashboard is disabled: WXAPUSH_ADMIN_KEY is not set")
    return key


def _admin_keys(app: App) -> tuple[str, ...]:
    """The current key (which signs new sessions) and the previous one, during a rotation."""
    _admin_key(app)
    return app.settings.admin_keys()


def _signed_out_key(app: App) -> str:
    return f"dashboard-signed-out:{app.settings.appid}"


def sign_in(app: App, http: HttpRequest) -> Session:
    """Check the key in the JSON body ``{"key": …}`` (throttled); a new session if it matches."""
    keys = _admin_keys(app)
    admin_key = keys[0]
    appid = app.settings.appid
    credential_guard.check(app.store, appid, http.source_ip, app_wide=True)
    given = _key_from(http).encode("utf-8")
    if not any([hmac.compare_digest(given, key.encode("utf-8")) for key in keys]):
        credential_guard.failed(app.store, appid, http.source_ip)
        raise Unauthorized("the admin key is not valid")
    issued_ms = int(time.time() * 1000)
    expires_at = issued_ms // 1000 + SESSION_TTL
    message = f"{issued_ms}.{expires_at}"
    return Session(issued_ms, expires_at, f"{message}.{_mac(admin_key, 'session', message)}")


def current_session(app: App, http: HttpRequest) -> Session:
    """The valid session the request's cookie carries; ``unauthorized`` otherwise (a forged
    cookie counts as a failed credential)."""
    keys = _admin_keys(app)
    value = cookies(http).get(COOKIE)
    if not value:
        raise Unauthorized("sign in to the dashboard first")
    credential_guard.check(app.store, app.settings.appid, http.source_ip)
    issued, _, rest = value.partition(".")
    expires, _, mac = rest.partition(".")
    given = mac.encode("ascii", "replace")
    well_formed = issued.isdigit() and expires.isdigit() and len(issued) < 16 and len(expires) < 13
    macs = [_mac(key, "session", f"{issued}.{expires}").encode("ascii") for key in keys]
    if not well_formed or not any([hmac.compare_digest(given, m) for m in macs]):
        credential_guard.failed(app.store, app.settings.appid, http.source_ip)
        raise Unauthorized("the dashboard session is not valid; sign in again")
    if int(expires) <= time.time():
        raise Unauthorized("the dashboard session has expired; sign in again")
    signed_out = app.store.tokens.get_token(_signed_out_key(app))
    if signed_out is not None and int(issued) <= signed_out.fetched_at * 1000:
        raise Unauthorized("the dashboard session was signed out; sign in again")
    return Session(int(issued), int(expires), value)


def csrf_token(app: App, session: Session) -> str:
    """The token a state change must echo in ``X-CSRF-Token`` (another site cannot read it)."""
    return _mac(_admin_key(app), "csrf", session.cookie)


def check_csrf(app: App, http: HttpRequest, session: Session) -> None:
    """Refuse a state change that does not prove it comes from the dashboard's own page."""
    given = http.header(CSRF_HEADER) or ""
    if not hmac.compare_digest(given.encode("ascii", "replace"), csrf_token(app, session).encode()):
        raise Unauthorized("missing or wrong X-CSRF-Token: reload the dashboard")


def sign_out(app: App, session: Session) -> None:
    """End this session and every one issued before it, on every instance."""
    now = time.time()
    record = TokenRecord(token="signed-out", expires_at=now + SESSION_TTL, fetched_at=now)
    app.store.tokens.put_token(_signed_out_key(app), record)


def session_cookie(http: HttpRequest, session: Optional[Session]) -> str:
    """The Set-Cookie value: the session, or (``None``) one that deletes it."""
    value, age = (session.cookie, SESSION_TTL) if session else ("", 0)
    # No Path: the browser scopes the cookie to the dashboard's own folder (/dashboard),
    # whatever prefix a gateway or a Function URL puts in front of it.
    parts = [f"{COOKIE}={value}", f"Max-Age={age}", "HttpOnly", "SameSite=Strict"]
    if is_https(http):
        parts.append("Secure")
    return "; ".join(parts)


def is_https(http: HttpRequest) -> bool:
    """Whether the browser reached us over HTTPS: always, except plain HTTP on this machine.

    Behind an API gateway or a Function URL the browser speaks HTTPS; only the local stack
    (``wxapush dev``, a loopback Host) is plain HTTP, where a Secure cookie would be dropped.
    """
    proto = (http.header("x-forwarded-proto") or "").split(",")[0].strip().lower()
    if proto:
        return proto == "https"
    host = (http.header("host") or "").lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name not in _LOCAL_HOSTS


def cookies(http: HttpRequest) -> Dict[str, str]:
    """The request's cookies by name (the first of a repeated name wins, as RFC 6265 orders)."""
    found: Dict[str, str] = {}
    for item in (http.header("cookie") or "").split(";"):
        name, sep, value = item.strip().partition("=")
        if sep and name and name not in found:
            found[name] = value.strip()
    return found


def is_form(http: HttpRequest) -> bool:
    """A sign-in posted by the page's form (no script): answered with a redirect to the page."""
    return (http.header("content-type") or "").split(";")[0].strip().lower() == FORM_TYPE


def _same_origin(http: HttpRequest) -> None:
    """Any site can post a form here, so a form is taken from the dashboard's own page only:
    the browser says so (``Sec-Fetch-Site``), or its ``Origin`` is this host."""
    from urllib.parse import urlsplit

    if (http.header("sec-fetch-site") or "").strip().lower() == "same-origin":
        return
    origin, host = http.header("origin"), (http.header("host") or "").strip().lower()
    if origin and host and urlsplit(origin.strip()).netloc.lower() == host:
        return
    raise Forbidden("a sign-in form is accepted from the dashboard's own page only")


def _key_from(http: HttpRequest) -> str:
    content_type = (http.header("content-type") or "").split(";")[0].strip().lower()
    if content_type == FORM_TYPE:
        from urllib.parse import parse_qs

        _same_origin(http)
        try:
            fields = parse_qs(http.body.decode("utf-8"), max_num_fields=4)
        except (UnicodeDecodeError, ValueError):
            raise InvalidRequest("the sign-in form is not valid") from None
        posted = (fields.get("key") or [""])[0]
        if not posted:
            raise InvalidRequest("key must be a non-empty string")
        return posted
    # Else JSON: a cross-site script cannot send it without the browser asking us first (CORS).
    if content_type != "application/json":
        raise InvalidRequest('sign in with a JSON body {"key": …} (Content-Type: application/json)')
    try:
        body: Any = json.loads(http.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the sign-in body is not valid JSON") from None
    key = body.get("key") if isinstance(body, Mapping) else None
    if not isinstance(key, str) or not key:
        raise InvalidRequest("key must be a non-empty string")
    return key
