"""CampaignQueue's chunked campaigns on SQLite: recipients appended ``staged``, queued at start.

A staged recipient is a row of ``recipients`` that no lease picks (only ``queued`` and
``deferred`` ones are due); ``start`` turns the campaign's staged rows ``queued`` and the
campaign ``queued`` in one ``BEGIN IMMEDIATE`` transaction, so a worker sees all or none;
``cancel`` (in ``campaigns.py``) turns them ``cancelled`` the same way.
"""

from __future__ import annotations

import json
from typing import List, Optional, Sequence, Tuple

from wxapush.store.base import Recipient
from wxapush.store.common import dump_json
from wxapush.store.sqlite.database import Database


class SqliteCampaignChunks:
    """``append`` and ``start`` of :class:`~wxapush.store.base.CampaignQueue` (a mixin)."""

    _db: Database

    def append(
        self, appid: str, broadcast_id: str, recipients: Sequence[Recipient], now: float
    ) -> Tuple[Optional[str], List[Recipient]]:
        if not recipients:
            raise ValueError("append needs recipients")
        seqs = [r.seq for r in recipients]
        with self._db.write() as conn:
            found = conn.execute(
                "SELECT status FROM campaigns WHERE appid = ? AND broadcast_id = ?",
                (appid, broadcast_id),
            ).fetchone()
            if found is None or found[0] != "open":
                return (None if found is None else str(found[0])), []
            stored = conn.execute(
                "SELECT seq, touser, data FROM recipients WHERE appid = ? AND broadcast_id = ?"
                " AND seq BETWEEN ? AND ? ORDER BY seq",
                (appid, broadcast_id, min(seqs), max(seqs)),
            ).fetchall()
            if stored:
                return "open", [
                    Recipient(int(seq), str(touser), None if data is None else json.loads(data))
                    for seq, touser, data in stored
                ]
            conn.executemany(
                "INSERT INTO recipients (appid, broadcast_id, seq, touser, data, state, due_at)"
                " VALUES (?, ?, ?, ?, ?, 'staged', 0)",
                [
                    (
                        appid,
                        broadcast_id,
                        r.seq,
                        r.touser,
                        None if r.data is None else dump_json(r.data),
                    )
                    for r in recipients
                ],
            )
            conn.execute(
                "UPDATE campaigns SET total = total + ?, updated_at = ?"
                " WHERE appid = ? AND broadcast_id = ?",
                (len(recipients), now, appid, broadcast_id),
            )
        return "open", []

    def start(self, appid: str, broadcast_id: str, now: float) -> bool:
        with self._db.write() as conn:
            changed = conn.execute(
                "UPDATE campaigns SET status = 'queued', updated_at = ?"
                " WHERE appid = ? AND broadcast_id = ? AND status = 'open'",
                (now, appid, broadcast_id),
            ).rowcount
            if changed:
                conn.execute(
                    "UPDATE recipients SET state = 'queued', due_at = ?"
                    " WHERE appid = ? AND broadcast_id = ? AND state = 'staged'",
                    (now, appid, broadcast_id),
                )
        return bool(changed)
