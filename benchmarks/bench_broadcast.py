"""broadcast: a campaign drained by worker processes at a shared rate, through wxemu.

Run on demand: ``.venv/bin/python benchmarks/bench_broadcast.py [--recipients N] [--workers W]
[--rate R] [--scenarios plain,kill,faults] [--stores pg+redis,redis]``.

For each store and scenario: N recipients (all subscribed in wxemu), W worker processes each
invoking ``functions/broadcast`` with ``{"action": "work"}`` until the campaign is done, all
sharing ``WXAPUSH_RATE_LIMIT=R`` (all of it: ``WXAPUSH_BROADCAST_SHARE=1``). Printed: the
achieved rate against the configured one (the baseline), WeChat messages sent twice (must be
0) and recipients unaccounted for (must be 0).
Scenarios: ``plain``; ``kill`` — one worker SIGKILLed once a third is sent (its send in flight
may end ``unknown``); ``faults`` — wxemu fails about 5 % of sends (``-1``, HTTP 503), which the
send path retries. wxemu runs in this process; loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.functional.store import _namespaces  # noqa: E402
from wxemu import demo  # noqa: E402
from wxemu.testing import RunningServer, running_server  # noqa: E402

SERVERS = {
    "redis": os.environ.get("WXAPUSH_TEST_REDIS", "redis://127.0.0.1:6379/15"),
    "postgresql": os.environ.get("WXAPUSH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1/test"),
}
DATA = {
    "thing1": "限时降价",
    "character_string2": "SF1234567890",
    "date3": "2026-11-27 10:30",
    "amount6": "¥99.00",
}
SEND_PATH = "/cgi-bin/message/subscribe/send"


def worker(env: Dict[str, str], bid: str, limit: float) -> None:
    """One worker process: work until the campaign is over."""
    os.environ.update(env)
    from wxemu.gateway import load_handler

    handler = load_handler(ROOT / "functions" / "broadcast" / "index.py")
    context = {"time_limit_in_ms": 20_000}
    give_up = time.monotonic() + limit
    while time.monotonic() < give_up:
        worked = handler({"action": "work"}, context)
        if worked["errcode"] != 0:
            raise SystemExit(f"work failed: {worked}")
        report = handler({"action": "status", "broadcast_id": bid}, context)
        if report["status"] in ("done", "cancelled"):
            return
        if not worked["worked"]:
            time.sleep(0.2)


def inject_faults(wx: RunningServer, share: float) -> None:
    """After every ``1/share - 1`` accepted sends, the next send meets a fault (alternately
    WeChat's ``-1`` and an HTTP 503): about ``share`` of the calls, whatever the rate."""
    from wxemu.models import Fault

    every, seen = round(1 / share) - 1, [0]

    def hook(app: Any, message: Any) -> None:
        seen[0] += 1
        if seen[0] % every == 0:
            errcode, status = (-1, None) if seen[0] // every % 2 else (None, 503)
            wx.emulator.add_fault(Fault(SEND_PATH, errcode=errcode, status=status))

    wx.emulator.message_hooks.append(hook)


def run(wx: RunningServer, store: str, scenario: str, args: argparse.Namespace) -> Dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    env = {
        "WXAPUSH_APPID": demo.APPID,
        "WXAPUSH_APPSECRET": demo.SECRET,
        "WXAPUSH_API_BASE": wx.base_url,
        "WXAPUSH_RATE_LIMIT": str(args.rate),
        # The campaign alone, at the whole rate: what the store and the workers can drain.
        "WXAPUSH_BROADCAST_SHARE": "1",
        "WXAPUSH_BROADCAST_LEASE": "30",
        "WXAPUSH_GRANT_POLICY": "off",
    }
    if store == "pg+redis":
        env["WXAPUSH_STORE"] = f"{SERVERS['postgresql']}?prefix={prefix}"
        env["WXAPUSH_CACHE"] = f"{SERVERS['redis']}?prefix={prefix}"
    else:
        env["WXAPUSH_STORE"] = f"{SERVERS['redis']}?prefix={prefix}"
    wx.reset()
    openids = [f"oBench{i:07d}".ljust(28, "x") for i in range(args.recipients)]
    for openid in openids:
        wx.emulator.grant(demo.APPID, openid, demo.TEMPLATE_ID, 1)
    os.environ.update(env)
    from wxapush.app import reset_app
    from wxapush.config import reset_settings
    from wxemu.gateway import load_handler

    reset_settings()
    reset_app()
    broadcast = load_handler(ROOT / "functions" / "broadcast" / "index.py")
    bid = f"bench-{scenario}"
    created = broadcast(
        {"template_id": demo.TEMPLATE_ID, "data": DATA, "recipients": openids, "broadcast_id": bid},
        {"time_limit_in_ms": 600_000},
    )
    assert created["errcode"] == 0, created
    ctx = multiprocessing.get_context("spawn")
    limit = max(600.0, 30 * args.recipients / args.rate)  # a loaded machine is slow
    procs = [ctx.Process(target=worker, args=(env, bid, limit)) for _ in range(args.workers)]
    hooks = list(wx.emulator.message_hooks)
    if scenario == "faults":
        inject_faults(wx, 0.05)
    started = time.monotonic()
    for p in procs:
        p.start()
    try:
        if scenario == "kill":
            while len(wx.emulator.app(demo.APPID).messages) < args.recipients // 3:
                time.sleep(0.05)
            os.kill(procs[0].pid or 0, signal.SIGKILL)
        for p in procs:
            p.join(timeout=limit)
        elapsed = time.monotonic() - started
    finally:
        wx.emulator.message_hooks[:] = hooks
        for p in procs:
            if p.is_alive():
                p.kill()
    report = broadcast({"action": "status", "broadcast_id": bid}, {})
    reset_app()
    _namespaces.drop_redis(SERVERS["redis"], prefix)
    if store == "pg+redis":
        _namespaces.drop_sql(SERVERS["postgresql"], prefix)
    counts = report["counts"]
    messages = wx.emulator.app(demo.APPID).messages
    per_user = Counter(m.touser for m in messages)
    # The achieved rate: WeChat's accepted messages from the first to the last (the workers'
    # start-up, a cost of this benchmark's cold processes, is left out; a dead worker's lease
    # wait is not).
    stamps = sorted(m.accepted_at for m in messages)
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    accounted = sum(v for k, v in counts.items() if k not in ("queued", "deferred", "delivered"))
    return {
        "status": report["status"],
        "rate": (len(stamps) - 1) / span if span > 0 else 0.0,
        "elapsed": elapsed,
        "duplicates": sum(n - 1 for n in per_user.values()),
        "unaccounted": args.recipients - accounted,
        "unknown": counts["unknown"],
        "failed": counts["failed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--scenarios", default="plain,kill,faults")
    parser.add_argument("--stores", default="pg+redis,redis")
    args = parser.parse_args()
    print(f"{args.recipients} recipients, {args.workers} worker processes, "
          f"WXAPUSH_RATE_LIMIT={args.rate:g}")  # fmt: skip
    print("| store | scenario | status | achieved / configured rate | duplicates | unaccounted "
          "| unknown | failed | wall time |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rows: List[Dict[str, Any]] = []
    with running_server() as wx:
        for store in args.stores.split(","):
            for scenario in args.scenarios.split(","):
                row = run(wx, store, scenario, args)
                rows.append(row)
                print(f"| {store} | {scenario} | {row['status']} | {row['rate']:.0f}/s ÷ "
                      f"{args.rate:g}/s = {row['rate'] / args.rate:.2f} | {row['duplicates']} "
                      f"| {row['unaccounted']} | {row['unknown']} | {row['failed']} "
                      f"| {row['elapsed']:.0f} s |",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
