"""Code run in the child processes of the concurrency tests (importable by a forked child).

Each worker opens its own store on the shared URL, waits at a barrier so that all of them act at
the same moment, does one task and reports ``(status, index, result)`` on a queue.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from typing import Any, Callable, Dict, List, Tuple

from wxapush.store import LogRecord, Store, new_log_id, open_store

APP = "wx0123456789abcdef"


#: How long a racing process may take before the test gives up on it.
TIMEOUT = 120.0


def gather(procs: List[Any], results: Any) -> List[Any]:
    """Start ``procs``, take one ``(status, index, result)`` report from each off ``results``,
    and return the results in index order; any failed report fails the test."""
    for p in procs:
        p.start()
    try:
        reports = [results.get(timeout=TIMEOUT) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=10)
    errors = [report for status, _, report in reports if status != "ok"]
    assert not errors, "\n".join(errors)
    return [result for _, _, result in sorted(reports, key=lambda r: r[1])]


def context() -> Any:
    """A forkserver context whose server preloads the layer and the drivers (``_fleet``).

    A child starts in milliseconds instead of an interpreter start plus imports, and still
    holds no store, connection or App: each opens its own, as a separate instance would.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.functional.store._fleet"])
    return ctx


def claim_key(store: Store, index: int, key: str) -> Any:
    record = LogRecord(
        log_id=new_log_id(),
        appid=APP,
        touser=f"oUser{index}",
        template_id="TPL_A",
        page=None,
        data={"thing1": {"value": f"from {index}"}},
        miniprogram_state="formal",
        lang="zh_CN",
        status="pending",
        created_at=1_700_000_000.0,
        updated_at=1_700_000_000.0,
        idempotency_key=key,
    )
    got, created = store.log.claim(record)
    return [created, got.log_id]


def take_lock(store: Store, index: int, name: str) -> Any:
    return store.tokens.acquire_lock(name, f"owner-{index}", 60.0)


def consume(store: Store, index: int, attempts: int) -> Any:
    return sum(store.grants.consume(APP, "oUser1", "TPL_A") for _ in range(attempts))


def reserve(store: Store, index: int, count: int) -> Any:
    """Reserve ``count`` slots of one 20/s bucket; return when each may go (unix seconds)."""
    starts = []
    for _ in range(count):
        wait = store.limiter.acquire("race", rate=20, burst=1, max_wait=60)
        starts.append(time.time() + wait)
    return starts


def see_event(store: Store, index: int, key: str) -> Any:
    return store.events.first_seen(key, ttl=60)


def record_choice(store: Store, index: int, key: str) -> Any:
    """One popup push's claim and grant (receive_event), the same event in every process."""
    return store.choices.record_once(key, 60, APP, "oUser1", [("TPL_A", "grant")])


TASKS: Dict[str, Callable[..., Any]] = {
    "claim_key": claim_key,
    "take_lock": take_lock,
    "consume": consume,
    "reserve": reserve,
    "see_event": see_event,
    "record_choice": record_choice,
}


def run(
    url: str,
    task: str,
    index: int,
    args: Tuple[Any, ...],
    barrier: Any,
    results: Any,
    open_late: bool,
) -> None:
    store = None
    try:
        if not open_late:
            store = open_store(url)
        barrier.wait(timeout=60)
        if open_late:  # cold start: every process creates/opens the store at the same moment
            store = open_store(url)
        results.put(("ok", index, TASKS[task](store, index, *args)))
    except BaseException:
        results.put(("error", index, traceback.format_exc()))
    finally:
        if store is not None:
            store.close()
