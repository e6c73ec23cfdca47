"""The local stack behind `wxapush dev`: wxemu, the functions behind a local API gateway, the timer.

Everything a deployment has, on one machine and with no account: wxemu plays WeChat (and pushes
delivery results to receive_event, signed and encrypted as WeChat does), the gateway hands each
function the events of an SCF Function URL, and refresh_code fires on its 7-field cron.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import string
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional, Sequence

from wxapush.config import configured_zone
from wxapush.dates import today

from . import demo, devenv
from .cron import Cron
from .gateway import Gateway, Handler, load_handler
from .plain_http import post
from .server import in_use_message, make_server

#: Values for the demo template of wxemu (商品名称, 快递单号, 发货时间, 订单金额).
DEMO_DATA = {
    "thing1": "手机保护壳",
    "character_string2": "SF1234567890",
    "date3": "2026-11-27 10:30",
    "amount6": "¥128.00",
}


class LocalStack:
    """Starts, describes and stops the local stack. Configures this process's ``WXAPUSH_*``."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        wxemu_port: int,
        store: str,
        cron: str,
        admin_key: Optional[str],
        functions: Sequence[str],
    ) -> None:
        self.cron = Cron(cron)  # parsed first: a bad cron fails before anything listens
        self.host, self.port, self.wxemu_port = host, port, wxemu_port
        self.store = store
        self.admin_key = admin_key or secrets.token_urlsafe(32)  # 43 characters (≥ 32)
        self.functions = tuple(functions)
        self.demo = demo.describe()

    def start(self) -> None:
        """wxemu, the environment, the gateway, WeChat's push, then the timer (fired once now)."""
        try:
            self.wxemu = make_server(self.host, self.wxemu_port)
        except OSError as exc:
            raise SystemExit(
                in_use_message("wxapush dev", self.host, self.wxemu_port, "--wxemu-port", exc)
            ) from None
        threading.Thread(target=self.wxemu.serve_forever, name="wxemu", daemon=True).start()
        # A fresh message-push Token and EncodingAESKey per run, as the console would generate.
        token = secrets.token_hex(16)  # the console's Token: 3–32 letters or digits
        aes_key = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))
        # Every setting the functions run with goes to dev.env too (the push Token and key,
        # the session secret included): `wxapush doctor` and `invoke receive_event` in another
        # shell then see the stack as it is, not one whose message push and login are off.
        self.settings = {
            "WXAPUSH_APPID": self.demo["appid"],
            "WXAPUSH_APPSECRET": self.demo["secret"],
            "WXAPUSH_API_BASE": self.wxemu.base_url,
            "WXAPUSH_STORE": self.store,
            "WXAPUSH_ADMIN_KEY": self.admin_key,
            "WXAPUSH_CALLBACK_TOKEN": token,
            "WXAPUSH_ENCODING_AES_KEY": aes_key,
            # Signs the sessions `login` issues to HTTP front ends; fresh per run.
            "WXAPUSH_SESSION_SECRET": secrets.token_urlsafe(32),
            "WXAPUSH_TZ": os.environ.get("WXAPUSH_TZ", "").strip() or "Asia/Shanghai",
        }
        os.environ.update(self.settings)
        folder = functions_dir()
        handlers = {name: load_handler(folder / name / "index.py") for name in self.functions}
        try:
            self.gateway = Gateway((self.host, self.port), handlers)
        except OSError as exc:
            self.wxemu.close()
            raise SystemExit(
                in_use_message("wxapush dev", self.host, self.port, "--port", exc)
            ) from None
        self.gateway.start()
        self._push_to(f"{self.gateway.base_url}/receive_event", token, aes_key)
        refresh = handlers["refresh_code"]
        if not fire_timer(refresh, datetime.now(timezone.utc)):
            self.stop()
            raise SystemExit("wxapush dev: the first refresh_code failed (see above); not started")
        self.timer = Timer(self.cron, lambda moment: fire_timer(refresh, moment))
        self.timer.start()
        if "broadcast" in handlers:  # campaigns' workers, as the timer and fan-out in the cloud
            from .dev_workers import BroadcastWorkers

            self.workers = BroadcastWorkers(handlers["broadcast"])
            self.workers.start()
        # None: another stack running in this folder owns the file; it stays that stack's.
        self.env_file = devenv.write(self.settings)

    def stop(self) -> None:
        if getattr(self, "workers", None) is not None:
            self.workers.stop()
        env_file = getattr(self, "env_file", None)
        if env_file is not None:
            devenv.remove(env_file)
        self.gateway.shutdown()
        self.wxemu.close()

    def _push_to(self, url: str, token: str, encoding_aes_key: str) -> None:
        """Point the demo app's message push at ``url``, as the console's 消息推送配置 does."""
        config = {
            "appid": self.demo["appid"],
            "url": url,
            "token": token,
            "encoding_aes_key": encoding_aes_key,
            "mode": "secure",
            "format": "json",
        }
        status, text = post(
            f"{self.wxemu.base_url}/__wxemu__/callback",
            json.dumps(config).encode("utf-8"),
            {"Content-Type": "application/json"},
        )
        if status != 200:
            raise RuntimeError(f"wxemu refused the push settings: HTTP {status} {text[:200]}")

    def banner(self) -> str:
        """What to try: the URLs, the admin key, the demo app and ready `curl` lines."""
        gateway, key, app = self.gateway.base_url, self.admin_key, self.demo
        body = json.dumps(
            {
                "touser": app["openid"],
                "template_id": app["template_id"],
                "data": DEMO_DATA,
                "idempotency_key": f"demo-order-{int(time.time())}",
            },
            ensure_ascii=False,
        )
        day = today(configured_zone(self.settings)).isoformat()
        demo_args = " ".join(f"-d {shlex.quote(f'{k}={v}')}" for k, v in DEMO_DATA.items())
        served_apart = ("receive_event", "dashboard", "login")
        names = ", ".join(n for n in self.functions if n not in served_apart)
        operator = f"""In another shell, from this folder, the operator commands use this stack \
({devenv.DEV_ENV}):
  .venv/bin/wxapush send --to {app["openid"]} --template {app["template_id"]} \\
    {demo_args} --key order-1001-paid
  .venv/bin/wxapush log"""
        if getattr(self, "env_file", None) is None:
            operator = (
                f"{devenv.DEV_ENV} belongs to the wxapush dev already running in this folder"
                f" (pid {devenv.owner()}): the operator commands here reach that stack, not this"
                " one; it is left as it is when this one stops."
            )
        return f"""
wxapush dev — the local stack is up
  functions  {gateway}/<function>   ({names})
  wxemu      {self.wxemu.base_url}   (WeChat OpenAPI emulator; control plane under /__wxemu__/)
  push       wxemu -> {gateway}/receive_event   (secure mode, JSON; fresh Token and key)
  admin key  {key}   (Authorization: Bearer … for service calls)
  dashboard  {gateway}/dashboard/   (sign in with the admin key)
  demo app   appid {app["appid"]}   openid {app["openid"]}
             template {app["template_id"]}
  store      {self.store}    timer  refresh_code on '{self.cron.expression}'

Send a message:
  curl -s {gateway}/send -H 'Authorization: Bearer {key}' \\
    -H 'Content-Type: application/json' -d '{body}'

Send it again: the answer says "duplicate": true, and nothing is sent twice.
wxemu then pushes the delivery result: the message goes from "sent" to "delivered".
Then read the log:
  curl -s '{gateway}/send_log?begin_date={day}&end_date={day}' \\
    -H 'Authorization: Bearer {key}'

As a mini-program page over Function URLs would (wx.login code -> login -> session):
  curl -s {self.wxemu.base_url}/__wxemu__/logincodes \\
    -d '{{"appid": "{app["appid"]}", "openid": "{app["openid"]}"}}'
  curl -s {gateway}/login -d '{{"code": "<the code>"}}'
  then -H 'Authorization: Session <the session>' on /send (no touser) and /send_log

{operator}
"""


def functions_dir() -> Path:
    """The project's ``functions/`` folder: under the current directory, or beside ``emulator/``."""
    for candidate in (Path.cwd() / "functions", Path(__file__).resolve().parents[2] / "functions"):
        if (candidate / "send" / "index.py").is_file():
            return candidate
    raise SystemExit("wxapush dev: run it from the project's root (no functions/ folder here)")


def fire_timer(handler: Handler, moment: datetime) -> bool:
    """Invoke ``handler`` with the timer event SCF delivers (Time in UTC, ``Z``); True if ok."""
    event = {
        "Type": "Timer",
        "TriggerName": "refresh",
        "Time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Message": "",
    }
    result = handler(event, {"request_id": uuid.uuid4().hex, "time_limit_in_ms": 60_000})
    succeeded: bool = result.get("errcode") == 0
    state = "ok" if succeeded else f"failed: {result.get('error')}: {result.get('errmsg')}"
    print(f"[timer] refresh_code {state}", flush=True)
    return succeeded


class Timer(threading.Thread):
    """Fires ``fire(moment)`` at every second the cron matches (UTC, as SCF's clock)."""

    def __init__(self, cron: Cron, fire: Callable[[datetime], object]) -> None:
        super().__init__(name="wxapush-timer", daemon=True)
        self.cron = cron
        self.fire = fire

    def run(self) -> None:
        last = int(time.time())
        while True:
            time.sleep(0.2)
            now = int(time.time())
            for second in range(last + 1, now + 1):
                moment = datetime.fromtimestamp(second, timezone.utc)
                if self.cron.matches(moment):
                    self.fire(moment)
            last = now


__all__ = ["DEMO_DATA", "LocalStack", "Timer", "fire_timer", "functions_dir"]
