"""One function instance of the fault soak, with its retrying callers (a separate process).

``python -m tests.reliability.soak_worker KEYS_FILE`` sends one keyed message per line of
KEYS_FILE through ``functions/send/index.py``'s ``main_handler``, as a caller that retries
retryable answers, and prints one JSON line per key with its final answer. The environment
names wxemu and the store (``WXAPUSH_*``) and the fault rates (``SOAK_*``):

* ``SOAK_WECHAT_FAULTS``: the share of calls before which a WeChat fault is queued in wxemu
  (``-1``, ``45011``, a 5xx, an answer slower than the read timeout, a dropped connection);
* ``SOAK_STORE_FAULTS``: the share of send-log writes that fail as a lost database does.

The driver (``soak.py``) kills some of these processes with SIGKILL mid-send.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import requests

from wxemu import demo
from wxemu.gateway import load_handler

ROOT = Path(__file__).resolve().parents[2]
SEND = "/cgi-bin/message/subscribe/send"
#: The send's time limit; a slow answer sleeps past it (the read timeout is inside it).
TIME_LIMIT_MS = 1500
SLOW_MS = 2200
MAX_ATTEMPTS = 6
FAULTS: list[dict[str, Any]] = [
    {"errcode": -1},
    {"errcode": 45011},
    {"status": 502},
    {"status": 503},
    {"status": 500},
    {"delay_ms": SLOW_MS},
    {"drop": True},
]


def event_for(key: str) -> dict[str, Any]:
    """The keyed send of ``key``; the key is also the message's express number, so that the
    driver can match WeChat's messages to keys."""
    return {
        "touser": demo.OPENID,
        "template_id": demo.TEMPLATE_ID,
        "data": {
            "thing1": "soak",
            "character_string2": key,
            "date3": "2026-11-27 10:30",
            "amount6": "¥1.00",
        },
        "idempotency_key": key,
    }


def _break_the_store(rate: float, rng: random.Random) -> None:
    from wxapush.app import current_app

    log = current_app().store.log
    for name in ("claim", "update"):
        real = getattr(log, name)

        def flaky(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            if rng.random() < rate:
                raise sqlite3.OperationalError("injected store outage")
            return _real(*args, **kwargs)

        setattr(log, name, flaky)


def main(keys_file: str) -> None:
    # Every line at DEBUG to stderr, which the driver keeps for the secrets scan.
    logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")
    rng = random.Random(os.getpid())
    wechat_faults = float(os.environ.get("SOAK_WECHAT_FAULTS", "0.2"))
    store_faults = float(os.environ.get("SOAK_STORE_FAULTS", "0.05"))
    faults_url = os.environ["WXAPUSH_API_BASE"] + "/__wxemu__/faults"
    http = requests.Session()
    send = load_handler(ROOT / "functions" / "send" / "index.py")
    context = {"time_limit_in_ms": TIME_LIMIT_MS, "request_id": "soak"}
    send({"touser": demo.OPENID}, context)  # builds the instance's app (refused: no data)
    if store_faults > 0:  # (a store behind the fault proxy breaks on the wire instead)
        _break_the_store(store_faults, rng)
    for key in Path(keys_file).read_text().split():
        answer: dict[str, Any] = {}
        attempts = 0
        while attempts < MAX_ATTEMPTS:
            attempts += 1
            if rng.random() < wechat_faults:
                http.post(faults_url, json={"path": SEND, **rng.choice(FAULTS)}).raise_for_status()
            answer = send(event_for(key), context)
            if answer.get("errcode") == 0 or not answer.get("retryable"):
                break
            time.sleep(0.01 * attempts)
        line = {"key": key, "attempts": attempts, "answer": answer}
        print(json.dumps(line, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
