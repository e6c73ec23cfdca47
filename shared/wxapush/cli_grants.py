"""``wxapush grants import``: bring subscribers a store never saw into the grant ledger.

The ledger learns grants from WeChat's pushes and the front ends' ``record_subscription`` from
the day wxapush runs; subscribers from before are unknown to it, and WeChat has no API that
lists what a user allowed. The operator's own records (what the app stored of each
``wx.requestSubscribeMessage`` result) fill the gap: CSV or JSON lines of openid, template and
a count (one-time messages allowed) or ``long-term``.

A row only fills in what the ledger has never recorded for its (openid, template): a grant it
learned since, or a refusal (reject, ban, 43101), is newer than any export and is kept, so an
import run twice changes nothing the second time.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

LONG_TERM = ("long-term", "long_term", "longterm", "permanent")
#: A count above this is surely a mistake (a one-time grant is one message).
MAX_COUNT = 10_000


@dataclass(frozen=True)
class Row:
    line: int
    openid: str
    template_id: str
    count: Optional[int]  # None: long-term


class RowError(ValueError):
    pass


def add_parser(commands: Any) -> None:
    grants = commands.add_parser(
        "grants",
        help="the grant ledger: import the subscribers it never saw",
        description="Operator tools for the grant ledger (WXAPUSH_GRANT_POLICY).",
    )
    actions = grants.add_subparsers(title="actions", metavar="ACTION")
    imp = actions.add_parser(
        "import",
        help="add grants from a CSV or JSON-lines file",
        description="Read openid, template and count (a number of one-time messages, or "
        "long-term) per line and record each grant the ledger has never recorded for that "
        "user and template; grants and refusals it knows are kept. CSV needs a header naming "
        "openid, template_id (or template) and count; JSON lines are objects with the same "
        "keys. The store is the configured one (WXAPUSH_STORE / _SSM), the app WXAPUSH_APPID.",
        epilog="Exit status: 0 when every line was imported or already known, 1 when a line "
        "was refused (each is named with its line number), 2 for an unreadable file.",
    )
    imp.add_argument("file", help="the file; - reads standard input")
    imp.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        help="csv or jsonl (default: by the file's extension, else csv)",
    )
    imp.add_argument("--template", metavar="ID", help="the template of lines that name none")
    imp.add_argument(
        "--dry-run", action="store_true", help="check the file and count, write nothing"
    )
    imp.set_defaults(run=run_import, operator=True)


def _count(raw: Any) -> Optional[int]:
    if isinstance(raw, str) and raw.strip().lower() in LONG_TERM:
        return None
    if isinstance(raw, bool):
        raise RowError("count must be a whole number or long-term")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise RowError(f"count must be a whole number or long-term, got {raw!r}") from None
    if not 1 <= value <= MAX_COUNT:
        raise RowError(f"count must be from 1 to {MAX_COUNT}, got {value}")
    return value


def _row(line: int, item: Dict[str, Any], default_template: Optional[str]) -> Row:
    openid = str(item.get("openid") or "").strip()
    template_id = str(item.get("template_id") or item.get("template") or default_template or "")
    if not openid:
        raise RowError("no openid")
    if not template_id.strip():
        raise RowError("no template (a template_id column, or --template)")
    raw = item.get("count", 1)
    return Row(line, openid, template_id.strip(), _count("1" if raw in ("", None) else raw))


def read_rows(text: str, fmt: str, default_template: Optional[str]) -> Iterator[Tuple[int, Any]]:
    """(line, Row or RowError) for each line holding a record."""
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise RowError("each line must be a JSON object")
                yield number, _row(number, item, default_template)
            except (ValueError, RowError) as exc:  # JSONDecodeError is a ValueError
                yield number, RowError(str(exc))
        return
    reader = csv.DictReader(io.StringIO(text))
    names = {name.strip().lower() for name in reader.fieldnames or ()}
    if "openid" not in names:
        raise RowError("the CSV header must name openid (and template_id, count)")
    for item in reader:
        number = reader.line_num
        cleaned = {(k or "").strip().lower(): (v or "").strip() for k, v in item.items()}
        try:
            yield number, _row(number, cleaned, default_template)
        except RowError as exc:
            yield number, exc


def _open_store(appid_setting: str) -> Any:
    from wxapush.app import open_shared_store
    from wxapush.config import Settings, configured_store_urls

    store, cache = configured_store_urls(os.environ)
    return open_shared_store(Settings(appid=appid_setting, store_url=store, cache_url=cache))


def _import(
    store: Any, appid: str, rows: List[Row], dry_run: bool
) -> Tuple[Dict[str, int], List[str]]:
    counts = {"imported": 0, "known": 0, "refused": 0}
    problems: List[str] = []
    kinds: Dict[str, Optional[int]] = {}
    for row in rows:
        if row.template_id not in kinds:
            info = store.templates.get_template(appid, row.template_id)
            kinds[row.template_id] = None if info is None else info.type
        if row.count is None and kinds[row.template_id] == 2:
            counts["refused"] += 1
            problems.append(
                f"line {row.line}: template {row.template_id} is one-time: give a count"
            )
            continue
        if store.grants.balance(appid, row.openid, row.template_id) is not None:
            counts["known"] += 1
            continue
        if not dry_run:
            store.grants.grant(appid, row.openid, row.template_id, row.count or 1)
        counts["imported"] += 1
    unknown = sorted(t for t, kind in kinds.items() if kind is None)
    if unknown:
        problems.append(
            "not in the template registry yet (refresh_code syncs it; a long-term template "
            "counts as one-time until then): " + ", ".join(unknown)
        )
    return counts, problems


def run_import(args: argparse.Namespace) -> int:
    from wxapush.config import env_value
    from wxapush.errors import WxapushError

    fmt = args.format or ("jsonl" if str(args.file).endswith((".jsonl", ".ndjson")) else "csv")
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8-sig") as handle:
                text = handle.read()
        parsed = list(read_rows(text, fmt, args.template))
    except (OSError, UnicodeDecodeError, RowError, csv.Error) as exc:
        print(f"wxapush grants import: {args.file}: {exc}", file=sys.stderr)
        return 2
    rows = [item for _, item in parsed if isinstance(item, Row)]
    problems = [f"line {n}: {item}" for n, item in parsed if isinstance(item, RowError)]
    appid = env_value(os.environ, "WXAPUSH_APPID")
    if appid is None:
        print("wxapush grants import: WXAPUSH_APPID is not set", file=sys.stderr)
        return 2
    try:
        store = _open_store(appid)
    except WxapushError as error:
        print(f"wxapush grants import: {error.errmsg}", file=sys.stderr)
        return 2
    try:
        counts, more = _import(store, appid, rows, args.dry_run)
    finally:
        store.close()
    counts["refused"] += len(problems)
    for problem in problems + more:
        print(problem, file=sys.stderr)
    verb = "would import" if args.dry_run else "imported"
    print(
        f"{verb} {counts['imported']} grant(s); {counts['known']} already in the ledger (kept); "
        f"{counts['refused']} line(s) refused"
    )
    return 1 if counts["refused"] else 0
