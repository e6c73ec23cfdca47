"""Cold function instances for test_fleet: each a fresh process that runs a real entry point.

Children are forked from a forkserver that preloads this module, so starting 64 of them costs
milliseconds instead of an interpreter start each; none inherits an App, a store connection or
a token — the state a cold SCF instance starts from.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Any, Dict, List

import wxapush.app
import wxapush.config
import wxapush.services.get_token
import wxapush.services.send
from tests.functional.store import _workers
from wxemu.gateway import load_handler

# Preloaded with this module by the forkserver: a child pays for connections, not for imports
# (the drivers are what a warm runtime image would have on disk and in its page cache anyway).
try:
    import psycopg  # noqa: F401
    import pymysql  # noqa: F401

    import wxapush.store.redis
    import wxapush.store.sql
except ImportError:  # the extras are not installed: those backends' tests skip anyway
    pass

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = _workers.TIMEOUT


def instance(
    env: Dict[str, str], function: str, events: List[Any], barrier: Any, results: Any, index: int
) -> None:
    try:
        for name in [n for n in os.environ if n.startswith("WXAPUSH_")]:
            del os.environ[name]
        os.environ.update(env)
        wxapush.config.reset_settings()
        wxapush.app.reset_app()
        handler = load_handler(ROOT / "functions" / function / "index.py")
        context = {"request_id": f"cold-{index}", "time_limit_in_ms": 60_000}
        barrier.wait(timeout=TIMEOUT)
        results.put(("ok", index, [handler(event, context) for event in events]))
    except BaseException:
        results.put(("error", index, traceback.format_exc()))
    finally:
        wxapush.app.reset_app()


def run_cold(env: Dict[str, str], function: str, per_process: List[List[Any]]) -> List[Any]:
    """One cold instance per entry of ``per_process`` (its events), all released at once."""
    ctx = _workers.context()
    barrier, results = ctx.Barrier(len(per_process)), ctx.Queue()
    procs = [
        ctx.Process(target=instance, args=(env, function, events, barrier, results, i))
        for i, events in enumerate(per_process)
    ]
    return _workers.gather(procs, results)
