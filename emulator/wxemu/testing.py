"""A wxemu server in a thread for tests: ``with running_server() as wx: ...``.

The yielded :class:`RunningServer` gives the base URL, the in-process :class:`Emulator` (for
white-box set-up and assertions) and one method per control-plane action, which go over HTTP like
any client would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any, Optional
from zoneinfo import ZoneInfo

import requests

from . import demo
from .server import make_server
from .state import Emulator


class ControlPlaneError(Exception):
    """A control-plane call answered with an HTTP error."""


class RunningServer:
    """A wxemu server serving in a background thread."""

    def __init__(self, base_url: str, emulator: Emulator) -> None:
        self.base_url = base_url
        self.emulator = emulator
        self.http = requests.Session()

    # plumbing ---------------------------------------------------------------------------------

    def control(self, method: str, action: str, **kwargs: Any) -> dict[str, Any]:
        """Call ``/__wxemu__/<action>``; raise ControlPlaneError on an HTTP error."""
        response = self.http.request(method, f"{self.base_url}/__wxemu__/{action}", **kwargs)
        if response.status_code >= 400:
            raise ControlPlaneError(f"{response.status_code}: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def demo(self) -> dict[str, Any]:
        """The demo app's appid, secret, openid and template ids."""
        return demo.describe()

    # control plane ----------------------------------------------------------------------------

    def reset(self) -> None:
        self.control("POST", "reset")

    def add_app(self, appid: Optional[str] = None, secret: Optional[str] = None) -> dict[str, Any]:
        body = {k: v for k, v in (("appid", appid), ("secret", secret)) if v}
        return self.control("POST", "apps", json=body)

    def add_template(
        self,
        appid: str,
        title: str,
        content: str,
        type: int = 2,
        enums: Optional[dict[str, list[str]]] = None,
    ) -> str:
        body: dict[str, Any] = {"appid": appid, "title": title, "content": content, "type": type}
        if enums:
            body["keywordEnumValueList"] = [
                {"keywordCode": code, "enumValueList": values} for code, values in enums.items()
            ]
        pri_tmpl_id: str = self.control("POST", "templates", json=body)["priTmplId"]
        return pri_tmpl_id

    def grant(
        self, appid: str, openid: str, template_id: str, count: int = 1, push: bool = False
    ) -> int:
        """Grant sends; ``push=True`` plays a popup accept pushed to the app's callback."""
        body = {"appid": appid, "openid": openid, "template_id": template_id, "count": count}
        if push:
            body["push"] = True
        remaining: int = self.control("POST", "subscriptions", json=body)["remaining"]
        return remaining

    def set_callback(
        self,
        appid: str,
        url: str,
        token: str,
        encoding_aes_key: Optional[str] = None,
        mode: str = "secure",
        format: str = "json",
        failures: Optional[dict[str, dict[str, Any]]] = None,
        repeat: int = 1,
    ) -> dict[str, Any]:
        """Configure the app's message push (``POST /__wxemu__/callback``)."""
        body: dict[str, Any] = {
            "appid": appid,
            "url": url,
            "token": token,
            "mode": mode,
            "format": format,
            "repeat": repeat,
        }
        if encoding_aes_key is not None:
            body["encoding_aes_key"] = encoding_aes_key
        if failures is not None:
            body["failures"] = failures
        return self.control("POST", "callback", json=body)

    def pushes(self, appid: str = "") -> list[dict[str, Any]]:
        """The pushes made so far (``GET /__wxemu__/callback``), oldest first."""
        found: list[dict[str, Any]] = self.control("GET", "callback", params={"appid": appid})[
            "pushes"
        ]
        return found

    def messages(
        self, appid: Optional[str] = None, openid: Optional[str] = None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("appid", appid), ("openid", openid)) if v}
        found: list[dict[str, Any]] = self.control("GET", "messages", params=params)["messages"]
        return found

    def fault(
        self,
        path: str,
        errcode: Optional[int] = None,
        status: Optional[int] = None,
        delay_ms: int = 0,
        times: int = 1,
        errmsg: Optional[str] = None,
        drop: bool = False,
    ) -> None:
        body: dict[str, Any] = {"path": path, "times": times, "delay_ms": delay_ms}
        if drop:
            body["drop"] = True
        for name, value in (("errcode", errcode), ("status", status), ("errmsg", errmsg)):
            if value is not None:
                body[name] = value
        self.control("POST", "faults", json=body)

    def advance(self, seconds: float) -> float:
        now: float = self.control("POST", "clock", json={"advance": seconds})["now"]
        return now

    def advance_to(self, time_of_day: str, zone: str = "Asia/Shanghai") -> float:
        """Move the clock forward to the next ``HH:MM[:SS]`` in ``zone`` (WeChat's by default),
        so a test of a day's limits starts where it chooses, whatever the hour it runs at."""
        tz = ZoneInfo(zone)
        now = datetime.fromtimestamp(self.emulator.clock.now(), tz)
        wanted = dtime.fromisoformat(time_of_day)
        target = datetime.combine(now.date(), wanted, tzinfo=tz)
        if target <= now:
            target = datetime.combine(now.date() + timedelta(days=1), wanted, tzinfo=tz)
        return self.advance(target.timestamp() - now.timestamp())

    def login_code(self, appid: str, openid: Optional[str] = None) -> dict[str, Any]:
        body = {"appid": appid, **({"openid": openid} if openid else {})}
        return self.control("POST", "logincodes", json=body)

    def set_daily_limit(self, appid: str, cgi_path: str, daily_limit: int) -> dict[str, Any]:
        body = {"appid": appid, "cgi_path": cgi_path, "daily_limit": daily_limit}
        return self.control("POST", "quotas", json=body)

    def put_secret(self, name: str, value: str, version: Optional[str] = None) -> str:
        """Store a text secret in the SSM fake; returns its version (``v1`` by default)."""
        body = {"name": name, "value": value, **({"version": version} if version else {})}
        stored: str = self.control("POST", "secrets", json=body)["version"]
        return stored

    def token(self, appid: Optional[str] = None, secret: Optional[str] = None) -> str:
        """A fresh classic access token (the demo app's by default)."""
        params = {
            "grant_type": "client_credential",
            "appid": appid or demo.APPID,
            "secret": secret or demo.SECRET,
        }
        answer = self.http.get(self.url("/cgi-bin/token"), params=params).json()
        token: str = answer["access_token"]
        return token


@contextmanager
def running_server(emulator: Optional[Emulator] = None) -> Iterator[RunningServer]:
    """Serve wxemu on 127.0.0.1 (an ephemeral port) in a thread; stop it cleanly on exit."""
    server = make_server("127.0.0.1", 0, emulator)
    thread = threading.Thread(target=server.serve_forever, name="wxemu", daemon=True)
    thread.start()
    running = RunningServer(server.base_url, server.emulator)
    try:
        yield running
    finally:
        running.http.close()
        server.close()
        thread.join(timeout=5)
