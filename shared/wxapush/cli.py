"""The ``wxapush`` command: the local stack, and operator tools over the functions.

``wxapush dev`` runs everything on one machine with no WeChat account: wxemu (the WeChat OpenAPI
emulator), the functions behind a local API gateway that hands them the same events Tencent's
gateway does, and refresh_code on its timer. ``invoke``, ``send`` and ``log`` call the functions
in-process, in the direct shape, with the configuration of the environment.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import secrets
import string
import sys
import threading
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

FUNCTIONS = ("get_token", "send", "send_log", "refresh_code")
#: What `wxapush dev` serves: receive_event answers WeChat (wxemu's pushes), not `invoke`.
SERVED = (*FUNCTIONS, "receive_event")
DEFAULT_CRON = "0 */5 * * * * *"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    result: int = args.run(args)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wxapush",
        description="Send WeChat mini-program subscribe messages reliably from Tencent Cloud "
        "functions; run the whole stack locally against wxemu.",
        epilog="Configuration comes from WXAPUSH_* environment variables (see the README); "
        "`wxapush dev` sets them for the local stack itself.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    dev = commands.add_parser(
        "dev",
        help="run the local stack: wxemu, the functions behind a local API gateway, the timer",
        description="Start wxemu, serve every function over HTTP exactly as API-gateway events, "
        "fire refresh_code on its cron, and print what to try. Stops with Ctrl-C.",
    )
    dev.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    dev.add_argument("--port", type=int, default=8700, help="gateway port (default: %(default)s)")
    dev.add_argument(
        "--wxemu-port", type=int, default=8710, help="wxemu port (default: %(default)s)"
    )
    dev.add_argument(
        "--store",
        default="sqlite:///.wxapush/dev.db",
        help="WXAPUSH_STORE for the functions (default: %(default)s)",
    )
    dev.add_argument(
        "--cron",
        default=DEFAULT_CRON,
        help="7-field timer cron of refresh_code (default: %(default)r, every 5 minutes)",
    )
    dev.add_argument("--admin-key", help="bearer key for HTTP service calls (default: random)")
    dev.set_defaults(run=run_dev)

    invoke = commands.add_parser(
        "invoke",
        help="call one function in-process with a direct-shape event",
        description="Call FUNCTION's main_handler with --data as the event, as SCF Invoke or "
        "CloudBase callFunction would. Prints the result; exits 1 when errcode is not 0.",
    )
    invoke.add_argument("function", choices=FUNCTIONS)
    invoke.add_argument("--data", default="{}", help="the event, as JSON (default: {})")
    invoke.add_argument(
        "--as-user",
        metavar="OPENID",
        help="call as this mini-program user (its WX_OPENID in the context) instead of a service",
    )
    invoke.set_defaults(run=run_invoke)

    send = commands.add_parser(
        "send",
        help="send one subscribe message (as a service)",
        description="Send one subscribe message through the send function.",
    )
    send.add_argument("--to", required=True, metavar="OPENID", help="the receiver's openid")
    send.add_argument("--template", required=True, metavar="ID", help="the template id")
    send.add_argument(
        "--data",
        "-d",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one keyword value, e.g. -d thing1=Order -d amount2=¥9.90 (repeatable)",
    )
    send.add_argument("--page", help="page opened from the message, e.g. pages/order?id=1")
    send.add_argument("--state", choices=("developer", "trial", "formal"), help="miniprogram_state")
    send.add_argument("--lang", choices=("zh_CN", "en_US", "zh_HK", "zh_TW"))
    send.add_argument("--key", metavar="IDEMPOTENCY_KEY", help="idempotency key")
    send.set_defaults(run=run_send)

    log = commands.add_parser(
        "log",
        help="list logged messages, newest first",
        description="Query the send log through the send_log function.",
    )
    today = date.today().isoformat()
    log.add_argument("--begin", default=today, help="first day, YYYY-MM-DD (default: today)")
    log.add_argument("--end", default=today, help="last day, YYYY-MM-DD (default: today)")
    log.add_argument("--touser", metavar="OPENID")
    log.add_argument("--template", metavar="ID")
    log.add_argument("--status")
    log.add_argument("--offset", type=int, default=0)
    log.add_argument("--count", type=int, default=20)
    log.add_argument("--json", action="store_true", help="print the raw JSON answer")
    log.set_defaults(run=run_log)

    from wxapush import packaging  # stdlib only: cheap, and the choices live there

    package = commands.add_parser(
        "package",
        help="build the deployable zips: dist/layer.zip and one code zip per function",
        description="Build the SCF layer (the wxapush package and its dependencies as binary "
        "wheels for Linux x86_64 and the chosen CPython, at the zip root: SCF unpacks layers "
        "into /opt, which is on PYTHONPATH) and one code zip per functions/<name>/, plus the "
        "same code unzipped under OUTPUT/functions/ for scf deploy and tcb fn deploy. The same "
        "sources and wheels give byte-identical zips. Run it from the project's root.",
        epilog="Then publish OUTPUT/layer.zip as the layer the descriptors name, and deploy: "
        "see docs/deploy.md.",
    )
    package.add_argument(
        "--runtime",
        choices=packaging.RUNTIMES,
        default="3.9",
        help="the functions' Python runtime on SCF, Python3.9 or Python3.10 (default: %(default)s)",
    )
    package.add_argument(
        "--output", "-o", type=Path, default=Path("dist"), help="where to write (default: dist)"
    )
    package.add_argument(
        "--extras",
        default=",".join(packaging.DEFAULT_EXTRAS),
        metavar="LIST",
        help="optional dependencies to vendor, comma-separated: tencent (reading the AppSecret "
        "from SSM), redis, sql, all; '' for none (default: %(default)s)",
    )
    package.add_argument(
        "--cache-dir",
        type=Path,
        help="where downloaded wheels are kept between builds (default: ~/.cache/wxapush/wheels)",
    )
    package.set_defaults(run=run_package)
    return parser


def direct(function: str, event: dict[str, Any], as_user: Optional[str] = None) -> dict[str, Any]:
    """Call a function's handler in the direct shape, as SCF Invoke would."""
    from wxapush import runtime

    service = importlib.import_module(f"wxapush.services.{function}")
    environment = {"WX_OPENID": as_user, "WX_SOURCE": "wx_client"} if as_user else {}
    context = {
        "request_id": uuid.uuid4().hex,
        "function_name": function,
        "time_limit_in_ms": 30_000,
        "environment": json.dumps(environment),
    }
    result: dict[str, Any] = runtime.invoke(service.run, event, context)
    return result


def _print(result: Any) -> int:
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if isinstance(result, dict) and result.get("errcode") == 0 else 1


def run_invoke(args: argparse.Namespace) -> int:
    try:
        event = json.loads(args.data)
    except json.JSONDecodeError as exc:
        print(f"--data is not JSON: {exc}", file=sys.stderr)
        return 2
    return _print(direct(args.function, event, args.as_user))


def run_send(args: argparse.Namespace) -> int:
    data: dict[str, str] = {}
    for item in args.data:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"--data {item!r}: write KEY=VALUE", file=sys.stderr)
            return 2
        data[key] = value
    event: dict[str, Any] = {"touser": args.to, "template_id": args.template, "data": data}
    optional = {
        "page": args.page,
        "miniprogram_state": args.state,
        "lang": args.lang,
        "idempotency_key": args.key,
    }
    event.update({k: v for k, v in optional.items() if v is not None})
    return _print(direct("send", event))


def run_log(args: argparse.Namespace) -> int:
    event: dict[str, Any] = {
        "begin_date": args.begin,
        "end_date": args.end,
        "offset": args.offset,
        "count": args.count,
    }
    optional = {"touser": args.touser, "template_id": args.template, "status": args.status}
    event.update({k: v for k, v in optional.items() if v is not None})
    result = direct("send_log", event)
    if args.json or result.get("errcode") != 0:
        return _print(result)
    print(f"{result['total']} message(s)")
    for row in result["list"]:
        print(
            f"{row['created_at']}  {row['status']:<11} {row['touser']}  {row['template_id']}"
            f"  msgid={row['msgid']}  errcode={row['errcode']}  {row['log_id']}"
        )
    return 0


def run_package(args: argparse.Namespace) -> int:
    from wxapush import packaging

    extras = [e.strip() for e in args.extras.split(",") if e.strip()]
    try:
        built = packaging.build(args.output, args.runtime, extras, args.cache_dir)
    except packaging.PackagingError as exc:
        print(f"wxapush package: {exc}", file=sys.stderr)
        return 1
    print(f"wxapush package: Python {args.runtime}, {packaging.PLATFORM}, extras: "
          f"{', '.join(extras) or 'none'}")  # fmt: skip
    artifacts = (built.layer, *built.functions.values())
    width = max(len(str(a.path)) for a in artifacts)
    for a in artifacts:
        size = f"{a.size / 1024:,.1f} KiB"
        print(f"  {a.path!s:<{width}}  {size:>12}  {a.files:>4} files  sha256 {a.sha256[:16]}")
    print("  vendored: " + ", ".join(built.wheels))
    print(f"Publish {built.layer.path} as a Python{args.runtime} layer; deploy the code in "
          f"{args.output / packaging.FUNCTIONS_STAGE}/ (docs/deploy.md).")  # fmt: skip
    return 0


def run_dev(args: argparse.Namespace) -> int:
    from wxemu.cron import Cron
    from wxemu.gateway import Gateway, load_handler

    cron = Cron(args.cron)
    emulator = _Wxemu(args.host, args.wxemu_port)
    admin_key = args.admin_key or secrets.token_urlsafe(18)
    demo = emulator.demo
    # A fresh message-push Token and EncodingAESKey per run, as the console would generate.
    callback_token = secrets.token_urlsafe(16)
    aes_key = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))
    os.environ.update(
        WXAPUSH_APPID=demo["appid"],
        WXAPUSH_APPSECRET=demo["secret"],
        WXAPUSH_API_BASE=emulator.base_url,
        WXAPUSH_STORE=args.store,
        WXAPUSH_ADMIN_KEY=admin_key,
        WXAPUSH_CALLBACK_TOKEN=callback_token,
        WXAPUSH_ENCODING_AES_KEY=aes_key,
    )
    functions_dir = _functions_dir()
    handlers = {name: load_handler(functions_dir / name / "index.py") for name in SERVED}
    gateway = Gateway((args.host, args.port), handlers)
    gateway.start()
    emulator.push_to(f"{gateway.base_url}/receive_event", callback_token, aes_key)
    timer = _Timer(cron, lambda moment: _fire_timer(handlers["refresh_code"], moment))
    timer.fire(datetime.now(timezone.utc))
    timer.start()
    print(_banner(gateway.base_url, emulator.base_url, admin_key, demo, args), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping", file=sys.stderr)
    finally:
        gateway.shutdown()
        emulator.stop()
    return 0


def _functions_dir() -> Path:
    for candidate in (Path.cwd() / "functions", Path(__file__).resolve().parents[2] / "functions"):
        if (candidate / "send" / "index.py").is_file():
            return candidate
    raise SystemExit("wxapush dev: run it from the project's root (no functions/ folder here)")


def _fire_timer(handler: Callable[[dict[str, Any], dict[str, Any]], Any], moment: datetime) -> None:
    event = {
        "Type": "Timer",
        "TriggerName": "refresh",
        "Time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Message": "",
    }
    result = handler(event, {"request_id": uuid.uuid4().hex, "time_limit_in_ms": 60_000})
    state = "ok" if result.get("errcode") == 0 else f"failed: {result.get('error')}"
    print(f"[timer] refresh_code {state}", flush=True)


class _Timer(threading.Thread):
    def __init__(self, cron: Any, fire: Callable[[datetime], None]) -> None:
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


#: Values for the demo template of wxemu (商品名称, 快递单号, 发货时间, 订单金额).
DEMO_DATA = {
    "thing1": "手机保护壳",
    "character_string2": "SF1234567890",
    "date3": "2026-11-27 10:30",
    "amount6": "¥128.00",
}


def _banner(
    gateway: str, wxemu: str, admin_key: str, demo: dict[str, Any], args: argparse.Namespace
) -> str:
    body = json.dumps(
        {
            "touser": demo["openid"],
            "template_id": demo["template_id"],
            "data": DEMO_DATA,
            "idempotency_key": f"demo-order-{int(time.time())}",
        },
        ensure_ascii=False,
    )
    today = date.today().isoformat()
    return f"""
wxapush dev — the local stack is up
  functions  {gateway}/<function>   (get_token, send, send_log, refresh_code)
  wxemu      {wxemu}   (WeChat OpenAPI emulator; control plane under /__wxemu__/)
  push       wxemu -> {gateway}/receive_event   (secure mode, JSON; fresh Token and key)
  admin key  {admin_key}   (Authorization: Bearer … for service calls)
  demo app   appid {demo["appid"]}   openid {demo["openid"]}
             template {demo["template_id"]}
  store      {args.store}    timer  refresh_code on '{args.cron}'

Send a message:
  curl -s {gateway}/send -H 'Authorization: Bearer {admin_key}' \\
    -H 'Content-Type: application/json' -d '{body}'

Send it again: the answer says "duplicate": true, and nothing is sent twice.
wxemu then pushes the delivery result: the message goes from "sent" to "delivered".
Then read the log:
  curl -s '{gateway}/send_log?begin_date={today}&end_date={today}' \\
    -H 'Authorization: Bearer {admin_key}'
"""


class _Wxemu:
    """wxemu serving in a thread of this process."""

    def __init__(self, host: str, port: int) -> None:
        from wxemu import demo
        from wxemu.server import make_server

        self.server = make_server(host, port)
        self.base_url = self.server.base_url
        self.demo = demo.describe()
        threading.Thread(target=self.server.serve_forever, name="wxemu", daemon=True).start()

    def push_to(self, url: str, token: str, encoding_aes_key: str) -> None:
        """Point the demo app's message push at ``url``, as the console's 消息推送配置 does."""
        import requests

        answer = requests.post(
            f"{self.base_url}/__wxemu__/callback",
            json={
                "appid": self.demo["appid"],
                "url": url,
                "token": token,
                "encoding_aes_key": encoding_aes_key,
                "mode": "secure",
                "format": "json",
            },
            timeout=10,
        )
        answer.raise_for_status()

    def stop(self) -> None:
        self.server.close()


if __name__ == "__main__":
    raise SystemExit(main())
