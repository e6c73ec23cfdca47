"""The reliability suite at full scale: the fuzzer, the fault soak and the secrets scan.

Run on demand (minutes, not seconds)::

    .venv/bin/python benchmarks/bench_reliability.py                 # everything, full scale
    .venv/bin/python benchmarks/bench_reliability.py --events 500 --sends 300   # a quick look
    .venv/bin/python benchmarks/bench_reliability.py --only soak --backends sqlite

* fuzz: ``--events`` hypothesis-generated events per function (default 10,000), every shape,
  service and user callers; prints, per function, the events and the uncaught exceptions,
  answers outside the envelope and ``internal`` (990500) answers — each must be 0.
* soak: ``--sends`` keyed sends (default 10,000) with WeChat faults on 20 % of calls, store
  outages on 5 % of log writes and ``--kills`` workers killed with SIGKILL mid-run, on sqlite and
  on PostgreSQL with a Redis cache (``WXAPUSH_TEST_POSTGRES``/``WXAPUSH_TEST_REDIS``, defaults
  on 127.0.0.1); prints lost, duplicated, left pending (must be 0) and the unknowns, each
  accounted for against WeChat's (wxemu's) list of messages.
* store: ``--store-sends`` keyed sends (default 300) per fault kind and store server, the
  workers' store traffic through the store fault proxy (``tests/reliability/store_proxy.py``):
  lost replies at every round trip (COMMIT included), resets, delays, real backend kills
  (``pg_terminate_backend`` / ``KILL``), and all at once; on PostgreSQL, MariaDB
  (``WXAPUSH_TEST_MYSQL``) and Redis; prints per kind and store lost, duplicated, left pending,
  stranded keys and the unknowns WeChat holds no message for — each must be 0.
* the secrets scan runs over every log line of all of them, at DEBUG.

Exits 1 if any figure that must be 0 is not. The CI-scale run of the same code is
``tests/reliability`` (part of ``make test``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.functional.store import _namespaces  # noqa: E402
from tests.reliability.fuzz import FUNCTIONS, fuzz_environment, run_fuzz, secrets_used  # noqa: E402
from tests.reliability.logscan import capture_logs, leaks  # noqa: E402
from tests.reliability.soak import run_soak  # noqa: E402

POSTGRES = os.environ.get("WXAPUSH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("WXAPUSH_TEST_REDIS", "redis://127.0.0.1:6379/15")
MYSQL = os.environ.get("WXAPUSH_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")


def fuzz(events: int) -> bool:
    print(f"== fuzz: {events} events per function")
    clean = True
    with fuzz_environment() as wxemu, capture_logs() as lines:
        for name in FUNCTIONS:
            started = time.monotonic()
            report = run_fuzz(name, events, seed=int(time.time()) % 100_000)
            took = time.monotonic() - started
            print(
                f"{name:14} events={report.events:6} uncaught={report.uncaught} "
                f"outside_envelope={report.outside_envelope} internal={report.internal} "
                f"({took:.0f} s)"
            )
            for example in report.examples:
                print("    ", example)
            clean = clean and report.clean and report.events >= events * 0.9
        found = leaks(lines, secrets_used(wxemu))
    print(f"secrets scan: {len(lines)} log lines, {len(found)} leaks")
    for leak in found[:5]:
        print("    ", leak)
    return clean and not found


def soak(sends: int, backends: list[str], workers: int, kills: int) -> bool:
    clean = True
    for backend in backends:
        print(f"== soak: {sends} keyed sends on {backend}, {workers} workers, {kills} killed")
        prefix = f"soak{uuid.uuid4().hex[:8]}"
        store = cache = None
        if backend == "postgresql":
            # trust authentication ignores the password; the scan looks for it in the logs
            password_url = POSTGRES.replace("postgres@", "postgres:Soak-Pw-9c1f@b2@", 1)
            store, cache = f"{password_url}?prefix={prefix}", f"{REDIS}?prefix={prefix}"
        try:
            report = run_soak(sends, workers=workers, kills=kills, store_url=store, cache_url=cache)
        finally:
            if backend == "postgresql":
                _namespaces.drop_sql(POSTGRES, prefix)
                _namespaces.drop_redis(REDIS, prefix)
        print(
            f"{report.backend}: sends={report.sends} attempts={report.attempts} "
            f"wechat_messages={report.wechat_messages} kills={report.kills}\n"
            f"  lost={report.lost} duplicated={report.duplicated} pending={report.pending} "
            f"false_sent={report.false_sent}\n"
            f"  unknown={report.unknown} (delivered {report.unknown_delivered}, "
            f"not delivered {report.unknown_not_delivered})\n"
            f"  final answers {report.answers}\n  statuses {report.statuses}\n"
            f"  secrets scan: {report.log_lines} log lines, {len(report.log_leaks)} leaks "
            f"({report.seconds:.0f} s)"
        )
        clean = clean and report.clean
    return clean


def store_faults(sends: int, stores: list[str], kinds: list[str]) -> bool:
    from tests.reliability.soak_store import clean as store_clean
    from tests.reliability.soak_store import figures, run_store_soak

    servers = {"postgresql": POSTGRES, "mysql": MYSQL, "redis": REDIS}
    clean = True
    for store in stores:
        for kind in kinds:
            report = run_store_soak(kind, store, servers[store], sends)
            print(figures(report))
            clean = clean and store_clean(report) and not report.log_leaks
    return clean


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="fuzzed events per function")
    parser.add_argument("--sends", type=int, default=10_000, help="keyed sends per soak")
    parser.add_argument("--backends", default="sqlite,postgresql", help="soak backends")
    parser.add_argument("--workers", type=int, default=4, help="soak worker processes")
    parser.add_argument("--kills", type=int, default=10, help="workers killed (SIGKILL)")
    parser.add_argument("--store-sends", type=int, default=300, help="sends per store run")
    parser.add_argument("--stores", default="postgresql,mysql,redis", help="store-fault servers")
    parser.add_argument(
        "--kinds", default="lose_reply,reset,delay,kill,mixed", help="store fault kinds"
    )
    parser.add_argument("--only", choices=["fuzz", "soak", "store"], help="run one part only")
    args = parser.parse_args()
    clean = True
    if args.only in (None, "fuzz"):
        clean = fuzz(args.events) and clean
    if args.only in (None, "soak"):
        backends = [b for b in args.backends.split(",") if b]
        clean = soak(args.sends, backends, args.workers, args.kills) and clean
    if args.only in (None, "store"):
        stores = [b for b in args.stores.split(",") if b]
        kinds = [k for k in args.kinds.split(",") if k]
        clean = store_faults(args.store_sends, stores, kinds) and clean
    print("RESULT:", "clean" if clean else "FAILURES (see above)")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
