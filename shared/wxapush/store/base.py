"""The storage seams: the records and the Protocols every backend implements (helpers: ``common``).

Stdlib only, so that importing the seams never pulls in a driver. A backend (sqlite, redis, sql)
implements :class:`Store` and passes ``tests/functional/store`` — the conformance suite is the
executable form of the contracts written in the docstrings below.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

# The campaign seams (broadcast) live beside: re-exported here with the others.
from wxapush.store.campaign_seams import CAMPAIGN_STATUSES as CAMPAIGN_STATUSES
from wxapush.store.campaign_seams import OUTCOMES as OUTCOMES
from wxapush.store.campaign_seams import Campaign as Campaign
from wxapush.store.campaign_seams import CampaignQueue as CampaignQueue
from wxapush.store.campaign_seams import Counters as Counters
from wxapush.store.campaign_seams import Lease as Lease
from wxapush.store.campaign_seams import Recipient as Recipient

# The push seam (receive_event's claim and ledger write in one), likewise.
from wxapush.store.choice_seams import GRANT as GRANT
from wxapush.store.choice_seams import REVOKE as REVOKE
from wxapush.store.choice_seams import Change as Change
from wxapush.store.choice_seams import ChoiceLedger as ChoiceLedger

STATUSES = ("pending", "sent", "delivered", "undelivered", "failed", "rejected", "unknown")

#: WeChat's msgid is a 64-bit integer; accept the unsigned range so no real id is ever refused.
MSGID_MAX = 2**64 - 1


class StoreURLError(ValueError):
    """A store URL that cannot be opened: malformed, or naming an unknown scheme."""


class BackendNotAvailableError(StoreURLError):
    """The URL names a known backend that this installation does not provide (yet)."""


class SchemaVersionError(RuntimeError):
    """The store was written by a newer wxapush whose schema this version cannot read.

    ``where`` names the store (a file, a table or key prefix: never a password), ``found`` its
    schema version, ``supported`` the newest this code reads.
    """

    def __init__(self, where: str, found: int, supported: int) -> None:
        self.where, self.found, self.supported = where, found, supported
        super().__init__(
            f"{where}: schema version {found}, written by a newer wxapush;"
            f" this one reads up to version {supported}"
        )


class SchemaBehindError(RuntimeError):
    """The store's schema is older than this code's and ``WXAPUSH_MIGRATE=off`` forbids
    migrating it here: ``wxapush migrate`` brings it up."""

    def __init__(self, where: str, found: Optional[int], supported: int) -> None:
        self.where, self.found, self.supported = where, found, supported
        level = "no schema yet" if found is None else f"schema version {found}"
        super().__init__(f"{where}: {level}; this wxapush needs version {supported}")


# --- tokens and locks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRecord:
    """An access token and its absolute expiry, always stored and read together."""

    token: str
    expires_at: float  # unix seconds (absolute)
    fetched_at: float


class TokenCache(Protocol):
    """Tokens shared by every instance, and the lock that makes their fetch single-flight."""

    def get_token(self, key: str) -> Optional[TokenRecord]:
        """The stored record, or None if absent. Expired records may be returned."""

    def put_token(self, key: str, record: TokenRecord) -> None:
        """Store token, expiry and fetch time as one record, in one atomic write."""

    def invalidate_token(self, key: str, token: str) -> bool:
        """Remove the record only if its token is still ``token``; True if removed."""

    def prune_tokens(self, prefix: str, expired_before: float) -> int:
        """Delete the records whose key starts with ``prefix`` (exact bytes) and whose
        ``expires_at`` is before ``expired_before``; return how many. A store whose records
        expire by themselves may leave them to that and return 0: the redis backend's vanish
        ``TOKEN_GRACE`` (a day) after their ``expires_at``."""

    def acquire_lock(self, name: str, owner: str, ttl: float) -> bool:
        """Take the lock for ``ttl`` seconds without blocking; True if taken.

        A lock past its ttl is free. Not re-entrant: while held, every caller gets False,
        its owner included.
        """

    def release_lock(self, name: str, owner: str) -> bool:
        """Release the lock if ``owner`` holds it; True if released. Others' locks stay."""


# --- the send log -------------------------------------------------------------------------------


@dataclass
class LogRecord:
    """One message's trace; also the idempotency record when ``idempotency_key`` is set."""

    log_id: str  # from new_log_id()
    appid: str
    touser: str
    template_id: str
    page: Optional[str]
    data: Dict[str, Any]  # JSON-able
    miniprogram_state: str
    lang: str
    status: str  # one of STATUSES
    created_at: float  # unix seconds
    updated_at: float
    errcode: Optional[int] = None
    errmsg: Optional[str] = None
    msgid: Optional[int] = None  # WeChat's 64-bit msgid, exact
    #: Calls to WeChat started for this record: a ``pending`` claim is written with 0 and set to
    #: 1 (compare-and-set) just before the call starts. A ``pending`` record at 0 never reached
    #: WeChat's door: a retry of the same key and payload may take it over, and reconciliation
    #: marks it ``rejected`` (never sent), never ``unknown``.
    attempts: int = 0
    idempotency_key: Optional[str] = None
    payload_hash: Optional[str] = None  # detects a key reused with another payload
    broadcast_id: Optional[str] = None  # the campaign this message belongs to, if any


LOG_FIELDS = tuple(f.name for f in fields(LogRecord))

#: Fields ``SendLog.update`` may change. The identity, the partition and the sort key may not.
UPDATABLE_FIELDS = frozenset(LOG_FIELDS) - {"log_id", "appid", "created_at", "broadcast_id"}
#: Fields ``SendLog.update(only_if=…)`` may compare.
CONDITION_FIELDS = frozenset({"status", "attempts"})


@dataclass(frozen=True)
class LogQuery:
    """A page of one app's log between two instants, newest first."""

    appid: str
    since: float  # inclusive, unix seconds
    until: float  # exclusive
    touser: Optional[str] = None
    template_id: Optional[str] = None
    status: Optional[str] = None
    broadcast_id: Optional[str] = None
    offset: int = 0
    count: int = 20
    #: WeChat's (or the project's) errcode; records without one never match. The other filters
    #: have indexes; this one narrows what they select (redis: a scan on the server).
    errcode: Optional[int] = None
    #: Count exactly up to this many matches; past it a store whose count grows with the log
    #: stops counting (``LogPage.total_exact`` False), so a page costs the same at any size.
    exact_up_to: int = 500


@dataclass(frozen=True)
class LogPage:
    """A page of ``SendLog.query``: the total matching and the records of the page.

    ``total`` is exact when ``total_exact``; otherwise more than ``LogQuery.exact_up_to``
    records match and ``total`` is ``exact_up_to + 1``, a lower bound ("500+"). The records
    are the exact page asked for either way.
    """

    total: int
    records: List[LogRecord]
    total_exact: bool = True


#: Every bound of ``SendLog.summarize`` is a multiple of this many seconds: a day in any time zone
#: starts on a quarter hour, and the redis backend keeps its counters per quarter hour.
SUMMARY_GRAIN = 900
#: The most periods one summary covers (a year and a day, by day).
SUMMARY_MAX_PERIODS = 367


@dataclass(frozen=True)
class LogSummary:
    """Counts of one app's records by the period of their ``created_at`` (``SendLog.summarize``).

    ``periods[i]`` maps status -> count for ``bounds[i] <= created_at < bounds[i + 1]``;
    ``templates`` maps template_id -> status -> count over the whole range; ``errcodes`` maps
    ``(template_id, status, errcode)`` -> count over the whole range, for records whose errcode
    is set and not 0. Zero counts are left out.
    """

    periods: Tuple[Mapping[str, int], ...]
    templates: Mapping[str, Mapping[str, int]]
    errcodes: Mapping[Tuple[str, str, int], int]


class SendLog(Protocol):
    """The durable record of every message, and the idempotency record of keyed sends."""

    def claim(self, record: LogRecord) -> Tuple[LogRecord, bool]:
        """Insert ``record``; return ``(record, True)``.

        If ``record.idempotency_key`` is set and a record with the same (appid, key) exists,
        write nothing and return ``(existing, False)``. Atomic across processes: of N concurrent
        claims of one key exactly one returns True.
        """

    def update(
        self,
        log_id: str,
        *,
        use_grant: Optional[GrantKey] = None,
        only_if: Optional[Mapping[str, Any]] = None,
        **changes: Any,
    ) -> bool:
        """Apply ``changes`` (fields of UPDATABLE_FIELDS) in one atomic write; True if applied.

        With ``only_if`` (fields of CONDITION_FIELDS -> values), apply them only if the record
        still holds those values, in the same atomic write, and return False (changing nothing)
        if it does not: the send path's compare-and-set on a claim (see ``attempts``).

        With ``use_grant``, when the update changes the record's status, the same write also
        takes one from that grant balance if it is above zero (as ``GrantLedger.consume``):
        the send path records WeChat's answer and the grant it used in a single commit, and a
        repeat of the same update (a retry after a lost reply) takes no second grant.
        KeyError if ``log_id`` is absent (and then no grant is taken); ValueError for a field that
        may not change or a bad status. ``updated_at`` is not set implicitly: the caller passes it.
        """

    def get(self, log_id: str) -> Optional[LogRecord]:
        """The record, or None."""

    def find_by_msgid(self, appid: str, msgid: int) -> Optional[LogRecord]:
        """The (newest) record of ``appid`` carrying WeChat's ``msgid``, or None."""

    def query(self, q: LogQuery) -> LogPage:
        """The page ordered by created_at desc, then log_id desc, and the total matching.

        The total is exact up to ``q.exact_up_to``; past it a store whose count would grow with
        the log stops counting and says so (``LogPage.total_exact`` False): see LogPage.
        """

    def summarize(self, appid: str, bounds: Sequence[float]) -> LogSummary:
        """The app's records counted by period, status, template and errcode, in the store.

        ``bounds``: n+1 increasing instants (unix seconds, multiples of SUMMARY_GRAIN) for n
        periods, 1 <= n <= SUMMARY_MAX_PERIODS; ValueError otherwise. Computed by aggregate
        queries (or counters the store maintains), never by reading the records; a snapshot of
        one moment where the backend offers one.
        """

    def prune(self, older_than: float) -> int:
        """Delete the records (of every app) created before ``older_than``; return how many."""

    def expire_idempotency(self, older_than: float) -> int:
        """Forget the idempotency keys of records created before ``older_than`` (the records
        stay; the keys become free); return how many keys were forgotten."""


class LogRollups(Protocol):
    """Counts of closed periods kept beside the send log, so that ``SendLog.summarize`` reads
    O(periods), not O(records): SQL counts the records of a closed day or hour once (store/sql/
    rollups.py), Redis sums its quarter-hour counters (store/redis/rollups.py). SQLite has none:
    an embedded store's summary counts its own file."""

    def roll_up(
        self,
        appid: str,
        buckets: Sequence[Tuple[int, int]],
        now: Optional[float] = None,
        deadline: Optional[float] = None,
    ) -> int:
        """Count the app's records of each closed bucket (``[start, end)`` of ``created_at``,
        ``end <= now``) not counted yet or written since, stopping short of ``deadline``
        (``time.monotonic``); forget the buckets not named; return how many were counted.
        ``SendLog.summarize`` counts live whatever no clean bucket covers, so its figures equal
        a full count whenever this ran, and whatever it left for its next run."""


# --- grants and templates -----------------------------------------------------------------------


@dataclass(frozen=True)
class GrantKey:
    """One grant balance of the ledger."""

    appid: str
    openid: str
    template_id: str


class GrantLedger(Protocol):
    """How many one-time messages a user allowed, per (appid, openid, template_id)."""

    def grant(self, appid: str, openid: str, template_id: str, count: int = 1) -> int:
        """Add ``count`` (>= 1) and return the new balance."""

    def revoke(self, appid: str, openid: str, template_id: str) -> None:
        """Set the balance to 0 (reject, ban, 43101); a never-recorded key becomes recorded."""

    def consume(self, appid: str, openid: str, template_id: str) -> bool:
        """Atomically take one: True if the balance was > 0 (and is now one less)."""

    def balance(self, appid: str, openid: str, template_id: str) -> Optional[int]:
        """The balance, or None if nothing was ever recorded for this key."""

    def holders(self, appid: str, template_id: str) -> list[str]:
        """The openids whose balance for ``template_id`` is above zero, sorted."""


@dataclass(frozen=True)
class TemplateInfo:
    """A template of the app's account, as ``/wxaapi/newtmpl/gettemplate`` describes it."""

    template_id: str
    title: str
    type: int  # 2 one-time, 3 long-term
    keywords: Tuple[Tuple[str, str], ...]  # (code, type) in template order
    enum_values: Mapping[str, Tuple[str, ...]]  # code -> allowed values
    content: str = ""


class TemplateRegistry(Protocol):
    """The app's templates, synced by refresh_code, read by validation on every send."""

    def replace_templates(
        self, appid: str, templates: Sequence[TemplateInfo], synced_at: float
    ) -> None:
        """Atomically replace the app's whole set (readers see the old set or the new one)."""

    def get_template(self, appid: str, template_id: str) -> Optional[TemplateInfo]:
        """The template, or None."""

    def list_templates(self, appid: str) -> list[TemplateInfo]:
        """The app's templates in the order they were given to replace_templates."""

    def synced_at(self, appid: str) -> Optional[float]:
        """When the app's set was last replaced, or None if never."""


class EventLog(Protocol):
    """Keys of events already handled: WeChat re-pushes an event it got no timely answer for."""

    def first_seen(self, key: str, ttl: float) -> bool:
        """Record ``key`` for ``ttl`` seconds; True only for the first caller in that window."""

    def forget(self, key: str) -> None:
        """Drop ``key`` (handling failed: the re-push must be handled again)."""

    def prune(self, now: float) -> int:
        """Delete keys whose window ended before ``now``; returns how many."""


class RateLimiter(Protocol):
    """A token bucket per key, shared by every instance: ``rate`` per second, ``burst`` deep."""

    def acquire(self, key: str, rate: float, burst: int = 1, max_wait: float = 0.0) -> float:
        """Reserve one token; return the seconds to wait before using it (0.0: use it now).

        If the wait would exceed ``max_wait``, reserve nothing and return that wait (which is
        then ``> max_wait``). Atomic across processes: N callers reserve N distinct slots, at
        most ``burst`` of them immediate, then one every ``1/rate`` seconds.
        """

    def prune(self, now: float) -> int:
        """Delete the buckets at rest by ``now`` (full again: one is then the same as none, so
        nothing changes for a caller); how many (0 where the backend expires them itself). A
        bucket per source address (the credential guard's) would otherwise stay forever."""


class Store(Protocol):
    """One backend's seams, opened together by ``open_store``."""

    # Read-only properties rather than attributes: a backend may then expose its own concrete
    # classes (mypy treats protocol attributes as invariant, properties as covariant).
    @property
    def tokens(self) -> TokenCache: ...
    @property
    def log(self) -> SendLog: ...
    @property
    def grants(self) -> GrantLedger: ...
    @property
    def templates(self) -> TemplateRegistry: ...
    @property
    def events(self) -> EventLog: ...
    @property
    def choices(self) -> ChoiceLedger: ...
    @property
    def limiter(self) -> RateLimiter: ...
    @property
    def campaigns(self) -> CampaignQueue: ...
    @property
    def counters(self) -> Counters: ...

    def close(self) -> None:
        """Release connections. Idempotent."""


# --- helpers shared by backends -----------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_id_lock = threading.Lock()
_id_state = [0, 0]  # last millisecond, last random part


def _reset_id_state() -> None:
    _id_state[:] = [0, 0]


# A forked child must not continue the parent's sequence, or both could mint the same id.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_id_state)


def new_log_id() -> str:
    """A 26-character ULID-style id: 48-bit milliseconds + 80 random bits, Crockford base32.

    Ids sort by creation time; within one process they are strictly increasing, even within one
    millisecond or if the clock steps back.
    """
    ms = int(time.time() * 1000)
    with _id_lock:
        last_ms, last_rand = _id_state
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1
            if rand >= 2**80:  # 2**80 ids in one millisecond: borrow the next one
                ms, rand = ms + 1, 0
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _id_state[:] = [ms, rand]
    value = (ms << 80) | rand
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))
