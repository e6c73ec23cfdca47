"""The examples as a user takes them: the mini-program folder opens in WeChat DevTools as it is,
its handlers never leave a promise rejection unhandled (run in Node with a failing `wx`), and the
back-end example sends once per order event through the send function's Function URL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import ADMIN_KEY, handler

ROOT = Path(__file__).resolve().parents[2]
MINIPROGRAM = ROOT / "examples" / "miniprogram"
BACKEND = ROOT / "examples" / "backend" / "order-notify"


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.skip("node is not installed")
    return path


def test_the_mini_program_folder_is_a_project_devtools_opens() -> None:
    project = json.loads((MINIPROGRAM / "project.config.json").read_text(encoding="utf-8"))
    assert project["compileType"] == "miniprogram" and project["appid"]
    root = MINIPROGRAM / project.get("miniprogramRoot", "")
    app = json.loads((root / "app.json").read_text(encoding="utf-8"))
    assert (root / "app.js").is_file()
    assert (root / app["sitemapLocation"]).is_file()
    assert app["pages"]
    for page in app["pages"]:
        for ext in (".js", ".wxml", ".json"):
            assert (root / f"{page}{ext}").is_file(), f"{page}{ext}"
        json.loads((root / f"{page}.json").read_text(encoding="utf-8"))


#: Loads a page with a `wx` whose network calls fail, calls a handler as the framework does (its
#: promise ignored) and prints the status the page shows; exits 3 on an unhandled rejection.
HARNESS = r"""
const [pagePath, handlerName] = process.argv.slice(1)
process.on('unhandledRejection', (reason) => {
  console.log('UNHANDLED ' + JSON.stringify(reason && (reason.errMsg || reason.message)))
  process.exit(3)
})
let page
global.Page = (definition) => { page = definition }
global.getApp = () => ({})
const failing = (name) => () => Promise.reject({ errMsg: name + ':fail network down' })
global.wx = {
  requestSubscribeMessage: async ({ tmplIds }) => ({ errMsg: 'ok', [tmplIds[0]]: 'accept' }),
  cloud: { callFunction: failing('cloud.callFunction') },
  login: failing('login'),
  request: (options) => options.fail({ errMsg: 'request:fail network down' }),
  getStorageSync: () => '',
  setStorageSync: () => {},
}
require(pagePath)
page.data = JSON.parse(JSON.stringify(page.data))
page.setData = function (changes) { Object.assign(this.data, changes) }
page.onLoad({ orderId: '1001' })
page[handlerName]()  // the framework ignores the handler's promise
setTimeout(() => console.log('STATUS ' + JSON.stringify(page.data.status)), 100)
"""


@pytest.mark.parametrize(
    ("page", "name"),
    [
        ("pages/subscribe/index.js", "onSubscribe"),
        ("pages/subscribe_http/index.js", "onSubscribe"),
        ("pages/subscribe_http/index.js", "onHistory"),
    ],
)
def test_a_failing_network_is_shown_not_left_an_unhandled_rejection(page: str, name: str) -> None:
    done = subprocess.run(
        [node(), "-e", HARNESS, str(MINIPROGRAM / page), name],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "network down" in done.stdout  # the page tells the user what failed


@pytest.fixture
def send_url(env: dict[str, str]) -> Iterator[str]:
    """The send function behind a local gateway, as its Function URL serves it."""
    from wxemu.gateway import Gateway

    gateway = Gateway(("127.0.0.1", 0), {"send": handler("send")})
    gateway.start()
    yield f"{gateway.base_url}/send"
    gateway.shutdown()
    gateway.server_close()


def notify(send_url: str, order_id: str) -> Any:
    event = {
        "type": "order.shipped",
        "order": {
            "id": order_id,
            "openid": demo.OPENID,
            "product": "手机保护壳",
            "trackingNo": "SF1234567890",
            "shippedAt": "2026-11-27 10:30",
            "amount": "¥128.00",
        },
    }
    script = (
        f"require({json.dumps(str(BACKEND))}).main({json.dumps(event)})"
        ".then((answer) => console.log(JSON.stringify(answer)))"
    )
    environment = {
        **os.environ,
        "WXAPUSH_SEND_URL": send_url,
        "WXAPUSH_ADMIN_KEY": ADMIN_KEY,
        "ORDER_SHIPPED_TEMPLATE_ID": demo.TEMPLATE_ID,
    }
    done = subprocess.run(
        [node(), "-e", script], capture_output=True, text=True, timeout=60, env=environment
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_backend_example_sends_once_per_order_event(
    send_url: str, wxemu: RunningServer
) -> None:
    first = notify(send_url, "1001")
    assert first["errcode"] == 0 and first["duplicate"] is False, first
    again = notify(send_url, "1001")  # the event delivered twice
    assert again["errcode"] == 0 and again["duplicate"] is True
    assert again["msgid"] == first["msgid"]
    assert notify(send_url, "1002")["duplicate"] is False  # the next order is its own message
    assert len(wxemu.messages(demo.APPID)) == 2


def test_the_backend_example_retries_what_may_pass_with_the_same_key(
    send_url: str, wxemu: RunningServer
) -> None:
    wxemu.fault("/cgi-bin/message/subscribe/send", errcode=-1, times=2)  # WeChat busy, once
    answer = notify(send_url, "2001")
    assert answer["errcode"] == 0 and answer["duplicate"] is False, answer
    assert len(wxemu.messages(demo.APPID)) == 1
