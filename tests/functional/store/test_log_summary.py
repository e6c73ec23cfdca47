"""SendLog.summarize conformance: counts by period, status, template and errcode, on every store.

The redis backend answers from counters its scripts maintain, the SQL ones from GROUP BY: each
test compares the answer with what the records say, after claims, updates and prunes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from tests.functional.store.test_send_log import APP, make
from wxapush.store import LogQuery, LogRecord, Store, open_store

DAY = 86_400
#: a midnight in UTC+8 (a multiple of 900 s), with room before it
D0 = 1_764_518_400 - 8 * 3600
BOUNDS = [D0 + i * DAY for i in range(4)]  # three days


def _seed(store: Store) -> List[LogRecord]:
    plan: List[Tuple[float, str, str, Any]] = [
        (D0 + 10, "TPL_A", "sent", 0),
        (D0 + 3600, "TPL_A", "delivered", 0),
        (D0 + DAY - 0.001, "TPL_A", "failed", 43101),  # the last instant of day 0
        (D0 + DAY, "TPL_A", "failed", 43101),  # the first of day 1
        (D0 + DAY + 5, "TPL:B%", "rejected", 47003),  # a template id that needs escaping
        (D0 + DAY + 6, "TPL:B%", "undelivered", 43101),
        (D0 + 2 * DAY + 7, "TPL_A", "pending", None),
        (D0 - 1, "TPL_A", "sent", 0),  # before the range
        (D0 + 3 * DAY, "TPL_A", "sent", 0),  # after it (the end is exclusive)
    ]
    records = []
    for created_at, template_id, status, errcode in plan:
        record = make(created_at, template_id=template_id, status=status, errcode=errcode)
        store.log.claim(record)
        records.append(record)
    store.log.claim(make(D0 + 20, appid="wxOtherApp", status="sent"))  # another app
    return records


def _expected(store: Store, bounds: List[int]) -> Dict[str, Any]:
    """What the records say, read the slow way."""
    records = store.log.query(LogQuery(APP, bounds[0], bounds[-1], count=1000)).records
    periods: List[Counter[str]] = [Counter() for _ in bounds[1:]]
    templates: Dict[str, Counter[str]] = {}
    errcodes: Counter[Tuple[str, str, int]] = Counter()
    for r in records:
        index = max(i for i, b in enumerate(bounds[:-1]) if r.created_at >= b)
        periods[index][r.status] += 1
        templates.setdefault(r.template_id, Counter())[r.status] += 1
        if r.errcode:
            errcodes[(r.template_id, r.status, r.errcode)] += 1
    return {
        "periods": tuple(dict(c) for c in periods),
        "templates": {k: dict(v) for k, v in templates.items()},
        "errcodes": dict(errcodes),
    }


def _as_dict(store: Store, bounds: List[int]) -> Dict[str, Any]:
    s = store.log.summarize(APP, bounds)
    return {
        "periods": tuple(dict(p) for p in s.periods),
        "templates": {k: dict(v) for k, v in s.templates.items()},
        "errcodes": dict(s.errcodes),
    }


def test_counts_by_period_status_template_and_errcode(store: Store) -> None:
    _seed(store)
    summary = store.log.summarize(APP, BOUNDS)
    assert [dict(p) for p in summary.periods] == [
        {"sent": 1, "delivered": 1, "failed": 1},
        {"failed": 1, "rejected": 1, "undelivered": 1},
        {"pending": 1},
    ]
    assert {k: dict(v) for k, v in summary.templates.items()} == {
        "TPL_A": {"sent": 1, "delivered": 1, "failed": 2, "pending": 1},
        "TPL:B%": {"rejected": 1, "undelivered": 1},
    }
    assert dict(summary.errcodes) == {
        ("TPL_A", "failed", 43101): 2,
        ("TPL:B%", "rejected", 47003): 1,
        ("TPL:B%", "undelivered", 43101): 1,
    }
    assert _as_dict(store, BOUNDS) == _expected(store, BOUNDS)


def test_updates_move_the_counts(store: Store) -> None:
    records = _seed(store)
    store.log.update(records[0].log_id, status="delivered", errcode=0, updated_at=D0 + 99)
    store.log.update(records[6].log_id, status="failed", errcode=-1, errmsg="system busy")
    store.log.update(records[2].log_id, errcode=45009)  # the errcode alone changes
    summary = store.log.summarize(APP, BOUNDS)
    assert dict(summary.periods[0]) == {"delivered": 2, "failed": 1}
    assert dict(summary.periods[2]) == {"failed": 1}
    assert summary.errcodes[("TPL_A", "failed", -1)] == 1
    assert summary.errcodes[("TPL_A", "failed", 45009)] == 1
    assert summary.errcodes[("TPL_A", "failed", 43101)] == 1
    assert _as_dict(store, BOUNDS) == _expected(store, BOUNDS)


def test_pruned_records_leave_the_counts(store: Store) -> None:
    _seed(store)
    store.log.prune(D0 + DAY)  # day 0 and the record before it
    summary = store.log.summarize(APP, BOUNDS)
    assert dict(summary.periods[0]) == {}
    assert "TPL_A" in summary.templates
    assert ("TPL_A", "failed", 43101) in summary.errcodes
    assert summary.errcodes[("TPL_A", "failed", 43101)] == 1
    assert _as_dict(store, BOUNDS) == _expected(store, BOUNDS)


def test_periods_of_any_length_and_an_empty_range(store: Store) -> None:
    _seed(store)
    # a 23-hour day then a 25-hour one, as where summer time starts and ends
    bounds = [D0, D0 + DAY - 3600, D0 + 2 * DAY]
    assert _as_dict(store, bounds) == _expected(store, bounds)
    assert dict(store.log.summarize(APP, bounds).periods[0]) == {
        "sent": 1,
        "delivered": 1,
    }
    empty = store.log.summarize("wxNobody", BOUNDS)
    assert [dict(p) for p in empty.periods] == [{}, {}, {}]
    assert dict(empty.templates) == {} and dict(empty.errcodes) == {}


@pytest.mark.parametrize(
    "bounds",
    [[D0], [D0 + 1, D0 + DAY], [D0 + DAY, D0], [D0, D0 + 0.5], [D0 + i * DAY for i in range(400)]],
)
def test_bad_bounds_are_refused(store: Store, bounds: List[float]) -> None:
    with pytest.raises(ValueError):
        store.log.summarize(APP, bounds)


@pytest.fixture
def redis_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    from tests.functional.store.conftest import BACKENDS

    opened = open_store(BACKENDS["redis"](request, tmp_path))
    yield opened
    opened.close()


def test_redis_records_from_before_the_counters_never_drive_them_negative(
    redis_store: Any,
) -> None:
    """A record written by a wxapush without counters is not counted, and changing or pruning
    it leaves the counters alone (white box: such a record lacks the _summed field)."""
    store = redis_store
    old = make(D0 + 60, status="sent", errcode=0)
    store.log.claim(old)
    client, keys = store.client, store.keys
    client.hdel(keys.record(old.log_id), "_summed")
    for key in client.scan_iter(f"{keys.app(APP)}:sum:*"):
        client.delete(key)
    new = make(D0 + 120, status="sent", errcode=0)
    store.log.claim(new)
    store.log.update(old.log_id, status="undelivered", errcode=10001)
    store.log.update(new.log_id, status="delivered")
    assert [dict(p) for p in store.log.summarize(APP, BOUNDS).periods] == [
        {"delivered": 1},
        {},
        {},
    ]
    store.log.prune(D0 + DAY)
    summary = store.log.summarize(APP, BOUNDS)
    assert [dict(p) for p in summary.periods] == [{}, {}, {}]
    assert dict(summary.templates) == {} and dict(summary.errcodes) == {}
    assert store.log.get(new.log_id) is None
