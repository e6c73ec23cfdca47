"""The ``wxemu`` command: ``wxemu serve --host H --port P``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Optional, Sequence

from . import __version__, demo
from .server import DEFAULT_HOST, DEFAULT_PORT, in_use_message, make_server

_DESCRIPTION = """\
wxemu: a local emulator of the WeChat mini-program OpenAPI (access tokens, subscribe messages,
template library, jscode2session, quotas), with a control plane under /__wxemu__/ for tests.
Point a client's API base URL (WXAPUSH_API_BASE for wxapush) at the printed URL.
See docs/wxemu.md."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wxemu", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"wxemu {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve the emulator over HTTP until SIGINT/SIGTERM",
        description="Serve wxemu over HTTP/1.1; prints the base URL and a ready demo app "
        "(re-seeded by POST /__wxemu__/reset).",
    )
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port, 0 for any free one (default {DEFAULT_PORT})",
    )
    return parser


def _serve(host: str, port: int) -> int:
    try:
        server = make_server(host, port)
    except OSError as exc:
        print(in_use_message("wxemu serve", host, port, "--port", exc), file=sys.stderr)
        return 1
    info = demo.describe()
    print(f"wxemu {__version__} listening on {server.base_url}")
    print(f"  demo appid        {info['appid']}")
    print(f"  demo secret       {info['secret']}")
    print(f"  demo openid       {info['openid']}  ({info['grants']} one-time grants)")
    print(f"  demo template_id  {info['template_id']}  (one-time)")
    print(f"  long-term         {info['long_term_template_id']}")
    print(f"  control plane     {server.base_url}/__wxemu__/  (docs/wxemu.md)")
    print("Stop with Ctrl-C or SIGTERM.", flush=True)

    def stop(signum: int, frame: Optional[FrameType]) -> None:
        # shutdown() waits for serve_forever to return, so it cannot run in this (its) thread.
        threading.Thread(target=server.close, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    print("wxemu stopped.", flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``wxemu`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args.host, args.port)
    _parser().print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
