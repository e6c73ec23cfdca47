"""Code run in the child processes of test_concurrency (importable by a 'spawn' child).

Each worker opens its own store on the shared URL, waits at a barrier so that all of them act at
the same moment, does one task and reports ``(status, index, result)`` on a queue.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable, Dict, Tuple

from wxapush.store import LogRecord, Store, new_log_id, open_store

APP = "wx0123456789abcdef"


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


TASKS: Dict[str, Callable[..., Any]] = {
    "claim_key": claim_key,
    "take_lock": take_lock,
    "consume": consume,
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
