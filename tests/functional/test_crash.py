"""A function instance dying in the middle of a send leaves the message's trace behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import ROOT, Invoke, log_records, send_event
from .test_send import assert_error

CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from index import main_handler
main_handler(json.loads(sys.argv[2]), {"time_limit_in_ms": 30000})
"""


def test_a_restart_mid_send_leaves_a_pending_record(invoke: Invoke, wxemu: RunningServer) -> None:
    # WeChat holds the request for 3 s (then fails it, so nothing is accepted late).
    wxemu.fault("/cgi-bin/message/subscribe/send", errcode=-1, delay_ms=3000, times=1)
    event = send_event(idempotency_key="order-7-paid")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROOT / "functions" / "send"), json.dumps(event)],
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 20
        # until the call to WeChat started (the claim's door mark): killed before it, the
        # claim would be taken over by the retry and sent (test_send_lost_reply)
        while not any(r.attempts for r in log_records()) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        child.kill()  # the instance is recycled while WeChat has not answered yet
        child.wait()
    [record] = log_records()
    assert record.status == "pending" and record.idempotency_key == "order-7-paid"
    # The caller's retry is told the send may be in flight, instead of sending it twice.
    retry = invoke("send", event)
    assert_error(retry, "conflict", 990409)
    assert retry["retryable"] is True and record.log_id in retry["errmsg"]
    assert wxemu.messages(demo.APPID) == []
