"""The ``wxapush`` command: the local stack, and operator tools over the functions.

``wxapush dev`` runs everything on one machine with no WeChat account: wxemu (the WeChat OpenAPI
emulator), the functions behind a local HTTP front that hands them the events of SCF Function
URLs (as deployed), and refresh_code on its timer. ``invoke``, ``send`` and ``log`` call the
functions in-process, in the direct shape, with the configuration of the environment.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Optional, Sequence

from wxapush.store.base import STATUSES

if TYPE_CHECKING:
    from wxapush.packaging_bytecode import Bytecode

FUNCTIONS = ("get_token", "send", "send_log", "refresh_code", "broadcast")
#: What `wxapush dev` serves beyond `invoke`'s: receive_event answers WeChat (wxemu's pushes),
#: dashboard a browser, login a mini-program's wx.login code over HTTP.
SERVED = (*FUNCTIONS, "receive_event", "dashboard", "login")
DEFAULT_CRON = "0 */5 * * * * *"


#: Set by ``--url`` / ``WXAPUSH_URL``: the operator commands call the deployment over HTTP.
_remote: Any = None


def main(argv: Optional[Sequence[str]] = None) -> int:
    global _remote
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    _remote = None
    if getattr(args, "operator", False):
        from wxapush import cli_remote

        try:
            _remote = cli_remote.from_options(args.remote_url, args.remote_key, args.function_url)
        except cli_remote.RemoteError as exc:
            print(f"wxapush: {exc}", file=sys.stderr)
            return 2
        if _remote is None:
            _use_running_stack()
    result: int = args.run(args)
    return result


def _use_running_stack() -> None:
    """Point the operator commands at a running `wxapush dev`, unless the shell is configured."""
    import os

    from wxemu import devenv

    loaded = devenv.apply(os.environ)
    if loaded is not None:
        print(f"wxapush: using the local stack's settings from {loaded}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wxapush",
        description="Send WeChat mini-program subscribe messages reliably from Tencent Cloud "
        "functions; run the whole stack locally against wxemu.",
        epilog="Configuration comes from WXAPUSH_* environment variables (see the README). "
        "While `wxapush dev` runs, invoke, send, log and broadcast in the same folder use its "
        "settings (.wxapush/dev.env) unless WXAPUSH_APPID is set in the environment.",
    )
    parser.add_argument("--version", action="version", version=f"wxapush {_version()}")
    remote = parser.add_argument_group(
        "a deployment over HTTP (send, log, invoke, broadcast; else they run in-process)"
    )
    remote.add_argument(
        "--url",
        dest="remote_url",
        metavar="BASE",
        help="call the functions at BASE/<function> (an API gateway, `wxapush dev`); "
        "default: WXAPUSH_URL",
    )
    remote.add_argument(
        "--function-url",
        dest="function_url",
        action="append",
        default=[],
        metavar="FUNCTION=URL",
        help="one function's own URL, e.g. send=https://…scf.tencentcs.com (SCF Function URLs; "
        "repeatable); default: WXAPUSH_URL_<FUNCTION>",
    )
    remote.add_argument(
        "--admin-key",
        dest="remote_key",
        metavar="KEY",
        help="the deployment's admin key (default: WXAPUSH_ADMIN_KEY)",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    dev = commands.add_parser(
        "dev",
        help="run the local stack: wxemu, the functions over local Function URLs, the timer",
        description="Start wxemu, serve every function over HTTP exactly as SCF Function URL "
        "events (http://HOST:PORT/<function>; an unknown path lists them), fire refresh_code on "
        "its cron, and print what to try. Stops with Ctrl-C.",
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
        default="sqlite:.wxapush/dev.db",
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
    invoke.set_defaults(run=run_invoke, operator=True)

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
    send.set_defaults(run=run_send, operator=True)

    log = commands.add_parser(
        "log",
        help="list logged messages, newest first",
        description="Query the send log through the send_log function.",
    )
    log.add_argument(
        "--begin",
        metavar="YYYY-MM-DD",
        help="first day, inclusive, in WXAPUSH_TZ (default: today in WXAPUSH_TZ, Asia/Shanghai "
        "unless set)",
    )
    log.add_argument(
        "--end", metavar="YYYY-MM-DD", help="last day, inclusive (default: today in WXAPUSH_TZ)"
    )
    log.add_argument("--touser", metavar="OPENID", help="only messages to this user")
    log.add_argument("--template", metavar="ID", help="only messages of this template")
    log.add_argument(
        "--status",
        choices=STATUSES,
        help="only messages in this status: pending (being sent), sent (WeChat accepted it), "
        "delivered / undelivered (WeChat's delivery push), failed (WeChat refused it or was "
        "unreachable), rejected (refused locally, never sent)",
    )
    log.add_argument(
        "--offset", type=int, default=0, help="skip this many (paging; default: %(default)s)"
    )
    log.add_argument(
        "--count", type=int, default=20, help="at most this many, ≤ 100 (default: %(default)s)"
    )
    log.add_argument("--json", action="store_true", help="print the raw JSON answer")
    log.set_defaults(run=run_log, operator=True)

    from wxapush import cli_broadcast

    cli_broadcast.add_parser(commands, direct)

    from wxapush import cli_migrate

    cli_migrate.add_parser(commands)

    from wxapush import cli_grants

    cli_grants.add_parser(commands)

    from wxapush import cli_doctor

    cli_doctor.add_parser(commands)

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
        default=None,
        metavar="LIST",
        help="optional dependencies to vendor, comma-separated: tencent (reading the AppSecret "
        "from SSM), redis, sql, all; '' for none (default: tencent plus exactly the drivers "
        "WXAPUSH_STORE / WXAPUSH_CACHE name when either is set, else "
        + ",".join(packaging.DEFAULT_EXTRAS)
        + ": every store)",
    )
    package.add_argument(
        "--cache-dir",
        type=Path,
        help="where downloaded wheels are kept between builds (default: ~/.cache/wxapush/wheels)",
    )
    package.add_argument(
        "--bytecode",
        choices=packaging.BYTECODE_CHOICES,
        default="auto",
        help="compile the layer's bytecode for the runtime with a CPython of that version: "
        "auto = when one is on this machine (python3.9 on PATH, pyenv, or --python), else build "
        "without and say so; on = refuse to build without; off = sources only "
        "(default: %(default)s)",
    )
    package.add_argument(
        "--python",
        metavar="PATH",
        help="the target runtime's interpreter that compiles the bytecode (default: found)",
    )
    package.set_defaults(run=run_package)
    return parser


def direct(function: str, event: dict[str, Any], as_user: Optional[str] = None) -> dict[str, Any]:
    """Call a function's handler in the direct shape, as SCF Invoke would — or, with ``--url``,
    the deployed function over HTTP as a service."""
    if _remote is not None:
        if as_user:
            return {"errcode": 990400, "errmsg": "--as-user runs in-process only (not with --url)",
                    "error": "invalid_request", "retryable": False}  # fmt: skip
        answer: dict[str, Any] = _remote.call(function, event)
        return answer
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
    today = "" if args.begin and args.end else _today()
    if today is None:
        return 1
    event: dict[str, Any] = {
        "begin_date": args.begin or today,
        "end_date": args.end or today,
        "offset": args.offset,
        "count": args.count,
    }
    optional = {"touser": args.touser, "template_id": args.template, "status": args.status}
    event.update({k: v for k, v in optional.items() if v is not None})
    result = direct("send_log", event)
    if args.json or result.get("errcode") != 0:
        return _print(result)
    total = result["total"]  # past 500 matches counting stops: then 501, a lower bound
    print(f"{total} message(s)" if result["total_exact"] else f"{total - 1}+ message(s)")
    for row in result["list"]:
        print(
            f"{row['created_at']}  {row['status']:<11} {row['touser']}  {row['template_id']}"
            f"  msgid={row['msgid']}  errcode={row['errcode']}  {row['log_id']}"
        )
    return 0


def _today() -> Optional[str]:
    """Today in WXAPUSH_TZ (never the machine's zone), or None after saying what is wrong."""
    import os

    from wxapush.config import configured_zone
    from wxapush.dates import today
    from wxapush.errors import Misconfigured

    try:
        return today(configured_zone(os.environ)).isoformat()
    except Misconfigured as exc:
        print(f"wxapush log: {exc.errmsg}", file=sys.stderr)
        return None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wxapush")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _bytecode_line(compiled: Optional[Bytecode], runtime: str) -> str:
    if compiled is None:
        return (f"bytecode: none (no Python {runtime} here, or --bytecode off): every cold "
                "instance compiles the layer from source")  # fmt: skip
    refused = f", {len(compiled.failed)} sources it refused" if compiled.failed else ""
    return (f"bytecode: {compiled.compiled} unchecked-hash {compiled.cache_tag} pycs, compiled "
            f"by {compiled.interpreter}{refused}")  # fmt: skip


def run_package(args: argparse.Namespace) -> int:
    from wxapush import packaging

    try:
        if args.extras is None:
            chosen, why = packaging.default_extras(os.environ)
            extras = list(chosen)
        else:
            extras, why = [e.strip() for e in args.extras.split(",") if e.strip()], "--extras"
        built = packaging.build(
            args.output,
            args.runtime,
            extras,
            args.cache_dir,
            bytecode=args.bytecode,
            python=args.python,
        )
    except packaging.PackagingError as exc:
        print(f"wxapush package: {exc}", file=sys.stderr)
        return 1
    print(f"wxapush package: Python {args.runtime}, {packaging.PLATFORM}, extras: "
          f"{', '.join(extras) or 'none'} ({why})")  # fmt: skip
    artifacts = (built.layer, *built.functions.values())
    width = max(len(str(a.path)) for a in artifacts)
    for a in artifacts:
        size = f"{a.size / 1024:,.1f} KiB"
        print(f"  {a.path!s:<{width}}  {size:>12}  {a.files:>4} files  sha256 {a.sha256[:16]}")
    print("  vendored: " + ", ".join(built.wheels))
    print("  " + _bytecode_line(built.bytecode, args.runtime))
    print(f"Publish {built.layer.path} as a Python{args.runtime} layer; deploy the code in "
          f"{args.output / packaging.FUNCTIONS_STAGE}/ (docs/deploy.md).")  # fmt: skip
    return 0


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


def run_dev(args: argparse.Namespace) -> int:
    from wxapush.config import MIN_ADMIN_KEY_LENGTH
    from wxemu.stack import LocalStack

    if args.admin_key is not None and len(args.admin_key) < MIN_ADMIN_KEY_LENGTH:
        print(
            f"wxapush dev: --admin-key must be at least {MIN_ADMIN_KEY_LENGTH} characters "
            "(leave it out for a random one)",
            file=sys.stderr,
        )
        return 2
    stack = LocalStack(
        host=args.host,
        port=args.port,
        wxemu_port=args.wxemu_port,
        store=args.store,
        cron=args.cron,
        admin_key=args.admin_key,
        functions=SERVED,
    )
    stack.start()
    print(stack.banner(), flush=True)
    # `kill` stops it as Ctrl-C does: the finally below removes .wxapush/dev.env.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping", file=sys.stderr)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
