"""Fixtures for the functions against wxemu: a real server, a fresh store, a clean instance."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings
from wxemu import demo, quota
from wxemu.gateway import Handler, load_handler
from wxemu.testing import RunningServer

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "test-admin-key-0123456789"
_handlers: dict[str, Handler] = {}


def handler(name: str) -> Handler:
    """The real ``functions/<name>/index.py`` entry point."""
    if name not in _handlers:
        _handlers[name] = load_handler(ROOT / "functions" / name / "index.py")
    return _handlers[name]


@pytest.fixture
def env(
    wxemu: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The environment of a deployed function, pointed at wxemu and a fresh sqlite store."""
    values = {
        "WXAPUSH_APPID": demo.APPID,
        "WXAPUSH_APPSECRET": demo.SECRET,
        "WXAPUSH_API_BASE": wxemu.base_url,
        "WXAPUSH_STORE": f"sqlite:///{tmp_path / 'wxapush.db'}",
        "WXAPUSH_ADMIN_KEY": ADMIN_KEY,
    }
    for name in list(os.environ):
        if name.startswith("WXAPUSH_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_app()
    yield values
    reset_app()
    reset_settings()


def context(openid: Optional[str] = None, time_limit_ms: int = 10_000) -> dict[str, Any]:
    """An SCF context; with ``openid``, a mini-program user's call (CloudBase callFunction)."""
    environment = {"WX_OPENID": openid, "WX_APPID": demo.APPID} if openid else {}
    return {
        "request_id": "req-test",
        "function_name": "test",
        "time_limit_in_ms": time_limit_ms,
        "memory_limit_in_mb": 128,
        "environment": json.dumps(environment),
    }


Invoke = Callable[..., Any]


@pytest.fixture
def invoke(env: dict[str, str]) -> Invoke:
    """``invoke("send", event, openid=None)``: a direct call of the real entry point."""

    def call(name: str, event: Any, openid: Optional[str] = None, **ctx: Any) -> Any:
        return handler(name)(event, context(openid, **ctx))

    return call


def gateway_event(
    method: str, path: str, body: Any = None, key: Optional[str] = ADMIN_KEY, query: Any = None
) -> dict[str, Any]:
    """An API-gateway event as Tencent delivers it."""
    headers = {"content-type": "application/json", "host": "service-x.gz.apigw.tencentcs.com"}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    raw = body if isinstance(body, str) else ("" if body is None else json.dumps(body))
    return {
        "httpMethod": method,
        "path": path,
        "headers": headers,
        "queryString": query or {},
        "queryStringParameters": query or {},
        "body": raw,
        "isBase64Encoded": False,
        "requestContext": {
            "serviceId": "service-x",
            "path": path,
            "httpMethod": method,
            "requestId": "r1",
            "sourceIp": "10.0.0.1",
            "stage": "release",
        },
    }


def token_fetches(wxemu: RunningServer, path: str = "/cgi-bin/stable_token") -> int:
    """How many times the demo app asked WeChat for a token in this test (wxemu is reset per
    test); not today's quota, which restarts when a moved clock crosses WeChat's midnight."""
    return quota.calls_made(wxemu.emulator.app(demo.APPID), path)


def send_event(**overrides: Any) -> dict[str, Any]:
    """A valid send request for the demo user and template (shorthand data)."""
    event: dict[str, Any] = {
        "touser": demo.OPENID,
        "template_id": demo.TEMPLATE_ID,
        "page": "pages/order/detail?id=42",
        "data": {
            "thing1": "手机保护壳",
            "character_string2": "SF1234567890",
            "date3": "2026-11-27 10:30",
            "amount6": "¥128.00",
        },
    }
    event.update(overrides)
    return event


def log_records(**filters: Any) -> list[Any]:
    """Every send-log record of the demo app (white box)."""
    from wxapush.store.base import LogQuery

    query = LogQuery(appid=demo.APPID, since=0, until=4e9, count=100, **filters)
    return current_app().store.log.query(query).records


# -- message push (receive_event) ---------------------------------------------------------------

CALLBACK_TOKEN = "test-callback-token"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
OLD_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def callback_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``env`` plus the message-push Token and EncodingAESKey (secure mode)."""
    extra = {"WXAPUSH_CALLBACK_TOKEN": CALLBACK_TOKEN, "WXAPUSH_ENCODING_AES_KEY": AES_KEY}
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_app()
    return {**env, **extra}


@pytest.fixture(scope="session")
def _push_gateway() -> Iterator[str]:
    from wxemu.gateway import Gateway

    # One gateway for the session: the handler reads each test's environment when called.
    gateway = Gateway(("127.0.0.1", 0), {"receive_event": handler("receive_event")})
    gateway.start()
    yield f"{gateway.base_url}/receive_event"
    gateway.shutdown()
    gateway.server_close()


@pytest.fixture
def receiver(
    callback_env: dict[str, str], wxemu: RunningServer, _push_gateway: str
) -> Iterator[str]:
    """receive_event behind a local API gateway, with wxemu's push pointed at it (secure, JSON).

    Yields the URL; at the end waits for wxemu's pushes in flight, so none outlives the test.
    """
    wxemu.set_callback(demo.APPID, _push_gateway, CALLBACK_TOKEN, AES_KEY)
    yield _push_gateway
    assert wxemu.emulator.pusher.wait_idle()


def balance(openid: str = demo.OPENID, template_id: str = demo.TEMPLATE_ID) -> Optional[int]:
    """The grant ledger's balance for the demo app (white box)."""
    return current_app().store.grants.balance(demo.APPID, openid, template_id)


def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll ``check`` until it returns something truthy (a push is asynchronous)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)
