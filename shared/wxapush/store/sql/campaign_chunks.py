"""CampaignQueue's chunked campaigns on SQL: recipients appended ``staged``, queued at start.

A staged recipient is a row no lease picks (only ``queued`` and ``deferred`` ones are due).
Each step locks the campaign's row first (``FOR UPDATE``), so two appends of one chunk, or an
append racing ``start``, take turns: the second append finds the first's rows and writes
nothing, and no recipient is appended after the campaign was queued or cancelled (``cancel``,
in ``campaigns.py``, turns an open campaign's staged rows ``cancelled`` under the same lock).
"""

from __future__ import annotations

import json
import logging
from typing import List, Optional, Sequence, Tuple

from wxapush.store.base import Recipient
from wxapush.store.common import dump_json
from wxapush.store.sql.dialects import autocommit, placeholders, transaction
from wxapush.store.sql.pool import Connection, Pool

log = logging.getLogger("wxapush.store")

_INSERT_ROWS = 1000  # recipients per INSERT statement
_ROW = ("appid", "broadcast_id", "seq", "touser", "data", "state", "due_at", "attempts")


class SqlCampaignChunks:
    """``append`` and ``start`` of :class:`~wxapush.store.base.CampaignQueue` (a mixin)."""

    _pool: Pool
    _c: str
    _r: str

    def append(
        self, appid: str, broadcast_id: str, recipients: Sequence[Recipient], now: float
    ) -> Tuple[Optional[str], List[Recipient]]:
        if not recipients:
            raise ValueError("append needs recipients")
        seqs = [r.seq for r in recipients]
        rows = [
            (appid, broadcast_id, r.seq, r.touser,
             None if r.data is None else dump_json(r.data), "staged", 0, 0)
            for r in recipients
        ]  # fmt: skip
        insert = f"INSERT INTO {self._r} ({', '.join(_ROW)}) VALUES ({placeholders(len(_ROW))})"

        def write(conn: Connection) -> Tuple[Optional[str], List[Recipient]]:
            found = conn.first(
                f"SELECT status FROM {self._c} WHERE appid = %s AND broadcast_id = %s FOR UPDATE",
                [appid, broadcast_id],
            )
            if found is None or found[0] != "open":
                return (None if found is None else str(found[0])), []
            stored = conn.rows(
                f"SELECT seq, touser, data FROM {self._r} WHERE appid = %s AND broadcast_id = %s"
                " AND seq BETWEEN %s AND %s ORDER BY seq",
                [appid, broadcast_id, min(seqs), max(seqs)],
            )
            if stored:
                return "open", [
                    Recipient(int(seq), str(touser), None if data is None else json.loads(data))
                    for seq, touser, data in stored
                ]
            for first in range(0, len(rows), _INSERT_ROWS):
                conn.executemany(insert, rows[first : first + _INSERT_ROWS])
            conn.execute(
                f"UPDATE {self._c} SET total = total + %s, updated_at = %s"
                " WHERE appid = %s AND broadcast_id = %s",
                [len(rows), now, appid, broadcast_id],
            )
            return "open", []

        return transaction(self._pool, write)

    def start(self, appid: str, broadcast_id: str, now: float) -> bool:
        def write(conn: Connection) -> bool:
            changed = conn.execute(
                f"UPDATE {self._c} SET status = 'queued', updated_at = %s"
                " WHERE appid = %s AND broadcast_id = %s AND status = 'open'",
                [now, appid, broadcast_id],
            )
            if changed:
                conn.execute(
                    f"UPDATE {self._r} SET state = 'queued', due_at = %s"
                    " WHERE appid = %s AND broadcast_id = %s AND state = 'staged'",
                    [now, appid, broadcast_id],
                )
            return bool(changed)

        if not transaction(self._pool, write):
            return False
        self._count_for_the_planner()
        return True

    def _count_for_the_planner(self) -> None:
        """Refresh PostgreSQL's statistics of the recipients once a campaign's are queued.

        Until autovacuum counts them (a minute or more later), the planner believes the table
        as small as before, and may serve ``seq IN (...)`` — every lease's and settle's
        statement — through the campaign's whole index range: a lease costing O(recipients)
        (a 200,000-recipient drain ran at 39/s). ANALYZE samples at most 30,000 rows. MySQL's
        InnoDB refreshes its statistics on its own. Best effort: a user who may not ANALYZE
        leaves it to autovacuum."""
        if self._pool.dialect.name != "postgresql":
            return
        try:
            autocommit(self._pool, lambda conn: conn.execute(f"ANALYZE {self._r}"))
        except self._pool.dialect.Error as exc:
            log.warning("ANALYZE %s failed (%s): autovacuum will count it", self._r,
                        type(exc).__name__)  # fmt: skip
