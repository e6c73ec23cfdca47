"""broadcast: a campaign drained by worker processes, beside plain keyed sends, through wxemu.

Run on demand: ``.venv/bin/python benchmarks/bench_broadcast.py [--recipients N] [--workers W]
[--rate R] [--scenarios plain,kill,faults] [--stores sqlite,redis,pg+redis,mariadb+redis]``.

For each store: N plain keyed ``send``s from W processes (the baseline, each process its share of
N distinct users), then each scenario's campaign of N recipients drained by W worker processes
invoking ``functions/broadcast`` with ``{"action": "work"}``, then the plain sends again; all
share ``WXAPUSH_RATE_LIMIT=R`` (``--rate 0``: no limit, so that the rates measure what a
recipient and a send cost; campaigns get all of it: ``WXAPUSH_BROADCAST_SHARE=1``). Printed per
scenario: the campaign's rate ÷ the plain sends' (the mean of the runs before and after it), the
achieved ÷ configured rate, WeChat messages sent twice (must be 0) and recipients unaccounted for
(must be 0). A rate is WeChat's accepted messages from the first to the last (the processes'
cold start is left out; a dead worker's lease wait is not).
Scenarios: ``plain``; ``kill`` — one worker SIGKILLed once a third is sent (its send in flight
may end ``unknown``); ``faults`` — wxemu fails about 5 % of sends (``-1``, HTTP 503), which the
send path retries. wxemu runs in this process (its server threads; this process only waits);
loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import tempfile
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
    "mysql": os.environ.get("WXAPUSH_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"),
}
SQL = {"pg+redis": "postgresql", "mariadb+redis": "mysql"}
STORES = ("sqlite", "redis", *SQL)
DATA = {
    "thing1": "限时降价",
    "character_string2": "SF1234567890",
    "date3": "2026-11-27 10:30",
    "amount6": "¥99.00",
}
SEND_PATH = "/cgi-bin/message/subscribe/send"
CONTEXT = {"time_limit_in_ms": 20_000}


def worker(env: Dict[str, str], bid: str, limit: float) -> None:
    """One campaign worker process: work until the campaign is over."""
    os.environ.update(env)
    from wxemu.gateway import load_handler

    handler = load_handler(ROOT / "functions" / "broadcast" / "index.py")
    give_up = time.monotonic() + limit
    while time.monotonic() < give_up:
        worked = handler({"action": "work"}, CONTEXT)
        if worked["errcode"] != 0:
            raise SystemExit(f"work failed: {worked}")
        report = handler({"action": "status", "broadcast_id": bid}, CONTEXT)
        if report["status"] in ("done", "cancelled"):
            return
        if not worked["worked"]:
            time.sleep(0.2)


def sender(env: Dict[str, str], openids: List[str], limit: float) -> None:
    """One process of plain keyed sends, one per user, each retried while it is retryable
    (the shared rate's wait ran out, a WeChat fault) under the same key."""
    os.environ.update(env)
    from wxemu.gateway import load_handler

    handler = load_handler(ROOT / "functions" / "send" / "index.py")
    give_up = time.monotonic() + limit
    for openid in openids:
        event = {"touser": openid, "template_id": demo.TEMPLATE_ID, "data": DATA,
                 "idempotency_key": f"plain:{openid}"}  # fmt: skip
        while True:
            answer = handler(event, CONTEXT)
            if answer["errcode"] == 0:
                break
            if not answer.get("retryable") or time.monotonic() > give_up:
                raise SystemExit(f"send failed: {answer}")
            time.sleep(0.05)


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


class Phase:
    """One store's namespace and environment for one run of sends or of a campaign."""

    def __init__(self, wx: RunningServer, store: str, args: argparse.Namespace) -> None:
        self.wx, self.store, self.args = wx, store, args
        self.prefix = f"bench{uuid.uuid4().hex[:8]}"
        self.env = {
            "WXAPUSH_APPID": demo.APPID,
            "WXAPUSH_APPSECRET": demo.SECRET,
            "WXAPUSH_API_BASE": wx.base_url,
            # The campaign alone, at the whole rate: what the store and the workers can drain.
            "WXAPUSH_BROADCAST_SHARE": "1",
            "WXAPUSH_BROADCAST_LEASE": "30",
            "WXAPUSH_GRANT_POLICY": "off",
        }
        os.environ.pop("WXAPUSH_RATE_LIMIT", None)
        if args.rate:
            self.env["WXAPUSH_RATE_LIMIT"] = str(args.rate)
        if store == "sqlite":
            self.env["WXAPUSH_STORE"] = f"sqlite:///{args.tmp}/{self.prefix}.db"
        elif store in SQL:
            self.env["WXAPUSH_STORE"] = f"{SERVERS[SQL[store]]}?prefix={self.prefix}"
            self.env["WXAPUSH_CACHE"] = f"{SERVERS['redis']}?prefix={self.prefix}"
        else:
            self.env["WXAPUSH_STORE"] = f"{SERVERS['redis']}?prefix={self.prefix}"
        self.limit = max(600.0, 30 * args.recipients / (args.rate or 300))  # a loaded machine
        wx.reset()
        self.openids = [f"oBench{i:07d}".ljust(28, "x") for i in range(args.recipients)]
        for openid in self.openids:
            wx.emulator.grant(demo.APPID, openid, demo.TEMPLATE_ID, 1)
        os.environ.update(self.env)
        from wxapush.app import reset_app
        from wxapush.config import reset_settings

        reset_settings()
        reset_app()

    def handler(self, name: str) -> Any:
        from wxemu.gateway import load_handler

        return load_handler(ROOT / "functions" / name / "index.py")

    def drain(self, procs: List[Any], kill: bool = False) -> float:
        """Start the processes, wait for them; the wall time."""
        started = time.monotonic()
        for p in procs:
            p.start()
        try:
            if kill:
                while len(self.wx.emulator.app(demo.APPID).messages) < self.args.recipients // 3:
                    time.sleep(0.05)
                os.kill(procs[0].pid or 0, signal.SIGKILL)
            for p in procs:
                p.join(timeout=self.limit)
            return time.monotonic() - started
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()

    def rate(self) -> float:
        """WeChat's accepted messages per second, from the first to the last."""
        stamps = sorted(m.accepted_at for m in self.wx.emulator.app(demo.APPID).messages)
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        return (len(stamps) - 1) / span if span > 0 else 0.0

    def close(self) -> None:
        from wxapush.app import reset_app

        reset_app()
        if self.store != "sqlite":
            _namespaces.drop_redis(SERVERS["redis"], self.prefix)
        if self.store in SQL:
            _namespaces.drop_sql(SERVERS[SQL[self.store]], self.prefix)


def plain_sends(wx: RunningServer, store: str, args: argparse.Namespace) -> float:
    """The baseline: the rate of N keyed sends from W processes on a fresh namespace."""
    phase = Phase(wx, store, args)
    ctx = multiprocessing.get_context("spawn")
    share = phase.openids
    procs = [
        ctx.Process(target=sender, args=(phase.env, share[i :: args.workers], phase.limit))
        for i in range(args.workers)
    ]
    phase.drain(procs)
    sent = len(wx.emulator.app(demo.APPID).messages)
    rate = phase.rate()
    phase.close()
    if sent != args.recipients:
        raise SystemExit(f"{store}: {sent} of {args.recipients} plain sends accepted")
    return rate


def campaign(
    wx: RunningServer, store: str, scenario: str, args: argparse.Namespace
) -> Dict[str, Any]:
    phase = Phase(wx, store, args)
    broadcast = phase.handler("broadcast")
    bid = f"bench-{scenario}"
    created = broadcast(
        {"template_id": demo.TEMPLATE_ID, "data": DATA, "recipients": phase.openids,
         "broadcast_id": bid},
        {"time_limit_in_ms": 600_000},
    )  # fmt: skip
    assert created["errcode"] == 0, created
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=worker, args=(phase.env, bid, phase.limit)) for _ in range(args.workers)
    ]
    hooks = list(wx.emulator.message_hooks)
    if scenario == "faults":
        inject_faults(wx, 0.05)
    try:
        elapsed = phase.drain(procs, kill=scenario == "kill")
    finally:
        wx.emulator.message_hooks[:] = hooks
    report = broadcast({"action": "status", "broadcast_id": bid}, {})
    rate = phase.rate()
    phase.close()
    counts = report["counts"]
    per_user = Counter(m.touser for m in wx.emulator.app(demo.APPID).messages)
    accounted = sum(v for k, v in counts.items() if k not in ("queued", "deferred", "delivered"))
    return {
        "status": report["status"],
        "rate": rate,
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
    parser.add_argument("--rate", type=float, default=500.0, help="WXAPUSH_RATE_LIMIT; 0: none")
    parser.add_argument("--scenarios", default="plain,kill,faults")
    parser.add_argument("--stores", default="pg+redis,redis", help=f"of {','.join(STORES)}")
    args = parser.parse_args()
    stores = args.stores.split(",")
    unknown = sorted(set(stores) - set(STORES))
    if unknown:
        parser.error(f"unknown store {', '.join(unknown)}: choose from {', '.join(STORES)}")
    configured = f"WXAPUSH_RATE_LIMIT={args.rate:g}" if args.rate else "no rate limit"
    print(f"{args.recipients} recipients, {args.workers} worker processes, {configured}")
    print("| store | scenario | status | campaign ÷ plain keyed sends | achieved ÷ configured rate "
          "| duplicates | unaccounted | unknown | failed | wall time |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp, running_server() as wx:
        args.tmp = tmp
        for store in stores:
            before = plain_sends(wx, store, args)
            rows = [(scenario, campaign(wx, store, scenario, args))
                    for scenario in args.scenarios.split(",")]  # fmt: skip
            after = plain_sends(wx, store, args)
            plain = (before + after) / 2
            for scenario, row in rows:
                against = (f"{row['rate']:.0f}/s ÷ {args.rate:g}/s = "
                           f"{row['rate'] / args.rate:.2f}") if args.rate else "—"  # fmt: skip
                print(f"| {store} | {scenario} | {row['status']} | {row['rate']:.0f}/s ÷ "
                      f"{plain:.0f}/s ({before:.0f}, {after:.0f}) = {row['rate'] / plain:.2f} "
                      f"| {against} | {row['duplicates']} | {row['unaccounted']} "
                      f"| {row['unknown']} | {row['failed']} | {row['elapsed']:.0f} s |",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
