"""broadcast workers as separate processes (the fleet), for test_broadcast_fleet and the benchmark.

Each process is a cold instance running the real ``functions/broadcast`` entry point: it calls
``{"action": "work"}`` until the campaign is over, as the timer and the fan-out would.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import Any, Dict

import wxapush.app
import wxapush.config
from wxemu.gateway import load_handler

ROOT = Path(__file__).resolve().parents[3]
OVER = ("done", "cancelled")


def drain(env: Dict[str, str], bid: str, index: int, results: Any, limit: float) -> None:
    """Work until campaign ``bid`` is over (or ``limit`` seconds); report the sends made."""
    try:
        for name in [n for n in os.environ if n.startswith("WXAPUSH_")]:
            del os.environ[name]
        os.environ.update(env)
        wxapush.config.reset_settings()
        wxapush.app.reset_app()
        handler = load_handler(ROOT / "functions" / "broadcast" / "index.py")
        context = {"request_id": f"worker-{index}", "time_limit_in_ms": 6_000}
        give_up = time.monotonic() + limit
        sent = 0
        while time.monotonic() < give_up:
            worked = handler({"action": "work"}, context)
            if worked["errcode"] != 0:
                raise AssertionError(f"work failed: {worked}")
            sent += worked["worked"].get("sent", 0)
            report = handler({"action": "status", "broadcast_id": bid}, context)
            if report["status"] in OVER:
                break
            if not worked["worked"]:
                time.sleep(0.1)  # the rest is leased by others (or by a dead worker)
        results.put(("ok", index, sent))
    except BaseException:
        results.put(("error", index, traceback.format_exc()))
    finally:
        wxapush.app.reset_app()
