"""broadcast's queue: what a lease (and settling it) costs at 10³ recipients and at 10⁶.

Run on demand: ``.venv/bin/python benchmarks/bench_lease.py [--small N] [--large N]
[--batch B] [--leases K] [--stores sqlite,redis,postgresql,mysql]``.

For each store and size: a campaign of N recipients is built the way a large one is (``open``,
``append`` in chunks of 10,000, ``start``); then K leases of B recipients are taken and settled
``sent`` (as a worker does, so that settled rows lie ahead of the due ones, as in a drain), and
K more are timed right away ("at start": the database is still cleaning up after the start's
update of every row — PostgreSQL's autovacuum, InnoDB's purge) and K more after ``--quiet``
seconds (the steady state of a drain, which lasts ~N ÷ rate seconds). Printed: the median time
of a lease and of its settle at each size, and the ratio large ÷ small (the baseline is the
small campaign, measured in the same run; aim ≈ 1). Store calls only (no sends): the queue's own
cost. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "shared"))

from tests.functional.store import _namespaces  # noqa: E402
from wxapush.store import Store, open_store  # noqa: E402
from wxapush.store.base import Campaign, Recipient  # noqa: E402

SERVERS = {
    "redis": os.environ.get("WXAPUSH_TEST_REDIS", "redis://127.0.0.1:6379/15"),
    "postgresql": os.environ.get("WXAPUSH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1/test"),
    "mysql": os.environ.get("WXAPUSH_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"),
}
APP = "wxbenchlease"
CHUNK = 10_000
NOW = 1_900_000_000.0


def build(store: Store, size: int) -> str:
    bid = f"lease-{size}"
    head = Campaign(bid, APP, "tpl", None, {"thing1": {"value": "x"}}, "formal", "zh_CN",
                    "open", 0, NOW, NOW, "h")  # fmt: skip
    store.campaigns.create(head, [])
    for start in range(0, size, CHUNK):
        chunk = [Recipient(seq, f"oLease{seq:09d}".ljust(28, "x"))
                 for seq in range(start, min(size, start + CHUNK))]  # fmt: skip
        status, clash = store.campaigns.append(APP, bid, chunk, NOW)
        assert status == "open" and not clash, (status, clash)
    assert store.campaigns.start(APP, bid, NOW)
    return bid


def timed(store: Store, batch: int, leases: int, now: float) -> Dict[str, float]:
    q = store.campaigns
    took: Dict[str, List[float]] = {"lease": [], "settle": []}
    for _ in range(leases):
        t = time.perf_counter()
        got = q.lease(APP, "bench", now, 600, batch)
        took["lease"].append(time.perf_counter() - t)
        assert len(got) == batch, f"leased {len(got)} of {batch}"
        t = time.perf_counter()
        q.settle(APP, "bench", [(lease, "sent") for lease in got], now)
        took["settle"].append(time.perf_counter() - t)
    return {name: statistics.median(values) for name, values in took.items()}


def measure(url: str, size: int, args: argparse.Namespace) -> Dict[str, float]:
    store = open_store(url)
    try:
        t = time.perf_counter()
        build(store, size)
        built = time.perf_counter() - t
        timed(store, args.batch, args.leases, NOW + 1)  # the front of the queue, settled
        at_start = timed(store, args.batch, args.leases, NOW + 2)
        time.sleep(args.quiet)
        steady = timed(store, args.batch, args.leases, NOW + 3)
        return {"built": built, **{f"start {k}": v for k, v in at_start.items()}, **steady}
    finally:
        store.close()


def url_for(name: str, prefix: str, tmp: str) -> str:
    if name == "sqlite":
        return f"sqlite:///{tmp}/{prefix}.db"
    return f"{SERVERS[name]}?prefix={prefix}"


def drop(name: str, prefix: str) -> None:
    if name == "redis":
        _namespaces.drop_redis(SERVERS["redis"], prefix)
    elif name in ("postgresql", "mysql"):
        _namespaces.drop_sql(SERVERS[name], prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=2_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--leases", type=int, default=8)
    parser.add_argument("--quiet", type=float, default=30.0, help="seconds before the steady run")
    parser.add_argument("--stores", default="sqlite,redis,postgresql,mysql")
    args = parser.parse_args()
    if args.small < 3 * args.batch * args.leases:
        parser.error("--small must hold 3 × --leases × --batch recipients")
    print(f"lease of {args.batch}, median of {args.leases}; at start and after {args.quiet:g} s")
    sizes = f"{args.small:,} | at {args.large:,}"
    print(f"| store | when | lease at {sizes} | ÷ | settle at {sizes} | ÷ | build {args.large:,} |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.stores.split(","):
            rows = {}
            for size in (args.small, args.large):
                prefix = f"bench{uuid.uuid4().hex[:8]}"
                try:
                    rows[size] = measure(url_for(name, prefix, tmp), size, args)
                finally:
                    drop(name, prefix)
            small, large = rows[args.small], rows[args.large]
            for when, key in (("at start", "start "), ("steady", "")):
                lease, settle = (small[key + "lease"], large[key + "lease"]), (
                    small[key + "settle"], large[key + "settle"])  # fmt: skip
                print(f"| {name} | {when} | {lease[0] * 1000:.2f} ms | {lease[1] * 1000:.2f} ms "
                      f"| {lease[1] / lease[0]:.2f} | {settle[0] * 1000:.2f} ms "
                      f"| {settle[1] * 1000:.2f} ms | {settle[1] / settle[0]:.2f} "
                      f"| {large['built']:.0f} s |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
