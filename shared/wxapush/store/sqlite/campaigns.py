"""CampaignQueue and Counters on SQLite: a table of recipients leased in ``BEGIN IMMEDIATE``.

The embedded store has one writer at a time, so the transaction that picks due recipients and
stamps them with the lease is the queue's whole concurrency story: no two workers can pick the
same row. ``due_at`` is when a recipient may next be leased (its lease's end while leased).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

from wxapush.store.base import Campaign, Lease, Recipient
from wxapush.store.campaign_seams import settled_groups
from wxapush.store.common import dump_json
from wxapush.store.sqlite.campaign_chunks import SqliteCampaignChunks
from wxapush.store.sqlite.database import Database

_CAMPAIGN = (
    "broadcast_id, appid, template_id, page, data, miniprogram_state, lang, status, total,"
    " created_at, updated_at, request_hash"
)
_OPEN = "('queued', 'deferred')"
_UNSENT = "('queued', 'deferred', 'staged')"  # staged: appended to an open campaign
_CANCELLABLE = "('open', 'queued', 'running')"


def _campaign(row: Sequence[Any]) -> Campaign:
    values = list(row)
    values[4] = json.loads(values[4])
    return Campaign(*values)


class SqliteCampaignQueue(SqliteCampaignChunks):
    """CampaignQueue: ``campaigns`` and ``recipients`` tables (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, campaign: Campaign, recipients: Sequence[Recipient]) -> Tuple[Campaign, bool]:
        c = campaign
        with self._db.write() as conn:
            found = conn.execute(
                f"SELECT {_CAMPAIGN} FROM campaigns WHERE appid = ? AND broadcast_id = ?",
                (c.appid, c.broadcast_id),
            ).fetchone()
            if found is not None:
                return _campaign(found), False
            conn.execute(
                f"INSERT INTO campaigns ({_CAMPAIGN}) VALUES ({', '.join('?' * 12)})",
                (
                    *(c.broadcast_id, c.appid, c.template_id, c.page, dump_json(c.data)),
                    *(c.miniprogram_state, c.lang, c.status, c.total, c.created_at),
                    *(c.updated_at, c.request_hash),
                ),
            )
            conn.executemany(
                "INSERT INTO recipients (appid, broadcast_id, seq, touser, data, state, due_at)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                [
                    (c.appid, c.broadcast_id, r.seq, r.touser, _data(r.data), c.created_at)
                    for r in recipients
                ],
            )
        return campaign, True

    def get(self, appid: str, broadcast_id: str) -> Optional[Campaign]:
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_CAMPAIGN} FROM campaigns WHERE appid = ? AND broadcast_id = ?",
                (appid, broadcast_id),
            ).fetchone()
        return None if row is None else _campaign(row)

    def lease(self, appid: str, owner: str, now: float, seconds: float, limit: int) -> List[Lease]:
        with self._db.write() as conn:
            rows = conn.execute(
                "SELECT broadcast_id, seq, touser, data, attempts FROM recipients"
                f" WHERE appid = ? AND due_at <= ? AND state IN {_OPEN} ORDER BY due_at LIMIT ?",
                (appid, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE recipients SET owner = ?, due_at = ?"
                " WHERE appid = ? AND broadcast_id = ? AND seq = ?",
                [(owner, now + seconds, appid, row[0], row[1]) for row in rows],
            )
            for broadcast_id in {row[0] for row in rows}:
                conn.execute(
                    "UPDATE campaigns SET status = 'running', updated_at = ?"
                    " WHERE appid = ? AND broadcast_id = ? AND status = 'queued'",
                    (now, appid, broadcast_id),
                )
        return [Lease(row[0], row[1], row[2], _load(row[3]), row[4]) for row in rows]

    def settle(
        self, appid: str, owner: str, outcomes: Sequence[Tuple[Lease, str]], now: float
    ) -> Dict[str, int]:
        groups = settled_groups(outcomes)
        if not groups:
            return {}
        recorded: Counter[str] = Counter()
        with self._db.write() as conn:
            for bid, by_outcome in groups:
                changed = 0
                for outcome, seqs in by_outcome:
                    # A recipient cancelled while leased still gets its real outcome.
                    n = conn.execute(
                        "UPDATE recipients SET state = ?, owner = NULL WHERE appid = ? AND"
                        f" broadcast_id = ? AND seq IN ({', '.join('?' * len(seqs))})"
                        " AND owner = ? AND state IN ('queued', 'deferred', 'cancelled')",
                        (outcome, appid, bid, *seqs, owner),
                    ).rowcount
                    recorded[outcome] += n
                    changed += n
                if changed:
                    _finish_if_drained(conn, appid, bid, now)
        return {outcome: n for outcome, n in recorded.items() if n}

    def dispatch(self, appid: str, broadcast_id: str, log_id: str, now: float) -> str:
        with self._db.connection() as conn:
            marked = conn.execute(
                "UPDATE send_log SET attempts = 1, updated_at = ? WHERE log_id = ?"
                " AND status = 'pending' AND NOT EXISTS (SELECT 1 FROM campaigns"
                " WHERE appid = ? AND broadcast_id = ? AND status = 'cancelled')",
                (now, log_id, appid, broadcast_id),
            ).rowcount
        if marked:
            return "marked"
        campaign = self.get(appid, broadcast_id)
        return "cancelled" if campaign is None or campaign.status == "cancelled" else "lost"

    def defer(
        self, appid: str, lease: Lease, owner: str, until: float, *, retry: bool = False
    ) -> bool:
        state, bump = ("queued", 1) if retry else ("deferred", 0)
        with self._db.connection() as conn:
            changed = conn.execute(
                "UPDATE recipients SET state = ?, due_at = ?, owner = NULL,"
                " attempts = attempts + ? WHERE appid = ? AND broadcast_id = ? AND seq = ?"
                f" AND owner = ? AND state IN {_OPEN}",
                (state, until, bump, appid, lease.broadcast_id, lease.seq, owner),
            ).rowcount
        return bool(changed)

    def cancel(self, appid: str, broadcast_id: str, now: float) -> bool:
        # An open campaign too: its staged recipients end cancelled, and append and start,
        # which write only to an open campaign, write nothing after.
        with self._db.write() as conn:
            changed = conn.execute(
                "UPDATE campaigns SET status = 'cancelled', updated_at = ? WHERE appid = ?"
                f" AND broadcast_id = ? AND status IN {_CANCELLABLE}",
                (now, appid, broadcast_id),
            ).rowcount
            if changed:
                conn.execute(
                    "UPDATE recipients SET state = 'cancelled' WHERE appid = ?"
                    f" AND broadcast_id = ? AND state IN {_UNSENT}",
                    (appid, broadcast_id),
                )
        return bool(changed)

    def counts(self, appid: str, broadcast_id: str) -> Dict[str, int]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT state, COUNT(*) FROM recipients WHERE appid = ? AND broadcast_id = ?"
                " GROUP BY state",
                (appid, broadcast_id),
            ).fetchall()
        return {str(state): int(n) for state, n in rows}


def _finish_if_drained(conn: Any, appid: str, broadcast_id: str, now: float) -> None:
    conn.execute(
        "UPDATE campaigns SET status = 'done', updated_at = ? WHERE appid = ? AND"
        " broadcast_id = ? AND status IN ('queued', 'running') AND NOT EXISTS (SELECT 1 FROM"
        f" recipients WHERE appid = ? AND broadcast_id = ? AND state IN {_OPEN})",
        (now, appid, broadcast_id, appid, broadcast_id),
    )


def _data(data: Optional[Dict[str, Any]]) -> Optional[str]:
    return None if data is None else dump_json(data)


def _load(raw: Optional[str]) -> Optional[Dict[str, Any]]:
    return None if raw is None else dict(json.loads(raw))


class SqliteCounters:
    """Counters: a row per key; an expired row counts from zero again."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def take(self, key: str, limit: int, ttl: float) -> bool:
        now = time.time()
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT count, expires_at FROM counters WHERE key = ?", (key,)
            ).fetchone()
            count, expires = (0, now + ttl) if row is None or row[1] <= now else row
            if count >= limit:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO counters (key, count, expires_at) VALUES (?, ?, ?)",
                (key, count + 1, expires),
            )
        return True

    def give_back(self, key: str) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "UPDATE counters SET count = count - 1 WHERE key = ? AND count > 0", (key,)
            )

    def prune(self, now: float) -> int:
        with self._db.connection() as conn:
            return conn.execute("DELETE FROM counters WHERE expires_at <= ?", (now,)).rowcount
