"""CampaignQueue and Counters on SQL: recipients leased with ``FOR UPDATE SKIP LOCKED``.

A worker's lease is one short transaction: select due recipients ``FOR UPDATE SKIP LOCKED``
(rows another worker is leasing right now are passed over, never waited for), stamp them with
the owner and push ``due_at`` to the lease's end, commit. The lock lasts milliseconds; the lease
lasts ``seconds``, after which the recipients are due again for whoever asks — the take-over of
a worker that died. PostgreSQL and MariaDB ≥ 10.6 / MySQL ≥ 8.0 have ``SKIP LOCKED``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

from wxapush.store.base import Campaign, Lease, Recipient
from wxapush.store.campaign_seams import settled_groups
from wxapush.store.common import dump_json
from wxapush.store.sql.campaign_chunks import SqlCampaignChunks
from wxapush.store.sql.dialects import autocommit, insert_ignore, placeholders, transaction
from wxapush.store.sql.pool import Connection, Pool
from wxapush.store.sql.schema import Tables
from wxapush.store.sql.tables import columns

_OPEN = "state IN ('queued', 'deferred')"
_ACTIVE = "status IN ('queued', 'running')"
_UNSENT = "state IN ('queued', 'deferred', 'staged')"  # staged: appended to an open campaign
_CANCELLABLE = "status IN ('open', 'queued', 'running')"
_CHUNK = 1000  # recipients per INSERT statement
_CAMPAIGN = "appid = %s AND broadcast_id = %s"
_RECIPIENT = "appid = %s AND broadcast_id = %s AND seq = %s AND owner = %s"
_RECIPIENT_ROW = ("appid", "broadcast_id", "seq", "touser", "data", "state", "due_at", "owner",
                  "attempts")  # fmt: skip


class SqlCampaignQueue(SqlCampaignChunks):
    """CampaignQueue: ``<prefix>_campaigns`` and ``<prefix>_recipients``."""

    def __init__(self, pool: Pool, tables: Tables) -> None:
        self._pool = pool
        self._c = tables.campaigns
        self._r = tables.recipients
        self._log = tables.send_log

    def create(self, campaign: Campaign, recipients: Sequence[Recipient]) -> Tuple[Campaign, bool]:
        c = campaign
        head = {
            "appid": c.appid,
            "broadcast_id": c.broadcast_id,
            "template_id": c.template_id,
            "page": c.page,
            "data": dump_json(c.data),
            "miniprogram_state": c.miniprogram_state,
            "lang": c.lang,
            "status": c.status,
            "total": c.total,
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "request_hash": c.request_hash,
        }
        rows = [
            (c.appid, c.broadcast_id, r.seq, r.touser,
             None if r.data is None else dump_json(r.data), "queued", c.created_at, None, 0)
            for r in recipients
        ]  # fmt: skip
        insert = (
            f"INSERT INTO {self._r} ({', '.join(_RECIPIENT_ROW)})"
            f" VALUES ({placeholders(len(_RECIPIENT_ROW))})"
        )

        def write(conn: Connection) -> bool:
            if not insert_ignore(conn, self._c, head):
                return False
            for start in range(0, len(rows), _CHUNK):
                conn.executemany(insert, rows[start : start + _CHUNK])
            return True

        if transaction(self._pool, write):
            if rows:
                self._count_for_the_planner()
            return campaign, True
        found = self.get(c.appid, c.broadcast_id)
        if found is None:  # pragma: no cover - a campaign is never deleted
            raise RuntimeError("campaign vanished")
        return found, False

    def get(self, appid: str, broadcast_id: str) -> Optional[Campaign]:
        names = columns("campaigns")
        sql = f"SELECT {', '.join(names)} FROM {self._c} WHERE {_CAMPAIGN}"
        with self._pool.connection() as conn:
            row = conn.first(sql, [appid, broadcast_id])
        if row is None:
            return None
        values = dict(zip(names, row))
        values["data"] = json.loads(values["data"])
        return Campaign(**values)

    def lease(self, appid: str, owner: str, now: float, seconds: float, limit: int) -> List[Lease]:
        # One walk of the (appid, state, due_at) index per open state, in due order and no
        # further than ``limit`` rows: a lease costs the same whatever the queue's size, where
        # ``state IN (...)`` would make the database sort every due row.
        pick = (
            f"SELECT broadcast_id, seq, touser, data, attempts FROM {self._r}"
            " WHERE appid = %s AND state = %s AND due_at <= %s"
            " ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED"
        )

        def take(conn: Connection) -> List[Tuple[Any, ...]]:
            rows = conn.rows(pick, [appid, "deferred", now, limit])  # postponed ones first
            if len(rows) < limit:
                rows += conn.rows(pick, [appid, "queued", now, limit - len(rows)])
            for bid in sorted({row[0] for row in rows}):
                seqs = [row[1] for row in rows if row[0] == bid]
                conn.execute(
                    f"UPDATE {self._r} SET owner = %s, due_at = %s WHERE appid = %s"
                    f" AND broadcast_id = %s AND seq IN ({placeholders(len(seqs))})",
                    [owner, now + seconds, appid, bid, *seqs],
                )
                conn.execute(
                    f"UPDATE {self._c} SET status = 'running', updated_at = %s"
                    f" WHERE {_CAMPAIGN} AND status = 'queued'",
                    [now, appid, bid],
                )
            return rows

        rows = transaction(self._pool, take)
        return [Lease(bid, seq, touser, _load(data), attempts)
                for bid, seq, touser, data, attempts in rows]  # fmt: skip

    def settle(
        self, appid: str, owner: str, outcomes: Sequence[Tuple[Lease, str]], now: float
    ) -> Dict[str, int]:
        groups = settled_groups(outcomes)
        done = (
            f"UPDATE {self._c} SET status = 'done', updated_at = %s"
            f" WHERE {_CAMPAIGN} AND {_ACTIVE} AND NOT EXISTS"
            f" (SELECT 1 FROM {self._r} WHERE {_CAMPAIGN} AND {_OPEN})"
        )
        # Each campaign's row is locked first (in one order, so that batches never deadlock):
        # settles of one campaign take turns, so the last one's done-check sees every other
        # recipient's outcome committed. Without it two settles of the last two recipients each
        # see the other's still open, and neither ends the campaign (READ COMMITTED reads what
        # was committed when a statement began).
        lock = f"SELECT status FROM {self._c} WHERE {_CAMPAIGN} FOR UPDATE"

        def write(conn: Connection) -> Dict[str, int]:
            recorded: Counter[str] = Counter()
            for bid, by_outcome in groups:
                conn.scalar(lock, [appid, bid])
                changed = 0
                for outcome, seqs in by_outcome:
                    # A recipient cancelled while leased still gets its real outcome.
                    n = conn.execute(
                        f"UPDATE {self._r} SET state = %s, owner = NULL WHERE appid = %s"
                        f" AND broadcast_id = %s AND seq IN ({placeholders(len(seqs))})"
                        " AND owner = %s AND state IN ('queued', 'deferred', 'cancelled')",
                        [outcome, appid, bid, *seqs, owner],
                    )
                    recorded[outcome] += n
                    changed += n
                if changed:
                    conn.execute(done, [now, appid, bid, appid, bid])
            return {outcome: n for outcome, n in recorded.items() if n}

        return transaction(self._pool, write) if groups else {}

    def dispatch(self, appid: str, broadcast_id: str, log_id: str, now: float) -> str:
        mark = (
            f"UPDATE {self._log} SET attempts = 1, updated_at = %s"
            " WHERE log_id = %s AND status = 'pending' AND NOT EXISTS"
            f" (SELECT 1 FROM {self._c} WHERE {_CAMPAIGN} AND status = 'cancelled')"
        )
        params = [now, log_id, appid, broadcast_id]
        if autocommit(self._pool, lambda conn: conn.execute(mark, params)):
            return "marked"
        campaign = self.get(appid, broadcast_id)
        return "cancelled" if campaign is None or campaign.status == "cancelled" else "lost"

    def defer(
        self, appid: str, lease: Lease, owner: str, until: float, *, retry: bool = False
    ) -> bool:
        again = "state = 'queued', attempts = attempts + 1" if retry else "state = 'deferred'"
        sql = (
            f"UPDATE {self._r} SET owner = NULL, due_at = %s, {again}"
            f" WHERE {_RECIPIENT} AND {_OPEN}"
        )
        params = [until, appid, lease.broadcast_id, lease.seq, owner]
        return bool(autocommit(self._pool, lambda conn: conn.execute(sql, params)))

    def cancel(self, appid: str, broadcast_id: str, now: float) -> bool:
        def write(conn: Connection) -> bool:
            # The campaign's row first: its lock makes a cancel take turns with an append or a
            # start (each locks it too), so no recipient is appended or queued after it.
            cancelled = conn.execute(
                f"UPDATE {self._c} SET status = 'cancelled', updated_at = %s"
                f" WHERE {_CAMPAIGN} AND {_CANCELLABLE}",
                [now, appid, broadcast_id],
            )
            if cancelled == 0:
                return False
            conn.execute(
                f"UPDATE {self._r} SET state = 'cancelled' WHERE {_CAMPAIGN} AND {_UNSENT}",
                [appid, broadcast_id],
            )
            return True

        return transaction(self._pool, write)

    def counts(self, appid: str, broadcast_id: str) -> Dict[str, int]:
        sql = f"SELECT state, COUNT(*) FROM {self._r} WHERE {_CAMPAIGN} GROUP BY state"
        with self._pool.connection() as conn:
            return {str(state): int(n) for state, n in conn.rows(sql, [appid, broadcast_id])}


def _load(raw: Optional[str]) -> Optional[Dict[str, Any]]:
    return None if raw is None else dict(json.loads(raw))


class SqlCounters:
    """Counters: a row per key, taken by a conditional UPDATE (compare-and-set in one statement)."""

    def __init__(self, pool: Pool, tables: Tables) -> None:
        self._pool = pool
        self._t = tables.counters

    def take(self, key: str, limit: int, ttl: float) -> bool:
        t = self._t

        def attempt(conn: Connection) -> bool:
            now = time.time()
            row = {"counter_key": key, "count": 0, "expires_at": now + ttl}
            if not insert_ignore(conn, t, row):  # an expired row counts from zero
                conn.execute(
                    f"UPDATE {t} SET count = 0, expires_at = %s"
                    " WHERE counter_key = %s AND expires_at <= %s",
                    [now + ttl, key, now],
                )
            taken = conn.execute(
                f"UPDATE {t} SET count = count + 1 WHERE counter_key = %s AND count < %s",
                [key, limit],
            )
            return bool(taken)

        return autocommit(self._pool, attempt)  # each statement is a compare-and-set

    def give_back(self, key: str) -> None:
        sql = f"UPDATE {self._t} SET count = count - 1 WHERE counter_key = %s AND count > 0"
        autocommit(self._pool, lambda conn: conn.execute(sql, [key]))

    def prune(self, now: float) -> int:
        sql = f"DELETE FROM {self._t} WHERE expires_at <= %s"
        return int(autocommit(self._pool, lambda conn: conn.execute(sql, [now])))
