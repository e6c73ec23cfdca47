"""The one entry point for a request, shared by in-process callers and the HTTP server.

``dispatch`` finds the route, applies queued faults, checks method and token, counts the call
against the app's daily quota, runs the handler under the state lock and renders the answer the
way WeChat does: HTTP 200, ``Content-Type: application/json; encoding=utf-8``, and on error
``{"errcode": N, "errmsg": "<text> rid: xxxxxxxx-xxxxxxxx-xxxxxxxx"}``.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from typing import Any, Mapping, Optional, Union
from urllib.parse import parse_qsl

from . import ids, robots, scf, ssm  # noqa: F401  (scf: registers its Cloud API action)
from .call import Call, ControlError
from .errors import WeChatError
from .models import Fault
from .quota import charge
from .routes import CONTROL_PREFIX, CONTROL_ROUTES, ROUTES_BY_LOWER_PATH, WECHAT_ROUTES
from .state import Emulator

Response = tuple[int, dict[str, str], bytes]

JSON_TYPE = "application/json; encoding=utf-8"
PLAIN_TYPE = "text/plain"
#: The answer of a ``drop`` fault: the server closes the connection without writing anything.
DROPPED: Response = (0, {}, b"")
_HEADERS = {"Content-Type": JSON_TYPE}
#: Marks an answer the server must write as a hostile upstream would (``kind;interval_ms``).
HOSTILE_HEADER = "X-Wxemu-Hostile"


def dispatch(
    emulator: Emulator,
    method: str,
    path: str,
    query: Union[str, Mapping[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> Response:
    """Answer one request: ``(status, headers, body)``.

    ``query`` is the raw query string or an already parsed mapping (first value wins, as
    WeChat's front end reads it).
    """
    method = method.upper()
    params = _parse_query(query) if isinstance(query, str) else query
    call = Call(emulator, method, path, params, headers, body)
    if path.startswith(CONTROL_PREFIX):
        return _control(call)
    if ssm.is_cloud_api_call(path, headers):
        return ssm.answer(emulator, method, headers, body)
    robot = robots.robot_of(path)
    if robot is not None:  # the group robots' webhooks (wxemu.robots)
        status, payload = robots.answer(emulator, robot[0], robot[1], params, body)
        return _render(status, payload, emulator, False)
    route = WECHAT_ROUTES.get(path)
    if route is None and path.lower() in ROUTES_BY_LOWER_PATH:
        # Observed: /sns/jsCode2Session answers 40066 invalid url.
        return _error(emulator, WeChatError(40066))
    if route is None:
        # WeChat answers unknown paths with an HTTP 404; the JSON body is wxemu's own.
        return _render(404, {"errcode": 404, "errmsg": f"wxemu: no API at {path}"}, emulator, True)
    fault = emulator.take_fault(path)
    if fault is not None:
        if fault.delay_ms > 0:
            time.sleep(fault.delay_ms / 1000)
        if fault.status is not None:
            text = f"<html><body>{fault.status}</body></html>".encode()
            return fault.status, {"Content-Type": "text/html"}, text
        if fault.errcode is not None:
            return _error(emulator, WeChatError(fault.errcode, fault.errmsg))
    try:
        with emulator.lock:
            if route.post_only and method != "POST":
                raise WeChatError(43002)
            if route.needs_token:
                call.app = emulator.authenticate(params.get("access_token"))
                charge(call.app, path, emulator.clock)
            result = route.handler(call)
    except WeChatError as exc:
        return _spoiled(fault, _error(emulator, exc, route.plain_errors))
    except Exception:  # WeChat answers its own failures as -1 system error
        traceback.print_exc(file=sys.stderr)
        return _spoiled(fault, _error(emulator, WeChatError(-1)))
    for work in call.after:
        work()
    if fault is not None and fault.drop:
        return DROPPED
    return _spoiled(fault, _render(200, result, emulator, False))


def _spoiled(fault: Optional[Fault], response: Response) -> Response:
    """The answer, marked for the server to write the hostile way when the fault says so (in
    process, callers see the marker beside the answer it spoils)."""
    if fault is None or fault.hostile is None:
        return response
    status, headers, payload = response
    return status, {**headers, HOSTILE_HEADER: f"{fault.hostile};{fault.interval_ms}"}, payload


def _control(call: Call) -> Response:
    if call.path == CONTROL_PREFIX and call.method == "GET":
        return _render(200, {"actions": _actions()}, call.emulator, False)
    handler = CONTROL_ROUTES.get((call.method, call.path))
    try:
        if handler is None:
            allowed = sorted(method for method, path in CONTROL_ROUTES if path == call.path)
            if allowed:
                status, headers, body = _render(
                    405,
                    {"error": f"{call.path} takes {' or '.join(allowed)}, not {call.method}"},
                    call.emulator,
                    False,
                )
                return status, {**headers, "Allow": ", ".join(allowed)}, body
            raise ControlError(
                404, f"no control action {call.method} {call.path}; GET {CONTROL_PREFIX} lists them"
            )
        result = handler(call)
    except ControlError as exc:
        return _render(exc.status, {"error": exc.message}, call.emulator, False)
    return _render(200, result, call.emulator, False)


def _actions() -> list[dict[str, str]]:
    """The control plane's actions, each with the first line of its handler's docstring."""
    return [
        {"method": method, "path": path, "doc": (handler.__doc__ or "").strip().splitlines()[0]}
        for (method, path), handler in CONTROL_ROUTES.items()
    ]


def _error(emulator: Emulator, exc: WeChatError, plain: bool = False) -> Response:
    payload = {"errcode": exc.errcode, "errmsg": exc.errmsg}
    if not plain:
        return _render(200, payload, emulator, True)
    # jscode2session's own form (observed): "invalid code, rid: …", served as text/plain.
    payload["errmsg"] = f"{exc.errmsg}, rid: {ids.rid(emulator.clock.now())}"
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return 200, {"Content-Type": PLAIN_TYPE}, text.encode("utf-8")


def _render(status: int, payload: dict[str, Any], emulator: Emulator, rid: bool) -> Response:
    if rid:
        payload["errmsg"] = f"{payload['errmsg']} rid: {ids.rid(emulator.clock.now())}"
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return status, dict(_HEADERS), text.encode("utf-8")


def _parse_query(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, value)
    return params
