"""A send's claim on the log, and the mark that its call to WeChat started.

A keyed send claims its idempotency key with a ``pending`` record whose ``attempts`` is 0. Just
before the call to WeChat starts, a compare-and-set turns ``attempts`` to 1 ("dispatch"); only
the attempt still holding the claim can do so. A ``pending`` record at 0 therefore never reached
WeChat's door, whatever happened to the attempt that wrote it — its claim's reply lost at
COMMIT, the store failing after, the instance killed — and so:

* a retry of the same key and payload takes it over: the stale record becomes ``rejected``
  (never sent) and frees the key, and the retry claims it afresh and sends. The attempt that
  wrote it, if still alive, then fails its dispatch and sends nothing: one message at most;
* reconciliation marks it ``rejected``, never ``unknown`` (see :mod:`reconcile`).

A ``pending`` record at 1 may have reached WeChat: it is never taken over, and only WeChat's
answer, its delivery report or reconciliation (``unknown``) settles it.

Writes whose reply may be lost are repeated on the store's transient failures: each is
idempotent for the attempt that makes it (a claim finds its own record, a dispatch sets what it
already set).
"""

from __future__ import annotations

import time
from contextlib import suppress
from typing import Callable, Optional, Tuple, TypeVar

from wxapush.app import SEND_TIME
from wxapush.errors import WxapushError
from wxapush.store.base import LogRecord, SendLog
from wxapush.store.failures import store_failure

T = TypeVar("T")
#: A mark at WeChat's door of its own (a broadcast worker's): True if marked, False if the
#: claim is no longer this attempt's; a ``WxapushError`` it raises refuses the call.
Door = Callable[[LogRecord], bool]

#: Tries of one store write whose outcome a transient failure left unknown, and the pause
#: before the next (times the try's number).
STORE_TRIES = 4
STORE_PAUSE = 0.05
#: Time kept before the deadline while undoing a mark whose call will not start.
WITHDRAW_TIME = 0.3
#: The errmsg of a claim taken over by a retry (or given up by reconciliation).
NEVER_SENT = "never sent: the attempt stopped before calling WeChat"


def again(write: Callable[[], T], deadline: float, reserve: float = SEND_TIME) -> T:
    """``write()``, repeated on the store's transient failures while ``reserve`` is left."""
    for attempt in range(1, STORE_TRIES + 1):
        try:
            return write()
        except Exception as exc:
            failure = store_failure(exc)
            pause = STORE_PAUSE * attempt
            if (
                failure is None
                or not failure.retryable
                or attempt == STORE_TRIES
                or time.monotonic() + pause >= deadline - reserve
            ):
                raise
        time.sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


def reclaimable(found: LogRecord, record: LogRecord) -> bool:
    """True if ``found`` (holding ``record``'s key) is a claim that never reached WeChat's door,
    made for the same payload: a retry may take it over."""
    return (
        found.status == "pending"
        and found.attempts == 0
        and found.payload_hash is not None
        and found.payload_hash == record.payload_hash
    )


def claim(log: SendLog, record: LogRecord, deadline: float) -> Tuple[LogRecord, bool]:
    """``log.claim(record)``, surviving a lost reply, and taking over a stale claim of the same
    key and payload that never reached WeChat (see the module's docstring)."""
    tried = [False]

    def once() -> Tuple[LogRecord, bool]:
        if tried[0] and record.idempotency_key is None and log.get(record.log_id) is not None:
            return record, True  # the first try's reply was lost, not its insert
        tried[0] = True
        found, created = log.claim(record)
        if not created and found.log_id == record.log_id:
            return record, True  # ours: the first try inserted it, its reply was lost
        return found, created

    found, created = again(once, deadline)
    if created or not reclaimable(found, record):
        return found, created
    again(lambda: take_over(log, found), deadline)
    return again(once, deadline)


def take_over(log: SendLog, stale: LogRecord) -> bool:
    """Mark ``stale`` (a claim that never reached WeChat) ``rejected`` and free its key, if it
    still is such a claim; True if this call did."""
    return log.update(
        stale.log_id,
        only_if={"status": "pending", "attempts": 0},
        status="rejected",
        errmsg=NEVER_SENT,
        idempotency_key=None,
        updated_at=time.time(),
    )


def dispatch(log: SendLog, record: LogRecord, deadline: float, door: Optional[Door] = None) -> bool:
    """Mark ``record`` as at WeChat's door (``attempts`` 1), just before the call starts. False
    if the claim is no longer this attempt's (taken over, or given up by reconciliation): the
    call must not start. ``door`` makes the mark instead of the log's update, if given."""

    def mark() -> bool:
        if door is not None:
            return door(record)
        try:
            return log.update(
                record.log_id, only_if={"status": "pending"}, attempts=1, updated_at=time.time()
            )
        except KeyError:  # pruned meanwhile: nobody else holds it
            return False

    try:
        return again(mark, deadline)
    except WxapushError:
        raise  # the door refused the call (its own answer, not a store failure)
    except Exception:
        # The mark may have been written, and the call will not start: say so in the record
        # (never sent, key freed), or a retry would meet "in progress" for a send never made.
        with suppress(Exception):
            again(lambda: withdraw(log, record), deadline, reserve=WITHDRAW_TIME)
        raise


def withdraw(log: SendLog, record: LogRecord) -> bool:
    """Mark this attempt's own ``pending`` record ``rejected`` (never sent) and free its key:
    its call to WeChat will not start, whatever its mark says."""
    try:
        return log.update(
            record.log_id,
            only_if={"status": "pending"},
            status="rejected",
            errmsg=NEVER_SENT,
            idempotency_key=None,
            updated_at=time.time(),
        )
    except KeyError:
        return False


def never_reached(record: LogRecord) -> bool:
    """True for a ``pending`` record whose call to WeChat never started."""
    return record.status == "pending" and record.attempts == 0
