"""A wxemu server in a thread for tests: ``with running_server() as wx: ...``.

The yielded :class:`RunningServer` gives the base URL, the in-process :class:`Emulator` (for
white-box set-up and assertions) and one method per control-plane action, which go over HTTP like
any client would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

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

    def grant(self, appid: str, openid: str, template_id: str, count: int = 1) -> int:
        body = {"appid": appid, "openid": openid, "template_id": template_id, "count": count}
        remaining: int = self.control("POST", "subscriptions", json=body)["remaining"]
        return remaining

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
    ) -> None:
        body: dict[str, Any] = {"path": path, "times": times, "delay_ms": delay_ms}
        for name, value in (("errcode", errcode), ("status", status), ("errmsg", errmsg)):
            if value is not None:
                body[name] = value
        self.control("POST", "faults", json=body)

    def advance(self, seconds: float) -> float:
        now: float = self.control("POST", "clock", json={"advance": seconds})["now"]
        return now

    def login_code(self, appid: str, openid: Optional[str] = None) -> dict[str, Any]:
        body = {"appid": appid, **({"openid": openid} if openid else {})}
        return self.control("POST", "logincodes", json=body)

    def set_daily_limit(self, appid: str, cgi_path: str, daily_limit: int) -> dict[str, Any]:
        body = {"appid": appid, "cgi_path": cgi_path, "daily_limit": daily_limit}
        return self.control("POST", "quotas", json=body)

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
