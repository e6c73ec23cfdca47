"""The rollups (SQL, Redis): the summary reads the closed buckets refresh_code counted, counts
the rest live, and always equals a full count — after status changes, late records and prunes.

A rollup that is used shows itself: a change made behind the store's back (on SQL a record
changed without ``updated_at``, which every write of wxapush sets; on Redis a quarter counter
changed outside the scripts) does not show in the summary.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

from tests.functional.store.conftest import store_of
from tests.functional.store.test_log_summary import BOUNDS, D0, DAY, _as_dict, _expected, _seed
from tests.functional.store.test_send_log import APP, make
from wxapush.store import LogRecord

HOUR = 3600
#: "now": three hours into the last day of BOUNDS
NOW = D0 + 2 * DAY + 3 * HOUR + 600
#: what refresh_code asks for then: the two closed days, and the closed hours of the third
BUCKETS: List[Tuple[int, int]] = [(D0, D0 + DAY), (D0 + DAY, D0 + 2 * DAY)] + [
    (D0 + 2 * DAY + h * HOUR, D0 + 2 * DAY + (h + 1) * HOUR) for h in range(3)
]


@pytest.fixture(params=["postgresql", "mysql", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from store_of(request.param, request, tmp_path)


def _behind_the_back(store: Any, record: LogRecord, status: str) -> None:
    if hasattr(store, "client"):  # Redis: move the count of the record's quarter hour
        quarter = int(record.created_at // 900 * 900)
        key = f"{store.keys.app(record.appid)}:sum:{quarter}"
        old = store.log.get(record.log_id).status
        store.client.hincrby(key, f"s:{old}", -1)
        store.client.hincrby(key, f"s:{status}", 1)
        return
    with store.pool.connection() as conn:
        conn.execute(
            f"UPDATE {store.tables.send_log} SET status = %s WHERE log_id = %s",
            [status, record.log_id],
        )


def _full(store: Any) -> Any:
    return _expected(store, BOUNDS)


def test_closed_buckets_are_read_from_their_rollups(store: Any) -> None:
    records = _seed(store)
    store.log.claim(make(D0 + 2 * DAY + 4 * HOUR, status="sent"))  # in the open hour
    assert store.rollups.roll_up(APP, BUCKETS, NOW) == len(BUCKETS)
    assert _as_dict(store, BOUNDS) == _full(store)
    _behind_the_back(store, records[0], "delivered")  # day 0, rolled up: the rollup answers
    assert dict(store.log.summarize(APP, BOUNDS).periods[0]) == {
        "sent": 1,
        "delivered": 1,
        "failed": 1,
    }
    assert store.rollups.roll_up(APP, BUCKETS, NOW + 300) == 0  # nothing written since: no work


def test_a_status_change_after_the_roll_up_is_counted_at_once(store: Any) -> None:
    records = _seed(store)
    store.rollups.roll_up(APP, BUCKETS, NOW)
    # sent -> delivered (a delivery push), pending -> failed, in rolled-up buckets
    store.log.update(records[0].log_id, status="delivered", errcode=0, updated_at=NOW + 5)
    store.log.update(records[6].log_id, status="failed", errcode=-1, updated_at=NOW + 6)
    assert _as_dict(store, BOUNDS) == _full(store)
    assert dict(store.log.summarize(APP, BOUNDS).periods[0]) == {"delivered": 2, "failed": 1}
    # the next roll recounts the two buckets written to, and then they answer again
    assert store.rollups.roll_up(APP, BUCKETS, NOW + 300) == 2
    assert _as_dict(store, BOUNDS) == _full(store)
    _behind_the_back(store, records[0], "sent")  # the recount answers: still delivered there
    assert dict(store.log.summarize(APP, BOUNDS).periods[0])["delivered"] == 2


def test_a_late_record_in_a_closed_bucket_is_counted(store: Any) -> None:
    _seed(store)
    store.rollups.roll_up(APP, BUCKETS, NOW)
    late = make(D0 + DAY + 60, template_id="TPL_C", status="rejected", errcode=47003)
    store.log.claim(replace(late, updated_at=NOW + 1))  # written now, created yesterday
    assert _as_dict(store, BOUNDS) == _full(store)


def test_pruned_records_leave_the_rolled_up_counts(store: Any) -> None:
    _seed(store)
    store.rollups.roll_up(APP, BUCKETS, NOW)
    store.log.prune(D0 + DAY + 5.5)  # day 0, and part of day 1
    assert _as_dict(store, BOUNDS) == _full(store)
    store.rollups.roll_up(APP, BUCKETS, NOW + 300)
    assert _as_dict(store, BOUNDS) == _full(store)


def test_periods_that_split_a_bucket_are_counted_live(store: Any) -> None:
    _seed(store)
    store.rollups.roll_up(APP, BUCKETS, NOW)
    for bounds in ([D0, D0 + DAY - 3600, D0 + 2 * DAY], [D0 + 900, D0 + 2 * DAY + 2 * HOUR]):
        assert _as_dict(store, bounds) == _expected(store, bounds)


def test_buckets_not_asked_for_any_more_are_forgotten(store: Any) -> None:
    records = _seed(store)
    store.rollups.roll_up(APP, BUCKETS, NOW)
    store.rollups.roll_up(APP, BUCKETS[1:], NOW + 300)  # day 0 left the window
    _behind_the_back(store, records[0], "delivered")
    # day 0 is counted live now: the change shows
    assert dict(store.log.summarize(APP, BOUNDS).periods[0]) == {"delivered": 2, "failed": 1}


def test_a_roll_up_short_of_time_leaves_the_rest_counted_live(store: Any) -> None:
    _seed(store)
    if hasattr(store, "client"):
        pytest.skip("Redis sums counters in one script: no deadline")
    assert store.rollups.roll_up(APP, BUCKETS, NOW, deadline=time.monotonic()) == 0
    assert _as_dict(store, BOUNDS) == _full(store)
    assert store.rollups.roll_up(APP, BUCKETS, NOW, deadline=time.monotonic() + 60) == 5
