"""``wxapush broadcast``: create a campaign, watch it with a live progress bar, cancel it.

    wxapush broadcast --template ID -d thing1=… (--to-file FILE | --granted) [--id ID] [--wait]
    wxapush broadcast status ID [--wait]      # re-attach the progress bar to a campaign
    wxapush broadcast cancel ID

Calls the broadcast function in-process (direct shape, as a service) with the configuration of
the environment. The campaign is drained by the workers of the deployment (its timer, its
fan-out, or ``wxapush dev``); ``--work`` also drains it from this process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Dict, List

from wxapush import cli_broadcast_file

OVER = ("done", "cancelled")
BAR = 30


def add_parser(commands: Any, direct: Callable[..., Dict[str, Any]]) -> None:
    """Register ``broadcast`` on the ``wxapush`` command's subparsers."""
    parser = commands.add_parser(
        "broadcast",
        help="send one message to many users (a campaign), watch it, cancel it",
        description="Create a campaign (no ACTION), or show (status ID) or stop (cancel ID) one. "
        "Recipients come from --to-file (one openid a line; '#' starts a comment) or --granted "
        "(everyone the grant ledger says can receive the template).",
    )
    parser.add_argument("words", nargs="*", metavar="ACTION ID", help="status ID | cancel ID")
    parser.add_argument("--template", metavar="ID", help="the template id (create)")
    parser.add_argument(
        "--data",
        "-d",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one keyword value, e.g. -d thing1=限时降价 (repeatable)",
    )
    parser.add_argument("--to-file", metavar="PATH", help="openids, one a line")
    parser.add_argument("--granted", action="store_true", help="everyone granted the template")
    parser.add_argument("--page", help="page opened from the message")
    parser.add_argument("--id", metavar="BROADCAST_ID", help="choose the id: a repeat is a no-op")
    parser.add_argument("--wait", action="store_true", help="show a live progress bar until done")
    parser.add_argument("--work", action="store_true", help="also drain the queue from here")
    parser.add_argument(
        "--json", action="store_true", help="print the raw JSON answer (with --wait: the final one)"
    )
    parser.set_defaults(run=lambda args: run(args, direct), operator=True)


def run(args: argparse.Namespace, direct: Callable[..., Dict[str, Any]]) -> int:
    words: List[str] = args.words
    if words:
        if len(words) != 2 or words[0] not in ("status", "cancel"):
            return _usage("write `wxapush broadcast status ID` or `wxapush broadcast cancel ID`")
        action, bid = words
        result = direct("broadcast", {"action": action, "broadcast_id": bid})
    else:
        event = _create_event(args)
        if isinstance(event, str):
            return _usage(event)
        if args.to_file:  # any size: appended in chunks to one campaign (cli_broadcast_file)
            try:
                result = cli_broadcast_file.create(direct, event, args.to_file)
            except (OSError, UnicodeDecodeError) as exc:
                return _usage(f"--to-file: {getattr(exc, 'strerror', None) or exc}: {args.to_file}")
        else:
            result = direct("broadcast", event)
    if result.get("errcode") != 0 or not (args.wait or args.work):
        return _show(result, args.json)
    return watch(direct, result["broadcast_id"], work=args.work, raw=args.json)


def _create_event(args: argparse.Namespace) -> Any:
    if not args.template:
        return "--template is required to create a campaign"
    if bool(args.to_file) == bool(args.granted):
        return "give one of --to-file PATH and --granted"
    data: Dict[str, str] = {}
    for item in args.data:
        key, sep, value = item.partition("=")
        if not sep or not key:
            return f"--data {item!r}: write KEY=VALUE"
        data[key] = value
    event: Dict[str, Any] = {"template_id": args.template, "data": data}
    if args.granted:
        event["audience"] = {"granted": True}
    for name, value in (("page", args.page), ("broadcast_id", args.id)):
        if value:
            event[name] = value
    return event


def watch(
    direct: Callable[..., Dict[str, Any]], bid: str, work: bool = False, raw: bool = False
) -> int:
    """Redraw the progress bar until the campaign is over (Ctrl-C detaches; it goes on).

    ``raw`` (``--json``): no bar; the final status is printed as one JSON document.
    """
    tty = sys.stdout.isatty() and not raw
    try:
        while True:
            if work:
                direct("broadcast", {"action": "work"})
            report = direct("broadcast", {"action": "status", "broadcast_id": bid})
            if report.get("errcode") != 0 or (raw and report["status"] in OVER):
                return _show(report, raw)
            if not raw:
                line = progress_line(report)
                print(("\r" + line) if tty else line, end="" if tty else "\n", flush=True)
            if report["status"] in OVER:
                print()
                return 0
            time.sleep(0 if work else 1.0)
    except KeyboardInterrupt:
        print(f"\ndetached; the campaign goes on: wxapush broadcast status {bid} --wait")
        return 0


def progress_line(report: Dict[str, Any]) -> str:
    """``[#####-----]  50%  sent 5 failed 0 deferred 1 …  12.5/s  ETA 4s  running``."""
    counts, total = report["counts"], max(1, report["total"])
    settled = report["total"] - counts["queued"] - counts["deferred"]
    filled = int(BAR * settled / total)
    eta = report.get("eta_seconds")
    parts = [
        f"[{'#' * filled}{'-' * (BAR - filled)}] {100 * settled // total:3d}%",
        f"sent {counts['sent']}",
        f"failed {counts['failed'] + counts['rejected']}",
        f"deferred {counts['deferred']}",
        f"skipped {counts['not_subscribed'] + counts['capped'] + counts['cancelled']}",
        f"{report['rate']:.1f}/s",
        f"ETA {'-' if eta is None else f'{eta:.0f}s'}",
        report["status"],
    ]
    return "  ".join(parts)


def _show(result: Dict[str, Any], raw: bool) -> int:
    if raw or result.get("errcode") != 0 or "counts" not in result:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(f"broadcast {result['broadcast_id']}: {progress_line(result)}")
    return 0 if result.get("errcode") == 0 else 1


def _usage(message: str) -> int:
    print(f"wxapush broadcast: {message}", file=sys.stderr)
    return 2
