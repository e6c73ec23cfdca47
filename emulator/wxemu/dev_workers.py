"""broadcast's workers in the local stack: what SCF's timer and fan-out do in the cloud.

``wxapush dev`` runs a few threads that invoke the broadcast function with ``{"action":
"work"}`` — each its own worker in the shared queue — and pause while there is nothing to do.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable, Dict

Handler = Callable[[Dict[str, Any], Dict[str, Any]], Any]
#: Seconds a worker invocation may run (its deadline), and the pause when the queue is empty.
TIME_LIMIT_MS = 20_000
IDLE_PAUSE = 1.0


class BroadcastWorkers:
    """``count`` daemon threads draining the campaign queue through ``handler``."""

    def __init__(self, handler: Handler, count: int = 2) -> None:
        self.handler = handler
        self.threads = [
            threading.Thread(target=self._loop, name=f"broadcast-worker-{i}", daemon=True)
            for i in range(count)
        ]
        self.stopping = threading.Event()

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            context = {"request_id": uuid.uuid4().hex, "time_limit_in_ms": TIME_LIMIT_MS}
            try:
                result = self.handler({"action": "work"}, context)
            except Exception as exc:  # a worker must outlive one bad invocation
                print(f"[broadcast] worker failed: {exc!r}", flush=True)
                result = None
            worked = result.get("worked") if isinstance(result, dict) else None
            if worked:
                summary = ", ".join(f"{k} {v}" for k, v in sorted(worked.items()))
                print(f"[broadcast] {threading.current_thread().name}: {summary}", flush=True)
            else:
                self.stopping.wait(IDLE_PAUSE)
            time.sleep(0)
