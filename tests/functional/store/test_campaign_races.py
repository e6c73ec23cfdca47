"""Two workers settling a campaign's last recipients at the same moment (issue 19, finding 12).

Each settle's "is anything left open?" check must see the other's recipient settled once both
have committed: the campaign ends ``done``, never ``running`` forever. On SQL the two
transactions are interleaved on purpose: each pauses right after writing its recipient, until
the other has written its own (or a second has passed: a settle that waits on the other's lock
never gets there). SQLite and Redis serialise their writes; they run the same race unforced.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Sequence

import pytest

from tests.functional.store.test_campaigns import APP, NOW, campaign, recipients
from wxapush.store import Store
from wxapush.store.sql import pool as sql_pool

PAUSE = 1.0


@pytest.fixture
def interleaved(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Barrier]:
    """SQL settles pause after writing their recipient until both did (or ``PAUSE`` passed)."""
    barrier = threading.Barrier(2)
    real = sql_pool.Connection.execute

    def execute(self: Any, sql: str, params: Sequence[Any] = ()) -> int:
        found = real(self, sql, params)
        if "_recipients SET state = " in sql and "owner = NULL" in sql:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(PAUSE)
        return found

    monkeypatch.setattr(sql_pool.Connection, "execute", execute)
    yield barrier


def test_concurrent_settles_of_the_last_recipients_end_the_campaign(
    store: Store, interleaved: threading.Barrier
) -> None:
    q = store.campaigns
    for round_ in range(3):
        bid = f"race-{round_}"
        q.create(campaign(bid, total=2), recipients(2))
        leases = {lease.seq: lease for lease in q.lease(APP, f"w-{round_}", NOW, 30, 2)}
        assert sorted(leases) == [0, 1]
        interleaved.reset()
        owner = f"w-{round_}"
        with ThreadPoolExecutor(2) as pool:
            racing = [
                pool.submit(q.settle, APP, owner, [(leases[seq], "sent")], NOW) for seq in (0, 1)
            ]
            settled = [future.result() for future in racing]
        assert settled == [{"sent": 1}, {"sent": 1}]
        assert q.counts(APP, bid) == {"sent": 2}
        assert q.get(APP, bid).status == "done"  # type: ignore[union-attr]
