"""Reconciliation: a send left ``pending`` for good is settled (refresh_code's timer).

A record is ``pending`` from its claim until the send writes WeChat's answer down. It stays so
when that never happens. Two cases, told apart by ``attempts`` (see ``send_claim``):

* ``attempts`` 0: the call to WeChat never started (the claim's reply was lost, the store failed
  or the instance stopped before it). Nothing was sent: the record becomes ``rejected`` and its
  key is freed, so a later retry sends.
* ``attempts`` 1: the call started, and its answer was never written down (the instance was
  killed, WeChat's answer never came, or the store failed after WeChat accepted). WeChat's
  ``subscribe_msg_sent_event`` settles such a record when it arrives (see ``receive_event``);
  the rest become ``unknown`` once older than ``PENDING_BOUND``: the outcome will never be
  learned. Their idempotency keys stay held and answer ``unknown`` (not a retryable
  ``conflict`` forever), so a retrying caller stops instead of risking a second message.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from wxapush.app import App
from wxapush.errors import NoTimeLeft
from wxapush.services.send_claim import never_reached, take_over
from wxapush.store.base import LogQuery, LogRecord

#: How old a ``pending`` record must be to be given up on: SCF's longest time limit (900 s), so
#: no send still running can be overtaken (a late writer would set ``sent`` over ``unknown``).
PENDING_BOUND = 900.0
#: Records settled per query; the loop runs until none is left or time runs out.
BATCH = 100
UNKNOWN_ERRMSG = "outcome never learned: no answer from WeChat was recorded (reconciled)"


def reconcile(app: App, deadline: float, bound: Optional[float] = None) -> dict[str, Any]:
    """Settle the app's ``pending`` records older than ``bound`` seconds (``PENDING_BOUND``):
    ``unknown`` if their call to WeChat started, else ``rejected`` (never sent, key freed).
    Returns ``{"unknown": n, "never_sent": m}``; raises ``NoTimeLeft`` (retryable) if time ran
    out."""
    log = app.store.log
    cutoff = time.time() - (PENDING_BOUND if bound is None else bound)
    unknown = never_sent = 0
    while True:
        if time.monotonic() > deadline - 0.5:
            settled = unknown + never_sent
            raise NoTimeLeft(f"reconciliation stopped after {settled} record(s): no time left")
        query = LogQuery(
            appid=app.settings.appid, since=0.0, until=cutoff, status="pending", count=BATCH
        )
        records = log.query(query).records
        if not records:
            return {"unknown": unknown, "never_sent": never_sent}
        for record in records:
            if never_reached(record):
                # a late dispatch of the same attempt then finds it settled and sends nothing
                never_sent += take_over(log, record)
                continue
            log.update(
                record.log_id,
                status="unknown",
                errcode=record.errcode,
                errmsg=UNKNOWN_ERRMSG,
                updated_at=time.time(),
            )
            unknown += 1


def unrecorded_send(app: App, openid: str, template_id: str, within: float) -> Optional[LogRecord]:
    """The one send to ``openid`` with ``template_id`` (created in the last ``within`` seconds)
    that WeChat may have accepted but whose answer the log never recorded: ``pending`` or
    ``unknown``, no msgid. A delivery report whose msgid matches no record settles it. Several
    such records cannot be told apart, and none is guessed."""
    candidates: list[LogRecord] = []
    now = time.time()
    for status in ("pending", "unknown"):
        query = LogQuery(
            appid=app.settings.appid,
            since=now - within,
            until=now + 1,
            touser=openid,
            template_id=template_id,
            status=status,
            count=2,
        )
        found = app.store.log.query(query).records
        candidates += [r for r in found if r.msgid is None and not never_reached(r)]
    return candidates[0] if len(candidates) == 1 else None
