"""A cold ``get_token`` per store, each against the cold one on Redis measured in the same run.

Run on demand: ``.venv/bin/python benchmarks/bench_cold_store.py [--runs N] [--stores ...]``
(``--source DIR`` measures another checkout's ``shared/`` and ``functions/`` instead, e.g. the
one before a change).

* cold get_token: a new interpreter imports ``functions/get_token/index.py`` and calls its
  ``main_handler`` once against wxemu; timed from just before the interpreter starts to the
  answer. Each run has its own namespace (a fresh ``?prefix=`` on Redis and the SQL servers, a
  fresh file for SQLite) whose schema the parent creates beforehand, as a deployment's first
  instance would have: every cold process finds the tables (if any) and **no token record**, so
  every run of every store fetches the token from wxemu and writes it. Median over the runs,
  the ratio to Redis (aim <= 1.5 for PostgreSQL and MySQL), and the process's peak RSS (its
  ``VmHWM``: ``ru_maxrss`` would count the benchmark's own memory, kept across exec).
* import: the store's module and its driver (``wxapush.store.<backend>``, then the driver the
  URL names), in a fresh interpreter that has already imported ``wxapush.store``.

wxemu runs in its own process, so the measured client does not share a GIL with the server.
Servers: Redis db 15, PostgreSQL ``test``, MariaDB ``test`` on 127.0.0.1 (``WXAPUSH_TEST_REDIS``,
``WXAPUSH_TEST_POSTGRES``, ``WXAPUSH_TEST_MYSQL`` override them). Loopback only; every loop is
bounded; the namespaces are dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.functional.store import _namespaces  # noqa: E402
from wxemu import demo  # noqa: E402

SERVERS = {
    "redis": os.environ.get("WXAPUSH_TEST_REDIS", "redis://127.0.0.1:6379/15"),
    "postgresql": os.environ.get(
        "WXAPUSH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get("WXAPUSH_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"),
}
#: the store module and driver each backend imports
IMPORTS = {
    "sqlite": "import wxapush.store.sqlite",
    "redis": "import wxapush.store.redis",
    "postgresql": "import wxapush.store.sql, psycopg",
    "mysql": "import wxapush.store.sql, pymysql",
}

COLD = """
import json, resource, sys, time
start = float(sys.argv[2])
sys.path.insert(0, sys.argv[1])
from index import main_handler
result = main_handler({}, {"time_limit_in_ms": 10000})
assert result["errcode"] == 0 and result["access_token"], result
seconds = time.time() - start
# VmHWM: this process's own peak (ru_maxrss would also count the parent's, kept across exec)
try:
    with open("/proc/self/status") as status:
        rss_kb = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rss_kb": rss_kb}))
"""

IMPORT_ONLY = """
import sys, time
import wxapush.store
start = time.perf_counter()
exec(sys.argv[1])
print(time.perf_counter() - start)
"""


def start_wxemu() -> Tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wxemu", "serve", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().split("listening on ")[1].strip()


def namespace(store: str, tmp: str) -> Tuple[str, Any]:
    """A fresh store URL with its schema created, and how to drop it afterwards."""
    from wxapush.store import open_store

    if store == "sqlite":
        url = f"sqlite:///{tmp}/{uuid.uuid4().hex}.db"
        drop: Any = lambda: None  # noqa: E731 - the temporary directory goes as a whole
    else:
        prefix = f"bcold{uuid.uuid4().hex[:10]}"
        server = SERVERS[store]
        url = f"{server}{'&' if '?' in server else '?'}prefix={prefix}"
        drop = (
            (lambda: _namespaces.drop_redis(server, prefix))
            if store == "redis"
            else (lambda: _namespaces.drop_sql(server, prefix))
        )
    open_store(url).close()  # the schema a deployment's first instance created
    return url, drop


def cold_runs(
    stores: List[str], runs: int, env: Dict[str, str], source: Path
) -> Dict[str, Dict[str, float]]:
    samples: Dict[str, List[Dict[str, float]]] = {store: [] for store in stores}
    child_env = dict(os.environ, **env)
    if source != ROOT:
        child_env["PYTHONPATH"] = str(source / "shared")
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            for store in stores:  # interleaved, so load drift hits every store alike
                url, drop = namespace(store, tmp)
                try:
                    argv = [str(source / "functions" / "get_token"), str(time.time())]
                    out = subprocess.run(
                        [sys.executable, "-c", COLD, *argv],
                        env=dict(child_env, WXAPUSH_STORE=url),
                        capture_output=True,
                        text=True,
                        check=True,
                        timeout=60,
                    ).stdout
                    samples[store].append(json.loads(out))
                finally:
                    drop()
    return {
        store: {
            "seconds": statistics.median(r["seconds"] for r in rows),
            "rss_mb": max(r["rss_kb"] for r in rows) / 1024,
        }
        for store, rows in samples.items()
    }


def import_time(store: str, runs: int, source: Path) -> float:
    env = dict(os.environ)
    if source != ROOT:
        env["PYTHONPATH"] = str(source / "shared")
    seconds = [
        float(
            subprocess.run(
                [sys.executable, "-c", IMPORT_ONLY, IMPORTS[store]],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold processes per store")
    parser.add_argument("--stores", default="redis,postgresql,mysql,sqlite")
    parser.add_argument(
        "--source", type=Path, default=ROOT, help="checkout whose shared/ and functions/ to run"
    )
    args = parser.parse_args()
    stores = args.stores.split(",")
    if "redis" not in stores:
        stores.insert(0, "redis")  # the baseline
    runs = max(1, min(args.runs, 50))
    proc, base_url = start_wxemu()
    env = {
        "WXAPUSH_APPID": demo.APPID,
        "WXAPUSH_APPSECRET": demo.SECRET,
        "WXAPUSH_API_BASE": base_url,
    }
    try:
        cold = cold_runs(stores, runs, env, args.source.resolve())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    base = cold["redis"]["seconds"]
    print(f"cold get_token, median of {runs} runs (source {args.source})")
    for store in stores:
        figures = cold[store]
        imported = import_time(store, runs, args.source.resolve())
        aim = "   (aim <= 1.50)" if store in ("postgresql", "mysql") else ""
        print(
            f"  {store:<11} {figures['seconds'] * 1e3:7.1f} ms   ratio to redis"
            f" {figures['seconds'] / base:5.2f}{aim}   peak RSS {figures['rss_mb']:5.1f} MB"
            f"   import store+driver {imported * 1e3:6.1f} ms"
        )


if __name__ == "__main__":
    main()
