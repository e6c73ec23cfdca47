"""The send log's rollups on SQL: closed periods counted once, the open one counted live.

``<prefix>_send_rollup`` holds, per *bucket* (an interval of ``created_at``: a closed day or a
closed hour of today in ``WXAPUSH_TZ``, chosen by refresh_code), the records' counts by
template, status and errcode, plus one marker row (template and status ``''``) that says the
bucket was counted as of ``rolled_at``. ``SendLog.summarize`` then reads the buckets that tile
its periods and counts live only what no clean bucket covers (the open hour, a day never rolled
up), so it reads O(days) rows, not O(records).

A record can change after its bucket was counted (sent → delivered, pending → unknown, a late
insert): every such write sets ``updated_at``, so a bucket is *dirty* when a record in it has
``updated_at >= rolled_at``, found through the ``(appid, updated_at)`` index among the records
written since the oldest ``rolled_at`` (refresh_code moves every clean bucket's ``rolled_at``
forward, so that is a few minutes' writes). A dirty bucket is counted live until the next roll
recounts it. Prune deletes records without touching ``updated_at``: the marker keeps (``oldest``)
the app's oldest ``created_at`` when it was counted, and a bucket that starts before the app's
oldest record now, which has moved on since, may have lost some and is counted live too. So
the summary always equals a full count. ``rolled_at`` is taken ``SKEW`` seconds early, for
writers whose clocks lag and transactions that commit late.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from wxapush.store.base import SUMMARY_GRAIN, LogSummary
from wxapush.store.common import SummaryBuilder, check_bounds
from wxapush.store.sql.pool import Connection, Pool
from wxapush.store.sql.schema import Tables

#: Seconds by which a writer's clock may lag, or its transaction commit after it read the time.
SKEW = 60.0
#: Seconds of a refresh_code run left when the step begins no other bucket: one day's count at
#: WeChat's quota reads 10⁷ index entries.
MARGIN = 5.0
_MARK = "template_id = '' AND status = ''"

Bucket = Tuple[int, int]
#: (bucket_start, bucket_end) -> (rolled_at, the app's oldest created_at then)
Marks = Dict[Bucket, Tuple[float, float]]


class SqlRollups:
    """The rollups of one namespace (``LogRollups``)."""

    def __init__(self, pool: Pool, tables: Tables) -> None:
        self._pool = pool
        self._log = tables.send_log
        self._t = tables.send_rollup

    def roll_up(
        self,
        appid: str,
        buckets: Sequence[Bucket],
        now: Optional[float] = None,
        deadline: Optional[float] = None,
    ) -> int:
        """Count the closed ``buckets`` not counted yet, changed since, or pruned into, newest
        first, none begun within ``MARGIN`` s of ``deadline`` (``time.monotonic``); forget the
        buckets not asked for; return how many were counted."""
        now = time.time() if now is None else now
        stamp = now - SKEW
        with self._pool.connection() as conn:
            marks = self._marks(conn, appid, None)
            floor = _oldest(conn, self._log, appid)
            # buckets wholly before the oldest record hold nothing: a live count finds that
            wanted = {
                (int(s), int(e))
                for s, e in buckets
                if s < e <= now and floor is not None and e > floor
            }
            stale = [b for b in marks if b not in wanted]
            for start, end in stale:
                conn.execute(
                    f"DELETE FROM {self._t} WHERE appid = %s AND bucket_start = %s"
                    " AND bucket_end = %s",
                    [appid, start, end],
                )
            kept = {b: marks[b] for b in marks if b in wanted}
            dirty = self._dirty(conn, appid, kept)
        todo = sorted(
            (b for b in wanted if b not in kept or b in dirty or not _whole(b, kept[b], floor)),
            reverse=True,  # the newest first: the default view's, and the ones that change
        )
        counted = 0
        for bucket in todo:
            if deadline is not None and time.monotonic() > deadline - MARGIN:
                break  # the rest next time; until then the summary counts them live
            counted += 1
            with self._pool.begin() as conn:
                self._count(conn, appid, bucket, stamp, floor or 0.0)
        with self._pool.connection() as conn:  # every other bucket is clean as of ``stamp``
            conn.execute(
                f"UPDATE {self._t} SET rolled_at = %s WHERE appid = %s AND {_MARK}"
                " AND rolled_at < %s",
                [stamp, appid, stamp],
            )
        return counted

    def summarize(self, appid: str, bounds: Sequence[float]) -> LogSummary:
        """``SendLog.summarize`` from the clean buckets and a live count of the rest, in one
        snapshot."""
        edges = check_bounds(bounds)
        out = SummaryBuilder(len(edges) - 1)
        with self._pool.begin("REPEATABLE READ") as conn:
            marks = self._marks(conn, appid, (edges[0], edges[-1]))
            floor = _oldest(conn, self._log, appid) if marks else None
            dirty = self._dirty(conn, appid, marks)
            clean = {b: m for b, m in marks.items() if b not in dirty and _whole(b, m, floor)}
            pieces = plan(edges, clean)
            used = {(s, e): i for i, s, e, rolled in pieces if rolled}
            if used:
                rows = conn.rows(
                    f"SELECT bucket_start, bucket_end, template_id, status, errcode, n"
                    f" FROM {self._t} WHERE appid = %s AND bucket_start >= %s"
                    f" AND bucket_start < %s AND status <> ''",
                    [appid, edges[0], edges[-1]],
                )
                for start, end, template_id, status, errcode, n in rows:
                    index = used.get((int(start), int(end)))
                    if index is not None:
                        out.row(index, template_id, status, errcode, int(n))
            live = [(i, s, e) for i, s, e, rolled in pieces if not rolled]
            if live:
                self._live(conn, appid, live, out)
        return out.build()

    # -- the parts -------------------------------------------------------------------------------

    def _marks(self, conn: Connection, appid: str, within: Optional[Bucket]) -> Marks:
        sql = f"SELECT bucket_start, bucket_end, rolled_at, oldest FROM {self._t} WHERE appid = %s"
        params: List[object] = [appid]
        if within is not None:
            sql += " AND bucket_start >= %s AND bucket_end <= %s"
            params += [within[0], within[1]]
        rows = conn.rows(f"{sql} AND {_MARK}", params)
        return {(int(s), int(e)): (float(r), float(o)) for s, e, r, o in rows}

    def _dirty(self, conn: Connection, appid: str, marks: Marks) -> Set[Bucket]:
        """The buckets holding a record written at or after the bucket's ``rolled_at``."""
        if not marks:
            return set()
        quarter = f"FLOOR(created_at / {SUMMARY_GRAIN})"
        rows = conn.rows(
            f"SELECT {quarter} AS q, MAX(updated_at) FROM {self._log}"
            f" WHERE appid = %s AND updated_at >= %s GROUP BY {quarter}",
            [appid, min(rolled for rolled, _ in marks.values())],
        )
        written = sorted((int(q) * SUMMARY_GRAIN, float(u)) for q, u in rows)
        starts = [q for q, _ in written]
        dirty = set()
        for (start, end), (rolled, _) in marks.items():
            lo = bisect_right(starts, start - 1)
            for _, updated in written[lo : bisect_right(starts, end - 1)]:
                if updated >= rolled:
                    dirty.add((start, end))
                    break
        return dirty

    def _count(
        self, conn: Connection, appid: str, bucket: Bucket, stamp: float, floor: float
    ) -> None:
        start, end = bucket
        conn.execute(
            f"DELETE FROM {self._t} WHERE appid = %s AND bucket_start = %s AND bucket_end = %s",
            [appid, start, end],
        )
        columns = "appid, bucket_start, bucket_end, template_id, status, errcode, n, rolled_at"
        conn.execute(
            f"INSERT INTO {self._t} ({columns}, oldest) VALUES (%s, %s, %s, '', '', 0, 0, %s, %s)",
            [appid, start, end, stamp, floor],
        )
        code = "COALESCE(errcode, 0)"
        conn.execute(
            f"INSERT INTO {self._t} ({columns})"
            f" SELECT appid, {start}, {end}, template_id, status, {code}, COUNT(*), {stamp!r}"
            f" FROM {self._log} WHERE appid = %s AND created_at >= %s AND created_at < %s"
            f" GROUP BY appid, template_id, status, {code}",
            [appid, start, end],
        )

    def _live(
        self,
        conn: Connection,
        appid: str,
        pieces: Sequence[Tuple[int, int, int]],
        out: SummaryBuilder,
    ) -> None:
        """Count the records of ``pieces`` ((period, start, end), in order) from the log."""
        whens = " ".join(
            f"WHEN created_at >= {s} AND created_at < {e} THEN {i}" for i, s, e in pieces
        )
        # One range when the pieces meet end to end (no rollup between them): one index scan.
        gaps = any(a[2] != b[1] for a, b in zip(pieces, pieces[1:]))
        ranges = " OR ".join(f"(created_at >= {s} AND created_at < {e})" for _, s, e in pieces)
        period = f"CASE {whens} END"
        code = "COALESCE(errcode, 0)"
        rows = conn.rows(
            f"SELECT {period} AS period, template_id, status, {code} AS code, COUNT(*)"
            f" FROM {self._log} WHERE appid = %s AND created_at >= %s AND created_at < %s"
            + (f" AND ({ranges})" if gaps else "")
            + f" GROUP BY {period}, template_id, status, {code}",
            [appid, pieces[0][1], pieces[-1][2]],
        )
        for index, template_id, status, errcode, n in rows:
            out.row(int(index), template_id, status, errcode, int(n))


def _whole(bucket: Bucket, mark: Tuple[float, float], floor: Optional[float]) -> bool:
    """Whether prune can have taken none of the bucket's records since it was counted."""
    if floor is None:
        return False  # no records at all: a live count costs nothing
    return bucket[0] >= floor or floor <= mark[1]


def _oldest(conn: Connection, table: str, appid: str) -> Optional[float]:
    value = conn.scalar(f"SELECT MIN(created_at) FROM {table} WHERE appid = %s", [appid])
    return None if value is None else float(value)


def plan(edges: Sequence[int], clean: Marks) -> List[Tuple[int, int, int, bool]]:
    """Tile each period ``[edges[i], edges[i + 1])`` with the longest clean buckets that fit,
    and live pieces between them: ``(period, start, end, from a bucket)``, in order."""
    by_start: Dict[int, List[int]] = {}
    for start, end in clean:
        by_start.setdefault(start, []).append(end)
    starts = sorted(by_start)
    pieces: List[Tuple[int, int, int, bool]] = []
    for index in range(len(edges) - 1):
        cursor, stop = edges[index], edges[index + 1]
        while cursor < stop:
            fits = [end for end in by_start.get(cursor, ()) if end <= stop]
            if fits:
                end = max(fits)
                pieces.append((index, cursor, end, True))
            else:
                after = starts[bisect_right(starts, cursor) :]
                end = min([s for s in after if s < stop] or [stop])
                pieces.append((index, cursor, end, False))
            cursor = end
    return _merge(pieces)


def _merge(pieces: Iterable[Tuple[int, int, int, bool]]) -> List[Tuple[int, int, int, bool]]:
    """Adjacent live pieces of one period as one."""
    out: List[Tuple[int, int, int, bool]] = []
    for piece in pieces:
        last = out[-1] if out else None
        if last and not piece[3] and not last[3] and last[0] == piece[0] and last[2] == piece[1]:
            out[-1] = (piece[0], last[1], piece[2], False)
            continue
        out.append(piece)
    return out
