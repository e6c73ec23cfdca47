"""broadcast's worker: lease recipients from the shared queue and send each through send's path.

A worker drains batches until its invocation's deadline. Each recipient goes through
:class:`wxapush.services.send.Sender` — validation, the idempotency record, the grant ledger,
the cap and quiet hours, ``WXAPUSH_RATE_LIMIT`` shared by every instance, the send log — with
the derived key ``b:<broadcast_id>:<seq>``, so a batch retried or taken over from a dead worker
never sends a recipient twice: its first outcome replays. A send the dead worker left at
WeChat's door (its record ``pending``, the call started) cannot be known and ends ``unknown``,
never sent again; one it left before the door is taken over and sent (``send_claim``).
The mark at WeChat's door is made only if the campaign is not cancelled, in the same write
(``CampaignQueue.dispatch``), so a cancel stops every worker within the send already on the
wire. A batch's outcomes are settled together once it ends: one write per lease, not per
recipient (a recipient whose settle is lost is leased again and replays its first outcome).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import Counter
from typing import Dict, List, Optional, Tuple

from wxapush.app import App
from wxapush.errors import (
    Capped,
    Conflict,
    NoTimeLeft,
    NotSubscribed,
    OutcomeUnknown,
    QuietHours,
    QuotaExhausted,
    RateLimited,
    WxapushError,
)
from wxapush.services import respect
from wxapush.services.broadcast_create import merged
from wxapush.services.send import BROADCAST_KEY_PREFIX, Sender, SendRequest
from wxapush.store.base import Campaign, Lease, LogRecord

log = logging.getLogger("wxapush.broadcast")

#: Recipients per lease; fewer when the rate limit would not send them within a lease.
BATCH = 50
#: A failure that may pass later is retried this many times before the recipient is `failed`.
MAX_ATTEMPTS = 4
#: No batch is leased this close to the end of the invocation.
MARGIN = 3.0
#: No send starts this close to the end of the invocation: the call and the log's update
#: need the time (a send cut short by the deadline would end `unknown`).
START_BEFORE = 2.0
#: Pause before a retry of a recipient WeChat could not take (45009: the day's quota).
RETRY_AFTER = {45009: 3600.0, 45011: 60.0, 43108: 5.0}
DEFAULT_RETRY = 10.0


class CampaignCancelled(Conflict):
    """The campaign was cancelled while this recipient's send waited: nothing was sent."""


def owner_id() -> str:
    """This worker's name in the queue (a lease's owner)."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


class Worker:
    """One invocation's worth of draining: ``run()`` returns what it did, per outcome."""

    def __init__(self, app: App, deadline: float, owner: Optional[str] = None) -> None:
        self.app = app
        self.appid = app.settings.appid
        self.deadline = deadline
        self.owner = owner or owner_id()
        self.queue = app.store.campaigns
        self.lease_seconds = float(app.settings.broadcast_lease)
        self.campaigns: Dict[str, Optional[Campaign]] = {}
        self.done: Counter[str] = Counter()
        self.settled: List[Tuple[Lease, str]] = []  # the batch's outcomes, written at its end
        self.stop = False  # the invocation is out of time
        self.margin = min(MARGIN, self.lease_seconds / 4)
        self.batch_over = False
        #: When WeChat's spent daily quota (45009) ends: recipients wait for it untried.
        self.quota_until: Optional[float] = None
        self.start_by = deadline - START_BEFORE
        #: Why the worker leased nothing at all, when that was the time limit's doing.
        self.idle_reason: Optional[str] = None

    def run(self) -> Dict[str, int]:
        left = self._left(self.deadline)
        if left <= MARGIN:
            self.idle_reason = (
                f"调用剩余时间不足，未领取任何收件人: the invocation had {max(left, 0.0):.1f} s "
                f"left, and a worker leases nothing within {MARGIN:g} s of its end; give the "
                f"function a time limit of at least {MARGIN + START_BEFORE + 5:g} s"
            )
        while not self.stop and self._left(self.deadline) > MARGIN:
            asked = time.monotonic()  # the lease runs from before the store was asked
            leases = self.queue.lease(
                self.appid, self.owner, self.app.clock(), self.lease_seconds, self._batch()
            )
            if not leases:
                break
            self.campaigns.clear()  # see each batch's cancellations
            # No send starts (nor waits for its rate slot) past the lease: by then another
            # worker may have taken the recipient over.
            self.start_by = min(
                self.deadline - START_BEFORE, asked + self.lease_seconds - self.margin
            )
            self.batch_over = False
            try:
                self._work(leases)
            finally:  # what was sent is recorded even if the batch stopped on a failure
                self._flush()
            if self.quota_until is not None:
                break  # another batch would meet the same spent quota
        return dict(self.done)

    def _work(self, leases: List[Lease]) -> None:
        for lease in leases:
            if self.quota_until is not None:
                self._defer(lease, self.quota_until, retry=False)
                continue
            if self.batch_over or self._left(self.start_by) <= 0:
                return  # the rest are due again when their lease runs out
            self._one(lease)

    def _left(self, until: float) -> float:
        return until - time.monotonic()

    def _batch(self) -> int:
        rate = self.app.settings.rate_limit
        if rate is None:
            return BATCH
        rate *= self.app.settings.broadcast_share  # campaigns' part of it (wxapush.pacing)
        # Other workers share the rate: lease what an eighth of it would send in time, so that
        # up to eight workers never lease more than they can send before the lease runs out
        # (what a worker cannot start in time waits for its lease to end).
        window = min(self.lease_seconds, self._left(self.deadline)) - START_BEFORE
        return max(1, min(BATCH, int(rate * window / 8)))

    def _campaign(self, bid: str) -> Optional[Campaign]:
        if bid not in self.campaigns:
            self.campaigns[bid] = self.queue.get(self.appid, bid)
        return self.campaigns[bid]

    def _settle(self, lease: Lease, outcome: str) -> None:
        self.settled.append((lease, outcome))

    def _flush(self) -> None:
        """Record the batch's outcomes, in one write, while its lease holds."""
        if self.settled:
            self.done.update(
                self.queue.settle(self.appid, self.owner, self.settled, self.app.clock())
            )
            self.settled = []

    def _defer(self, lease: Lease, until: float, retry: bool) -> None:
        if self.queue.defer(self.appid, lease, self.owner, until, retry=retry):
            self.done["retried" if retry else "deferred"] += 1

    def _one(self, lease: Lease) -> None:
        campaign = self._campaign(lease.broadcast_id)
        if campaign is None or campaign.status == "cancelled":
            self._settle(lease, "cancelled")
            return
        now = self.app.clock()
        quiet_end = respect.quiet_until(self.app.settings, now)
        if quiet_end is not None:
            self._defer(lease, quiet_end, retry=False)
            return
        req = SendRequest(
            touser=lease.touser,
            template_id=campaign.template_id,
            page=campaign.page,
            data=merged(campaign.data, lease.data),
            miniprogram_state=campaign.miniprogram_state,
            lang=campaign.lang,
            idempotency_key=f"{BROADCAST_KEY_PREFIX}{lease.broadcast_id}:{lease.seq}",
            broadcast_id=lease.broadcast_id,
        )
        sender = Sender(
            self.app,
            self.deadline,
            start_by=self.start_by,
            door=lambda record: self._door(lease.broadcast_id, record),
        )
        try:
            sender.send(req)
        except CampaignCancelled:
            self._settle(lease, "cancelled")
            return
        except WxapushError as error:
            self._failed(lease, error)
            return
        self._settle(lease, "sent")

    def _door(self, bid: str, record: LogRecord) -> bool:
        """The send's mark at WeChat's door, after its rate slot's wait and just before the
        call: made only if the campaign is not cancelled, in the same write. So once ``cancel``
        answers, each worker sends at most the one message already on the wire."""
        answer = self.queue.dispatch(self.appid, bid, record.log_id, time.time())
        if answer == "cancelled":
            self.campaigns[bid] = None  # the rest of the batch is settled without a send
            raise CampaignCancelled(f"broadcast {bid} was cancelled: not sent", broadcast_id=bid)
        return answer == "marked"

    def _failed(self, lease: Lease, error: WxapushError) -> None:
        now = self.app.clock()
        if isinstance(error, QuietHours):
            self._defer(lease, now + float(error.extras.get("retry_after", 60.0)), retry=False)
        elif isinstance(error, Capped):
            self._settle(lease, "capped")
        elif isinstance(error, NotSubscribed):
            self._settle(lease, "not_subscribed")
        elif isinstance(error, OutcomeUnknown) or (isinstance(error, Conflict) and error.retryable):
            # A pending record under this recipient's key: a send in flight when its worker
            # died (or still in flight). Never sent again; its outcome cannot be known here.
            self._settle(lease, "unknown")
        elif isinstance(error, QuotaExhausted):
            # WeChat's day is spent (45009): nothing passes before its midnight. This recipient
            # and the rest of the batch wait for it untried, using no attempt.
            self.quota_until = now + float(error.extras.get("retry_after", DEFAULT_RETRY))
            self._defer(lease, self.quota_until, retry=False)
        elif isinstance(error, (NoTimeLeft, RateLimited)) and error.errcode >= 990000:
            # Our own limits (the deadline, WXAPUSH_RATE_LIMIT): nothing sent, the key freed;
            # end the batch, and the recipient is due again when its lease runs out.
            self.batch_over = True
            self.stop = self._left(self.deadline) <= MARGIN
        elif error.retryable and lease.attempts + 1 < MAX_ATTEMPTS:
            pause = RETRY_AFTER.get(error.errcode, DEFAULT_RETRY) * (lease.attempts + 1)
            self._defer(lease, now + pause, retry=True)
        else:
            self._settle(lease, self._refusal(error))

    def _refusal(self, error: WxapushError) -> str:
        """``rejected`` if refused before reaching WeChat, else ``failed`` (as the log says)."""
        log_id = error.extras.get("log_id")
        record = self.app.store.log.get(log_id) if isinstance(log_id, str) else None
        if record is not None and record.status == "rejected":
            return "rejected"
        return "failed"
