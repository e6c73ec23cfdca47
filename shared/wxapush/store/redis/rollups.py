"""The send log's rollups on Redis: closed days and hours summed once from the quarter counters.

The send-log scripts keep counters per quarter hour (``<p>:<appid>:sum:<quarter>``, ``tally``
in lua.py), exact at every moment, and note each quarter they change in ``<p>:<appid>:sum:dirty``.
refresh_code's step sums each closed bucket (a day, an hour of today) of quarters into
``<p>:<appid>:roll:<start>:<end>`` and lists it in ``<p>:<appid>:rolls``, recounting those
holding a dirty quarter, and empties the dirty set: all in one script. The summary, one script
too (a snapshot), reads a clean bucket's sum where one tiles its period and the quarters
elsewhere (the open hour, a bucket changed since): O(days), not O(quarters), once the step runs.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

from wxapush.store.base import LogSummary
from wxapush.store.common import SummaryBuilder, check_bounds
from wxapush.store.redis.rollups_lua import ROLL_UP, SUMMARY_ROLLED
from wxapush.store.redis.summary import count_field


class RedisRollups:
    """``LogRollups`` over the quarter counters of one prefix."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._prefix = prefix
        self._roll = client.register_script(ROLL_UP)
        self._summary = client.register_script(SUMMARY_ROLLED)

    def roll_up(
        self,
        appid: str,
        buckets: Sequence[Tuple[int, int]],
        now: Optional[float] = None,
        deadline: Optional[float] = None,
    ) -> int:
        # One script sums quarter counters (a few thousand hash reads at most): no deadline.
        args = [self._prefix, appid]
        for start, end in buckets:
            if start < end and (now is None or end <= now):
                args += [str(int(start)), str(int(end))]
        return int(self._roll(keys=[], args=args))

    def summarize(self, appid: str, bounds: Sequence[float]) -> LogSummary:
        edges = check_bounds(bounds)
        out = SummaryBuilder(len(edges) - 1)
        answer = self._summary(keys=[], args=[self._prefix, appid, *map(str, edges)])
        for period, flat in enumerate(answer):
            for name, value in zip(flat[::2], flat[1::2]):
                count_field(out, period, name.split(":"), int(value))
        return out.build()
