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
from typing import Any, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wxapush.store.base import OUTCOMES, Campaign, Lease, Recipient
from wxapush.store.common import dump_json
from wxapush.store.sql.dialects import insert_ignore, transaction
from wxapush.store.sql.schema import Tables

_OPEN = ("queued", "deferred")
_ACTIVE = ("queued", "running")
_CHUNK = 1000  # recipients per INSERT statement


class SqlCampaignQueue:
    """CampaignQueue: ``<prefix>_campaigns`` and ``<prefix>_recipients``."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self._engine = engine
        self._c = tables.campaigns
        self._r = tables.recipients

    def _campaign_where(self, appid: str, broadcast_id: str) -> Any:
        return (self._c.c.appid == appid) & (self._c.c.broadcast_id == broadcast_id)

    def _recipient_where(self, appid: str, lease: Lease, owner: str) -> Any:
        r = self._r.c
        return (
            (r.appid == appid)
            & (r.broadcast_id == lease.broadcast_id)
            & (r.seq == lease.seq)
            & (r.owner == owner)
        )

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
            {
                "appid": c.appid,
                "broadcast_id": c.broadcast_id,
                "seq": r.seq,
                "touser": r.touser,
                "data": None if r.data is None else dump_json(r.data),
                "state": "queued",
                "due_at": c.created_at,
                "owner": None,
                "attempts": 0,
            }
            for r in recipients
        ]

        def write(conn: Connection) -> bool:
            if not insert_ignore(conn, self._c, head):
                return False
            for start in range(0, len(rows), _CHUNK):
                conn.execute(self._r.insert(), rows[start : start + _CHUNK])
            return True

        if transaction(self._engine, write):
            return campaign, True
        found = self.get(c.appid, c.broadcast_id)
        if found is None:  # pragma: no cover - a campaign is never deleted
            raise RuntimeError("campaign vanished")
        return found, False

    def get(self, appid: str, broadcast_id: str) -> Optional[Campaign]:
        with self._engine.connect() as conn:
            row = (
                conn.execute(sa.select(self._c).where(self._campaign_where(appid, broadcast_id)))
                .mappings()
                .first()
            )
        if row is None:
            return None
        values = dict(row)
        values["data"] = json.loads(values["data"])
        return Campaign(**values)

    def lease(self, appid: str, owner: str, now: float, seconds: float, limit: int) -> List[Lease]:
        r = self._r.c
        pick = (
            sa.select(r.broadcast_id, r.seq, r.touser, r.data, r.attempts)
            .where((r.appid == appid) & r.state.in_(_OPEN) & (r.due_at <= now))
            .order_by(r.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def take(conn: Connection) -> List[Any]:
            rows = list(conn.execute(pick))
            for bid in {row.broadcast_id for row in rows}:
                seqs = [row.seq for row in rows if row.broadcast_id == bid]
                conn.execute(
                    self._r.update()
                    .where((r.appid == appid) & (r.broadcast_id == bid) & r.seq.in_(seqs))
                    .values(owner=owner, due_at=now + seconds)
                )
                conn.execute(
                    self._c.update()
                    .where(self._campaign_where(appid, bid) & (self._c.c.status == "queued"))
                    .values(status="running", updated_at=now)
                )
            return rows

        rows = transaction(self._engine, take)
        return [
            Lease(row.broadcast_id, row.seq, row.touser, _load(row.data), row.attempts)
            for row in rows
        ]

    def settle(self, appid: str, lease: Lease, owner: str, outcome: str, now: float) -> bool:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        r = self._r.c
        # A recipient cancelled while leased still gets its real outcome from its worker.
        where = self._recipient_where(appid, lease, owner) & r.state.in_((*_OPEN, "cancelled"))
        stmt = self._r.update().where(where).values(state=outcome, owner=None)

        def write(conn: Connection) -> bool:
            if conn.execute(stmt).rowcount == 0:
                return False
            left = sa.select(sa.literal(1)).where(
                (r.appid == appid) & (r.broadcast_id == lease.broadcast_id) & r.state.in_(_OPEN)
            )
            conn.execute(
                self._c.update()
                .where(
                    self._campaign_where(appid, lease.broadcast_id)
                    & self._c.c.status.in_(_ACTIVE)
                    & ~sa.exists(left)
                )
                .values(status="done", updated_at=now)
            )
            return True

        return transaction(self._engine, write)

    def defer(
        self, appid: str, lease: Lease, owner: str, until: float, *, retry: bool = False
    ) -> bool:
        r = self._r.c
        values: Dict[str, Any] = {"owner": None, "due_at": until}
        if retry:
            values.update(state="queued", attempts=r.attempts + 1)
        else:
            values["state"] = "deferred"
        stmt = (
            self._r.update()
            .where(self._recipient_where(appid, lease, owner) & r.state.in_(_OPEN))
            .values(**values)
        )
        return bool(transaction(self._engine, lambda conn: conn.execute(stmt).rowcount))

    def cancel(self, appid: str, broadcast_id: str, now: float) -> bool:
        r = self._r.c

        def write(conn: Connection) -> bool:
            stmt = (
                self._c.update()
                .where(self._campaign_where(appid, broadcast_id) & self._c.c.status.in_(_ACTIVE))
                .values(status="cancelled", updated_at=now)
            )
            if conn.execute(stmt).rowcount == 0:
                return False
            conn.execute(
                self._r.update()
                .where((r.appid == appid) & (r.broadcast_id == broadcast_id) & r.state.in_(_OPEN))
                .values(state="cancelled")
            )
            return True

        return transaction(self._engine, write)

    def counts(self, appid: str, broadcast_id: str) -> Dict[str, int]:
        r = self._r.c
        stmt = (
            sa.select(r.state, sa.func.count())
            .where((r.appid == appid) & (r.broadcast_id == broadcast_id))
            .group_by(r.state)
        )
        with self._engine.connect() as conn:
            return {str(state): int(n) for state, n in conn.execute(stmt)}


def _load(raw: Optional[str]) -> Optional[Dict[str, Any]]:
    return None if raw is None else dict(json.loads(raw))


class SqlCounters:
    """Counters: a row per key, taken by a conditional UPDATE (compare-and-set in one statement)."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self._engine = engine
        self._t = tables.counters

    def take(self, key: str, limit: int, ttl: float) -> bool:
        c = self._t.c

        def attempt(conn: Connection) -> bool:
            now = time.time()
            row = {"counter_key": key, "count": 0, "expires_at": now + ttl}
            if not insert_ignore(conn, self._t, row):  # an expired row counts from zero
                conn.execute(
                    self._t.update()
                    .where((c.counter_key == key) & (c.expires_at <= now))
                    .values(count=0, expires_at=now + ttl)
                )
            taken = conn.execute(
                self._t.update()
                .where((c.counter_key == key) & (c.count < limit))
                .values(count=c.count + 1)
            ).rowcount
            return bool(taken)

        return transaction(self._engine, attempt)

    def give_back(self, key: str) -> None:
        c = self._t.c
        stmt = (
            self._t.update().where((c.counter_key == key) & (c.count > 0)).values(count=c.count - 1)
        )
        transaction(self._engine, lambda conn: conn.execute(stmt))
