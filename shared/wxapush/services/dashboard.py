"""dashboard: the send log as charts and tables, behind a sign-in with the admin key.

Served over HTTP (``wxapush dev`` at ``/dashboard``; an API-gateway route or a Function URL in
the cloud). Routes are read from the end of the request's path, so the same code answers under
any prefix a gateway puts in front (``/dashboard/…``, ``/release/dashboard/…``, ``/…``):

=========================  ======  ==========================================================
``…/``                     GET     the page (``…/dashboard`` redirects to ``…/dashboard/``)
``…/static/<file>``        GET     its scripts and styles, shipped in the package
``…/login``                POST    ``{"key": <WXAPUSH_ADMIN_KEY>}`` -> a session cookie (the
                                  page's own form, without script: ``key=…`` -> 303 to the page)
``…/logout``               POST    ends the session (``X-CSRF-Token`` required)
``…/api/session``          GET     who is signed in, and the CSRF token
``…/api/summary``          GET     per day and status, top errcodes, per template
``…/api/log``              GET     a page of the send log (status, template_id, touser, dates)
``…/api/user``             GET     a user's messages and grant balances (``openid``)
=========================  ======  ==========================================================

Every answer — its errors included, whichever layer refuses the request — carries a
Content-Security-Policy that allows the page's own files only (no inline script, no other
origin), ``X-Content-Type-Options``, ``X-Frame-Options`` and ``Referrer-Policy``; JSON answers
carry ``Cache-Control: no-store``. The page renders every value of the log as text.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from wxapush.alerts.dashboard_view import alerts as alerts_view
from wxapush.app import App, current_app
from wxapush.errors import InvalidRequest, MethodNotAllowed, ok
from wxapush.invocation import HttpRequest, Invocation, RawResponse
from wxapush.services import dashboard_auth as auth
from wxapush.services import dashboard_data as data

STATIC_DIR = Path(__file__).resolve().parent.parent / "dashboard" / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
JSON_TYPE = "application/json; charset=utf-8"
#: The dashboard's own folder: ``…/dashboard`` redirects to ``…/dashboard/``, nothing else does.
FOLDER = "dashboard"

_STATIC = re.compile(r"/static/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")
_API = re.compile(r"/api/([a-z_]{1,32})$")


def run(inv: Invocation) -> RawResponse:
    """Answer one HTTP request to the dashboard (failures become the usual JSON envelope)."""
    try:
        return _route(inv)
    except _Answer as early:
        return early.response


def _route(inv: Invocation) -> RawResponse:
    http = inv.http
    if http is None:
        raise InvalidRequest("the dashboard is served over HTTP: open its URL in a browser")
    path = http.path or "/"
    app = current_app()
    api = _API.search(path)
    if api is not None:
        return _api(app, http, inv.request, api.group(1))
    static = _STATIC.search(path)
    if static is not None:
        _allow(http, "GET", "HEAD")
        return _static(static.group(1))
    if "/static/" in path or "/api/" in path:
        raise _Answer(_not_found("no such dashboard file or API"))
    if path.endswith("/login"):
        _allow(http, "POST")
        session = auth.sign_in(app, http)
        cookie = auth.session_cookie(http, session)
        if auth.is_form(http):  # the page's form without script: back to the page, signed in
            return _raw(
                "", 303, "text/plain; charset=utf-8", {"Location": "./", "Set-Cookie": cookie}
            )
        body = ok(expires_at=session.expires_at, csrf_token=auth.csrf_token(app, session))
        return _json(body, {"Set-Cookie": cookie})
    if path.endswith("/logout"):
        _allow(http, "POST")
        session = auth.current_session(app, http)
        auth.check_csrf(app, http, session)
        auth.sign_out(app, session)
        return _json(ok(), {"Set-Cookie": auth.session_cookie(http, None)})
    _allow(http, "GET", "HEAD")
    if not path.endswith("/"):
        # The page's links are relative ("static/app.js", "api/summary"): they must resolve
        # under the dashboard's folder. Relative, so a gateway's stage prefix is kept; built
        # from the function's own name, never from the request's text (a "\\evil.com" there
        # would send the browser to another site).
        if path.rsplit("/", 1)[-1] != FOLDER:
            raise _Answer(_not_found("no such dashboard page"))
        return _raw("", 308, "text/plain; charset=utf-8", {"Location": f"{FOLDER}/"})
    return _static("index.html")


def _allow(http: HttpRequest, *methods: str) -> None:
    if http.method not in methods:
        raise MethodNotAllowed(http.method, methods)


class _Answer(Exception):
    """A finished answer that is not a success (404), carried out of a nested call."""

    def __init__(self, response: RawResponse) -> None:
        super().__init__(response.status)
        self.response = response


def _api(app: App, http: HttpRequest, request: Mapping[str, Any], name: str) -> RawResponse:
    _allow(http, "GET", "HEAD")
    views: Dict[str, Callable[[App, Mapping[str, Any]], Dict[str, Any]]] = {
        "summary": data.summary,
        "log": data.log_page,
        "user": data.user_history,
        "alerts": alerts_view,  # wxapush.alerts: the period's alerts
    }
    session = auth.current_session(app, http)
    if name == "session":
        body = ok(
            expires_at=session.expires_at,
            csrf_token=auth.csrf_token(app, session),
            appid=app.settings.appid,
            tz=str(app.settings.tzinfo),
        )
        return _json(body)
    view = views.get(name)
    if view is None:
        raise _Answer(_not_found(f"no dashboard API named {name!r}"))
    return _json(view(app, request))


def _static(name: str) -> RawResponse:
    found = _asset(name)
    if found is None:
        raise _Answer(_not_found(f"no dashboard file named {name!r}"))
    body, content_type = found
    return _raw(body, 200, content_type, {"Cache-Control": "no-cache"})


@lru_cache(maxsize=32)
def _asset(name: str) -> Optional[Tuple[str, str]]:
    content_type = CONTENT_TYPES.get(Path(name).suffix)
    path = STATIC_DIR / name
    if content_type is None or not path.is_file():
        return None
    return path.read_text(encoding="utf-8"), content_type


def _not_found(message: str) -> RawResponse:
    error = InvalidRequest(message)
    text = json.dumps(error.to_result(), ensure_ascii=False)
    return _raw(text, 404, JSON_TYPE, {"Cache-Control": "no-store"})


def _json(body: Dict[str, Any], extra: Optional[Dict[str, str]] = None) -> RawResponse:
    text = json.dumps(body, ensure_ascii=False, allow_nan=False)
    return _raw(text, 200, JSON_TYPE, {"Cache-Control": "no-store", **(extra or {})})


def _raw(
    body: str, status: int, content_type: str, extra: Optional[Dict[str, str]] = None
) -> RawResponse:
    return RawResponse(body, status, content_type, {**SECURITY_HEADERS, **(extra or {})})
