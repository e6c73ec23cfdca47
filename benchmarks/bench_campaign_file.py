"""A campaign of 200,000 from one ``wxapush broadcast --to-file``, drained through wxemu.

Run on demand: ``.venv/bin/python benchmarks/bench_campaign_file.py [--recipients N]
[--workers W] [--stores postgresql,redis,sqlite]``.

For each store: a file of N openids (all subscribed in wxemu) goes through the command's own
chunked create (open, append per chunk, start; the function's real entry point, in-process),
then W worker processes drain it with no rate limit. Printed: the chunks and the create's time,
the drain's rate, messages WeChat received twice (must be 0), recipients without an outcome
(must be 0), and the campaign's final status. wxemu runs in this process; loopback only.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Dict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_broadcast import DATA, SERVERS, worker  # noqa: E402

from tests.functional.store import _namespaces  # noqa: E402
from wxemu import demo  # noqa: E402
from wxemu.testing import RunningServer, running_server  # noqa: E402


def run(wx: RunningServer, store: str, args: argparse.Namespace, folder: str) -> Dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    url = {
        "postgresql": f"{SERVERS['postgresql']}?prefix={prefix}",
        "redis": f"{SERVERS['redis']}?prefix={prefix}",
        "sqlite": f"sqlite:///{folder}/{prefix}.db",
    }[store]
    env = {
        "WXAPUSH_APPID": demo.APPID,
        "WXAPUSH_APPSECRET": demo.SECRET,
        "WXAPUSH_API_BASE": wx.base_url,
        "WXAPUSH_BROADCAST_LEASE": "30",
        "WXAPUSH_GRANT_POLICY": "off",
        "WXAPUSH_STORE": url,
    }
    wx.reset()
    openids = [f"oBig{i:07d}".ljust(28, "x") for i in range(args.recipients)]
    for openid in openids:
        wx.emulator.grant(demo.APPID, openid, demo.TEMPLATE_ID, 1)
    listing = Path(folder) / f"{prefix}.txt"
    listing.write_text("\n".join(openids) + "\n")
    os.environ.update(env)
    from wxapush import cli_broadcast_file
    from wxapush.app import reset_app
    from wxapush.config import reset_settings
    from wxemu.gateway import load_handler

    reset_settings()
    reset_app()
    handler = load_handler(ROOT / "functions" / "broadcast" / "index.py")

    def direct(function: str, event: Dict[str, Any]) -> Dict[str, Any]:
        answer: Dict[str, Any] = handler(event, {"time_limit_in_ms": 600_000})
        return answer

    bid = f"file-{store}"
    began = time.monotonic()
    head = {"template_id": demo.TEMPLATE_ID, "data": DATA, "broadcast_id": bid}
    created = cli_broadcast_file.create(direct, head, str(listing))
    create_time = time.monotonic() - began
    assert created["errcode"] == 0 and created["total"] == args.recipients, created
    ctx = multiprocessing.get_context("spawn")
    limit = max(600.0, args.recipients / 20)
    procs = [ctx.Process(target=worker, args=(env, bid, limit)) for _ in range(args.workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=limit)
        if p.is_alive():
            p.kill()
    report = direct("broadcast", {"action": "status", "broadcast_id": bid})
    reset_app()
    if store == "postgresql":
        _namespaces.drop_sql(SERVERS["postgresql"], prefix)
    elif store == "redis":
        _namespaces.drop_redis(SERVERS["redis"], prefix)
    messages = wx.emulator.app(demo.APPID).messages
    stamps = sorted(m.accepted_at for m in messages)
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    counts = report["counts"]
    settled = sum(v for k, v in counts.items() if k not in ("queued", "deferred", "delivered"))
    return {
        "chunks": created["chunks"],
        "create": create_time,
        "rate": (len(stamps) - 1) / span if span > 0 else 0.0,
        "received": len({m.touser for m in messages}),
        "duplicates": sum(n - 1 for n in Counter(m.touser for m in messages).values()),
        "unaccounted": args.recipients - settled,
        "status": report["status"],
        "sent": counts["sent"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--stores", default="postgresql,redis,sqlite")
    args = parser.parse_args()
    print(f"{args.recipients} openids in one file, {args.workers} worker processes, no rate limit")
    print("| store | chunks | create (open + appends + start) | drain rate | received once "
          "| duplicates | unaccounted | status, sent |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder, running_server() as wx:
        for store in args.stores.split(","):
            row = run(wx, store, args, folder)
            print(f"| {store} | {row['chunks']} | {row['create']:.1f} s | {row['rate']:.0f}/s "
                  f"| {row['received']} | {row['duplicates']} | {row['unaccounted']} "
                  f"| {row['status']}, {row['sent']} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
