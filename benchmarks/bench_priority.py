"""Order messages while a campaign saturates its share of WXAPUSH_RATE_LIMIT, through wxemu.

Run on demand: ``.venv/bin/python benchmarks/bench_priority.py [--rate R] [--workers W]
[--orders N] [--order-rate O] [--store redis]``.

Three phases on one store, each sending N order messages (single ``send`` calls, in this
process, one every 1/O s) and timing each call: ``alone`` — no campaign (the baseline);
``share 0.5`` — W worker processes drain a campaign with ``WXAPUSH_BROADCAST_SHARE=0.5``;
``share 1`` — the same with the campaigns allowed the whole rate (the behaviour before the
share existed: one bucket for everything). Printed per phase: the order sends' latency (median,
p95, max) against the baseline's, and the rates achieved by the orders and the campaign.
wxemu runs in this process; loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.functional.store import _namespaces  # noqa: E402
from wxemu import demo  # noqa: E402
from wxemu.testing import RunningServer, running_server  # noqa: E402

REDIS = os.environ.get("WXAPUSH_TEST_REDIS", "redis://127.0.0.1:6379/15")
DATA = {
    "thing1": "限时降价",
    "character_string2": "SF1234567890",
    "date3": "2026-11-27 10:30",
    "amount6": "¥99.00",
}


def worker(env: Dict[str, str], stop_at: float) -> None:
    """One worker process: work until ``stop_at`` (wall clock)."""
    os.environ.update(env)
    from wxemu.gateway import load_handler

    handler = load_handler(ROOT / "functions" / "broadcast" / "index.py")
    while time.time() < stop_at:
        left_ms = int((stop_at - time.time()) * 1000)
        if left_ms < 4000:
            return
        handler({"action": "work"}, {"time_limit_in_ms": min(left_ms, 20_000)})


def phase(wx: RunningServer, base_env: Dict[str, str], share: str, args: Any) -> Dict[str, Any]:
    wx.reset()
    from wxapush.app import reset_app
    from wxapush.config import reset_settings
    from wxemu.gateway import load_handler

    env = {**base_env, "WXAPUSH_BROADCAST_SHARE": share or "1"}
    os.environ.update(env)
    reset_settings()
    reset_app()
    send = load_handler(ROOT / "functions" / "send" / "index.py")
    broadcast = load_handler(ROOT / "functions" / "broadcast" / "index.py")
    orders = [f"oOrder{i:07d}".ljust(28, "x") for i in range(args.orders)]
    for openid in orders:
        wx.emulator.grant(demo.APPID, openid, demo.TEMPLATE_ID, 1)
    duration = args.orders / args.order_rate
    procs: List[Any] = []
    if share:
        recipients = [f"oCamp{i:07d}".ljust(28, "x") for i in range(int(args.rate * 60))]
        for openid in recipients:
            wx.emulator.grant(demo.APPID, openid, demo.TEMPLATE_ID, 1)
        bid = f"bench-{uuid.uuid4().hex[:8]}"
        created = broadcast(
            {"template_id": demo.TEMPLATE_ID, "data": DATA, "recipients": recipients,
             "broadcast_id": bid},
            {"time_limit_in_ms": 600_000},
        )  # fmt: skip
        assert created["errcode"] == 0, created
        ctx = multiprocessing.get_context("spawn")
        stop_at = time.time() + duration + 15
        procs = [ctx.Process(target=worker, args=(env, stop_at)) for _ in range(args.workers)]
        for p in procs:
            p.start()
        time.sleep(5)  # the workers' cold start; then the campaign runs at its pace
    latencies: List[float] = []
    began = time.monotonic()
    sent_before = len(wx.emulator.app(demo.APPID).messages)
    for i, openid in enumerate(orders):
        pause = began + i / args.order_rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        t = time.perf_counter()
        answer = send(
            {"touser": openid, "template_id": demo.TEMPLATE_ID, "data": DATA},
            {"time_limit_in_ms": 30_000},
        )
        latencies.append(time.perf_counter() - t)
        assert answer["errcode"] == 0, answer
    span = time.monotonic() - began
    campaign_sent = len(wx.emulator.app(demo.APPID).messages) - sent_before - len(orders)
    if share:
        broadcast({"action": "cancel", "broadcast_id": bid}, {"time_limit_in_ms": 30_000})
    for p in procs:
        p.join(timeout=40)
        if p.is_alive():
            p.kill()
    reset_app()
    latencies.sort()
    return {
        "median": statistics.median(latencies),
        "p95": latencies[int(0.95 * (len(latencies) - 1))],
        "max": latencies[-1],
        "orders": len(orders) / span,
        "campaign": campaign_sent / span,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--order-rate", type=float, default=10.0)
    parser.add_argument("--store", default="redis", choices=("redis", "sqlite"))
    args = parser.parse_args()
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    store = (
        f"{REDIS}?prefix={prefix}"
        if args.store == "redis"
        else f"sqlite:///{ROOT / '.wxapush' / (prefix + '.db')}"
    )
    with running_server() as wx:
        base_env = {
            "WXAPUSH_APPID": demo.APPID,
            "WXAPUSH_APPSECRET": demo.SECRET,
            "WXAPUSH_API_BASE": wx.base_url,
            "WXAPUSH_RATE_LIMIT": str(args.rate),
            "WXAPUSH_BROADCAST_LEASE": "30",
            "WXAPUSH_GRANT_POLICY": "off",
            "WXAPUSH_STORE": store,
        }
        print(f"store {args.store}, WXAPUSH_RATE_LIMIT={args.rate:g}, {args.workers} worker "
              f"processes, {args.orders} order sends at {args.order_rate:g}/s")  # fmt: skip
        print("| phase | order latency median | p95 | max | ÷ baseline (median, p95) "
              "| orders/s | campaign/s |")  # fmt: skip
        print("| --- | --- | --- | --- | --- | --- | --- |")
        base: Dict[str, Any] = {}
        try:
            for name, share in (("alone", ""), ("share 0.5", "0.5"), ("share 1", "1")):
                row = phase(wx, base_env, share, args)
                base = base or row
                print(f"| {name} | {row['median'] * 1000:.1f} ms | {row['p95'] * 1000:.1f} ms "
                      f"| {row['max'] * 1000:.1f} ms | {row['median'] / base['median']:.2f}, "
                      f"{row['p95'] / base['p95']:.2f} | {row['orders']:.1f} "
                      f"| {row['campaign']:.1f} |", flush=True)  # fmt: skip
        finally:
            if args.store == "redis":
                _namespaces.drop_redis(REDIS, prefix)


if __name__ == "__main__":
    main()
