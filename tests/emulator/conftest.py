"""Fixtures for wxemu's own tests: one threaded server per module, reset before each test."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
import requests

from wxemu import demo
from wxemu.testing import RunningServer

RID_RE = re.compile(r"^(?P<text>.*) rid: (?P<t>[0-9a-f]{8})-[0-9a-f]{8}-[0-9a-f]{8}$", re.S)


@pytest.fixture
def http(wxemu: RunningServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def token(wxemu: RunningServer) -> str:
    """A classic access token of the demo app."""
    return wxemu.token()


def assert_wechat_error(
    response: requests.Response, errcode: int, errmsg: str, server: RunningServer
) -> None:
    """WeChat's error shape: HTTP 200, JSON, errcode, errmsg + `` rid: <time hex>-…``."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; encoding=utf-8"
    body: dict[str, Any] = response.json()
    assert body["errcode"] == errcode, body
    match = RID_RE.match(body["errmsg"])
    assert match is not None, body["errmsg"]
    assert match["text"] == errmsg
    assert abs(int(match["t"], 16) - server.emulator.clock.now()) <= 5


def send_body(**overrides: Any) -> dict[str, Any]:
    """A valid subscribe message to the demo user with the demo one-time template."""
    body: dict[str, Any] = {
        "touser": demo.OPENID,
        "template_id": demo.TEMPLATE_ID,
        "page": "pages/order/detail?id=42",
        "data": {
            "thing1": {"value": "手机保护壳"},
            "character_string2": {"value": "SF1234567890"},
            "date3": {"value": "2024年5月20日 10:30"},
            "amount6": {"value": "¥128.00"},
        },
    }
    body.update(overrides)
    return body


class ServeProcess:
    """``wxemu serve --port 0`` as a child process; ``base_url`` and ``banner`` from its output."""

    def __init__(self, env: Optional[Dict[str, str]] = None) -> None:
        wxemu_script = Path(sys.executable).with_name("wxemu")
        command = [str(wxemu_script)] if wxemu_script.exists() else [sys.executable, "-m", "wxemu"]
        self.process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        self.banner: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.banner.append(line.rstrip("\n"))
            if line.startswith("Stop with"):
                break
        match = re.search(r"listening on (http://\S+)", "\n".join(self.banner))
        if match is None:
            self.process.kill()
            raise RuntimeError(f"wxemu serve did not start: {self.banner}")
        self.base_url = match.group(1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


@pytest.fixture(scope="module")
def serve_process() -> Iterator[ServeProcess]:
    """A ``wxemu serve`` child process for the module; stopped with SIGTERM at the end."""
    process = ServeProcess()
    try:
        yield process
    finally:
        process.stop()
