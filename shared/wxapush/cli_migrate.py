"""``wxapush migrate``: the store's schema as an operation, run ahead of a deploy.

Without ``--apply`` it only reads: where each configured store is (``WXAPUSH_STORE``, and
``WXAPUSH_CACHE`` when set, or their ``_SSM`` forms), its schema version, this release's, and
the steps that would run. ``--apply`` runs them, under the same lock a cold start takes, and
says what it did. docs/deploy.md ("Upgrading and rolling back") says when to run it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple


def add_parser(commands: Any) -> None:
    migrate = commands.add_parser(
        "migrate",
        help="show the store's schema steps this release would run, or run them (--apply)",
        description="Compare the configured store's schema (WXAPUSH_STORE, and WXAPUSH_CACHE "
        "when set) with this release's and list the steps pending; --apply runs them and says "
        "what it did. Run it with the new release before deploying it (docs/deploy.md).",
        epilog="Exit status: 0 when every store is usable by this release (after --apply: "
        "migrated), 1 when a store is unreachable or was written by a newer release.",
    )
    migrate.add_argument("--apply", action="store_true", help="run the pending steps")
    migrate.add_argument(
        "--store",
        metavar="URL",
        help="this store instead of the configured ones (a URL as in WXAPUSH_STORE)",
    )
    migrate.add_argument("--json", action="store_true", help="print one JSON document")
    migrate.set_defaults(run=run_migrate, operator=True)


def _targets(args: argparse.Namespace) -> List[Tuple[str, Optional[str]]]:
    """(setting, URL) of each store to migrate; URL None is the embedded default."""
    if args.store:
        return [("--store", args.store)]
    from wxapush.config import configured_store_urls

    store, cache = configured_store_urls(os.environ)
    return [("WXAPUSH_STORE", store)] + ([("WXAPUSH_CACHE", cache)] if cache else [])


def _one(setting: str, url: Optional[str], apply: bool) -> Tuple[Dict[str, Any], List[str]]:
    """The report of one store: a JSON-able dict and the lines a person reads."""
    from wxapush.store import schema_state

    before = after = schema_state.inspect(url)
    if apply and before.usable:
        before, after = schema_state.migrate(url)
    ran = before.pending if after is not before else ()
    report: Dict[str, Any] = {
        "setting": setting,
        "backend": after.backend,
        "where": after.where,
        "version": after.version,
        "target": after.target,
        "usable": after.usable,
        "pending": list(after.pending),
        "applied": list(ran),
    }
    lines = [f"{setting}: {after.describe()}"]
    if ran:
        lines[0] = f"{setting}: applied {len(ran)} step(s); {after.describe()}"
    lines += [f"  {step}" for step in (ran or after.pending)]
    if not after.usable:
        lines.append(
            "  this release cannot use it: deploy the release that migrated it (roll forward), "
            "or restore the backup taken before it migrated (docs/deploy.md)"
        )
    return report, lines


def run_migrate(args: argparse.Namespace) -> int:
    from wxapush.errors import WxapushError, redact, url_password

    reports: List[Dict[str, Any]] = []
    lines: List[str] = []
    status = 0
    try:
        targets = _targets(args)
    except WxapushError as error:
        print(f"wxapush migrate: {error.errmsg}", file=sys.stderr)
        return 1
    for setting, url in targets:
        try:
            report, said = _one(setting, url, args.apply)
        except WxapushError as error:
            report, said = {"setting": setting, "error": error.errmsg}, [error.errmsg]
        except Exception as exc:  # a driver's: unreachable, refused, timed out
            text = f"{setting}: {type(exc).__name__}: {redact(str(exc), url_password(url or ''))}"
            report, said = {"setting": setting, "error": text}, [text]
        if "error" in report or not report["usable"]:
            status = 1
        reports.append(report)
        lines += said
    pending = any(r.get("pending") for r in reports)
    if args.json:
        print(json.dumps({"stores": reports, "applied": args.apply}, ensure_ascii=False, indent=2))
    else:
        print("\n".join(lines))
        if pending and not args.apply and status == 0:
            print("nothing changed: `wxapush migrate --apply` runs the steps above")
    return status
