"""The campaign seams of broadcast: the records and the Protocols of the queue and the counters.

Part of the storage seams (``wxapush.store.base`` re-exports them); stdlib only. Every backend
implements both and passes ``tests/functional/store/test_campaigns.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Protocol, Sequence, Tuple

#: A campaign's life: queued -> running -> done, or cancelled at any point before done. A
#: campaign created ``open`` takes its recipients in chunks (``append``) until ``start``
#: (or ``cancel``).
CAMPAIGN_STATUSES = ("open", "queued", "running", "done", "cancelled")
#: A recipient's final outcomes; ``queued`` and ``deferred`` are the states before one.
OUTCOMES = ("sent", "not_subscribed", "failed", "rejected", "capped", "unknown", "cancelled")


@dataclass
class Campaign:
    """One broadcast: a template and its default data, sent to ``total`` recipients."""

    broadcast_id: str
    appid: str
    template_id: str
    page: Optional[str]
    data: Dict[str, Any]
    miniprogram_state: str
    lang: str
    status: str  # one of CAMPAIGN_STATUSES
    total: int
    created_at: float
    updated_at: float
    request_hash: str  # a create repeated with another request is a conflict


@dataclass(frozen=True)
class Recipient:
    """One recipient of a campaign: its position (from 0), openid and per-user data, if any."""

    seq: int
    touser: str
    data: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class Lease:
    """A recipient a worker holds until it settles it, defers it or its lease runs out."""

    broadcast_id: str
    seq: int
    touser: str
    data: Optional[Dict[str, Any]]
    attempts: int  # retries so far (a retryable failure puts the recipient back)
    token: str = ""  # the backend's handle (a Redis stream entry id)


class CampaignQueue(Protocol):
    """Campaigns and their recipients: a durable work queue on the store's own primitives.

    A worker ``lease``s due recipients for a while; it then ``settle``s them with their outcomes
    or ``defer``s one. A lease that runs out (the worker died) makes its recipients due again, for
    another worker to take. Every recipient ends with exactly one outcome: ``settle`` by a
    worker that no longer holds the lease writes nothing.
    """

    def create(self, campaign: Campaign, recipients: Sequence[Recipient]) -> Tuple[Campaign, bool]:
        """Store the campaign and queue its recipients, all or nothing; ``(campaign, True)``.

        If the app already has ``campaign.broadcast_id``, write nothing: ``(existing, False)``.
        """

    def get(self, appid: str, broadcast_id: str) -> Optional[Campaign]:
        """The campaign, or None."""

    def lease(self, appid: str, owner: str, now: float, seconds: float, limit: int) -> list[Lease]:
        """Take up to ``limit`` recipients due at ``now`` (of the app's queued or running
        campaigns) for ``seconds``; concurrent callers never get the same recipient while a
        lease holds. Marks a queued campaign running.

        Every worker of a deployment leases for the same ``seconds``: Redis measures a lease
        by its entry's idle time when another worker looks, SQL by the end stamped on it.
        """

    def settle(
        self, appid: str, owner: str, outcomes: Sequence[Tuple[Lease, str]], now: float
    ) -> Dict[str, int]:
        """Record each recipient's final outcome (one of OUTCOMES) if ``owner`` still holds its
        lease, in one write (a worker settles its batch at once): how many of each outcome were
        recorded. A campaign whose last recipient settles becomes done."""

    def dispatch(self, appid: str, broadcast_id: str, log_id: str, now: float) -> str:
        """Mark a recipient's send record at WeChat's door (``attempts`` 1, ``updated_at``
        ``now``; see ``send_claim``) if it is still ``pending`` and the campaign is not
        cancelled, in one atomic step: ``"marked"``, ``"cancelled"`` (nothing written) or
        ``"lost"`` (the record is gone or no longer pending: nothing written). A cancel
        therefore stops every worker within the send already on the wire."""

    def defer(
        self, appid: str, lease: Lease, owner: str, until: float, *, retry: bool = False
    ) -> bool:
        """Put the recipient back, due at ``until``: counted ``deferred`` (quiet hours), or with
        ``retry`` as a retry (``attempts`` + 1, counted queued). False if the lease was lost."""

    def cancel(self, appid: str, broadcast_id: str, now: float) -> bool:
        """Stop an open, queued or running campaign, in one atomic step: what is not yet
        settled ends ``cancelled`` (an open campaign's staged recipients too, never leased;
        an ``append`` or ``start`` after it writes nothing). False if there is no such
        campaign, or it is over already."""

    def counts(self, appid: str, broadcast_id: str) -> Dict[str, int]:
        """Recipients per state: ``queued``, ``deferred`` and each outcome (zeros omitted)."""

    def append(
        self, appid: str, broadcast_id: str, recipients: Sequence[Recipient], now: float
    ) -> Tuple[Optional[str], List[Recipient]]:
        """Add ``recipients`` (their ``seq`` chosen by the caller) to an ``open`` campaign, all
        or nothing, never leased before ``start``; ``total`` grows by their number.

        Returns the campaign's status (None: no such campaign) and the recipients already
        stored at any of these ``seq``s, from the lowest to the highest given: written only if
        the status is ``open`` and that list is empty (a chunk appended again writes nothing).
        """

    def start(self, appid: str, broadcast_id: str, now: float) -> bool:
        """An ``open`` campaign becomes ``queued``, its recipients due at ``now``; True if it
        was open (False: no such campaign, or started or over already)."""


class Counters(Protocol):
    """Bounded counters shared by every instance (the per-user cap)."""

    def take(self, key: str, limit: int, ttl: float) -> bool:
        """Add one if the count is below ``limit``; True if added. The count lives ``ttl``
        seconds from its first take."""

    def give_back(self, key: str) -> None:
        """Remove one taken (the message was not sent after all); never below zero."""

    def prune(self, now: float) -> int:
        """Delete the counters whose time ended by ``now``; how many (0 where the backend
        expires them itself)."""


def settled_groups(
    outcomes: Sequence[Tuple[Lease, str]],
) -> List[Tuple[str, List[Tuple[str, List[int]]]]]:
    """A batch of settles grouped for a backend's writes: per campaign (in ``broadcast_id``
    order, so that concurrent batches lock campaigns in one order), per outcome, the ``seq``s.
    An outcome outside OUTCOMES is refused before anything is written."""
    groups: Dict[str, Dict[str, List[int]]] = {}
    for lease, outcome in outcomes:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        groups.setdefault(lease.broadcast_id, {}).setdefault(outcome, []).append(lease.seq)
    return [(bid, sorted(groups[bid].items())) for bid in sorted(groups)]
