"""What refresh_code's rollup step asks the store to count, and how a summary tiles its periods
with the buckets it finds clean (no clock of the machine: every "now" is chosen here)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from wxapush.services.dashboard_rollups import buckets
from wxapush.store.sql.rollups import plan

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY, HOUR = 86_400, 3_600


def test_the_closed_days_of_the_window_and_the_closed_hours_of_today() -> None:
    now = datetime(2026, 12, 7, 3, 20, tzinfo=SHANGHAI).timestamp()  # 03:20 in Shanghai
    midnight = int(datetime(2026, 12, 7, tzinfo=SHANGHAI).timestamp())
    got = buckets(now, SHANGHAI, 30)
    days, hours = got[:31], got[31:]
    assert days[-1] == (midnight - DAY, midnight) and days[0][0] == midnight - 31 * DAY
    assert all(x[1] == y[0] for x, y in zip(days, days[1:]))  # contiguous
    assert hours == [(midnight + h * HOUR, midnight + (h + 1) * HOUR) for h in range(3)]
    assert all(end <= now for _, end in got)


def test_a_day_of_23_hours_where_summer_time_starts() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 30, 0, 30, tzinfo=berlin).timestamp()
    start, end = buckets(now, berlin, 1)[-1]
    assert end - start == 23 * HOUR
    assert datetime.fromtimestamp(start, timezone.utc).astimezone(berlin).day == 29


def test_a_period_takes_the_longest_clean_bucket_and_counts_the_gaps_live() -> None:
    d0 = 1_764_518_400
    clean = {
        (d0, d0 + DAY): (0.0, 0.0),
        (d0 + DAY, d0 + DAY + HOUR): (0.0, 0.0),
        (d0 + DAY, d0 + 2 * DAY): (0.0, 0.0),  # longer: preferred where it fits
        (d0 + 2 * DAY, d0 + 2 * DAY + HOUR): (0.0, 0.0),
        (d0 + 2 * DAY + 2 * HOUR, d0 + 2 * DAY + 3 * HOUR): (0.0, 0.0),
    }
    edges = [d0, d0 + DAY, d0 + 2 * DAY, d0 + 3 * DAY]
    assert plan(edges, clean) == [
        (0, d0, d0 + DAY, True),
        (1, d0 + DAY, d0 + 2 * DAY, True),
        (2, d0 + 2 * DAY, d0 + 2 * DAY + HOUR, True),
        (2, d0 + 2 * DAY + HOUR, d0 + 2 * DAY + 2 * HOUR, False),
        (2, d0 + 2 * DAY + 2 * HOUR, d0 + 2 * DAY + 3 * HOUR, True),
        (2, d0 + 2 * DAY + 3 * HOUR, d0 + 3 * DAY, False),
    ]
    # a bucket that does not fit its period is not used: the period is counted live
    assert plan([d0, d0 + HOUR], clean) == [(0, d0, d0 + HOUR, False)]
