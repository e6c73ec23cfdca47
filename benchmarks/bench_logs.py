"""The cost of structured logs: a warm keyed send with JSON lines against plain text lines.

Run on demand: ``.venv/bin/python benchmarks/bench_logs.py [--sends N]``.

Each send goes through ``functions/send/index.py``'s ``main_handler`` with the root logger
writing to ``/dev/null`` as SCF's runtime writes to stdout, in three modes alternated call by
call (so load drift hits each alike): ``json`` (``wxapush.logs.JsonFormatter`` at INFO: what
SCF runs), ``text`` (a plain ``%(asctime)s %(levelname)s %(name)s %(message)s`` line at INFO)
and ``silent`` (WARNING: no line written). Aim: json ÷ text ≤ 1.05.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions" / "send"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_send import PAYLOAD, start_wxemu  # noqa: E402

from wxapush import logs  # noqa: E402
from wxemu import demo  # noqa: E402


def measure(sends: int) -> dict[str, float]:
    """Median seconds of one warm send in each logging mode."""
    from index import main_handler

    from wxapush.app import current_app

    root = logging.getLogger()
    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    handler = logging.StreamHandler(sink)
    root.addHandler(handler)  # the only handler: the runtime's configure() leaves it alone
    logs.configure({"WXAPUSH_LOG_FORMAT": "text"})
    modes = {
        "json": (logs.JsonFormatter(), logging.INFO),
        "text": (logging.Formatter(logs.TEXT_FORMAT), logging.INFO),
        "silent": (logging.Formatter(logs.TEXT_FORMAT), logging.WARNING),
    }
    context = {"time_limit_in_ms": 10_000, "request_id": "bench", "function_name": "send"}
    keys = itertools.count()

    def send() -> None:
        result = main_handler(dict(PAYLOAD, idempotency_key=f"k{next(keys)}"), context)
        assert result["errcode"] == 0, result

    for _ in range(30):
        send()
    store = current_app().store
    store.grants.grant(demo.APPID, demo.OPENID, demo.TEMPLATE_ID, 4 * sends + 100)
    timings: dict[str, list[float]] = {name: [] for name in modes}
    try:
        for _ in range(sends):
            for name, (formatter, level) in modes.items():
                handler.setFormatter(formatter)
                root.setLevel(level)
                start = time.perf_counter()
                send()
                timings[name].append(time.perf_counter() - start)
    finally:
        root.removeHandler(handler)
        sink.close()
    return {name: statistics.median(samples) for name, samples in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=1000, help="warm sends per mode")
    args = parser.parse_args()
    proc, base_url = start_wxemu()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update(
                {
                    "WXAPUSH_APPID": demo.APPID,
                    "WXAPUSH_APPSECRET": demo.SECRET,
                    "WXAPUSH_API_BASE": base_url,
                    "WXAPUSH_STORE": f"sqlite:///{tmp}/logs.db",
                }
            )
            medians = measure(args.sends)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for name, seconds in medians.items():
        print(f"warm send, {name:<6} logs {seconds * 1e3:7.3f} ms")
    ratio = medians["json"] / medians["text"]
    print(f"json / text {ratio:.3f} (aim <= 1.05)")
    print(f"json / silent {medians['json'] / medians['silent']:.3f} (the summary line itself)")


if __name__ == "__main__":
    main()
