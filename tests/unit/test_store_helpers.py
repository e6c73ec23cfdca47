"""Backend-neutral helpers of wxapush.store.base: log ids, msgid mapping, checks."""

from __future__ import annotations

import re
import time

import pytest

from wxapush.store.base import LogQuery, _reset_id_state, new_log_id
from wxapush.store.common import check_changes, check_query, msgid_from_i64, msgid_to_i64

CROCKFORD = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def test_log_ids_are_26_crockford_chars_and_strictly_increasing() -> None:
    ids = [new_log_id() for _ in range(5000)]
    assert all(CROCKFORD.match(i) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_log_ids_sort_by_time() -> None:
    _reset_id_state()  # as in a new instance: no earlier id (minted at another time) to follow
    before = new_log_id()
    # the id's first 10 chars are the millisecond: compare with an id built for a later time
    later_ms = int(time.time() * 1000) + 10_000
    digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    prefix = "".join(digits[(later_ms >> s) & 31] for s in range(45, -1, -5))
    assert before[:10] < prefix


@pytest.mark.parametrize("msgid", [0, 1, 2**63 - 1, 2**63, 2**64 - 1, 1988810812324364291])
def test_msgid_maps_onto_signed_64_bits_and_back(msgid: int) -> None:
    stored = msgid_to_i64(msgid)
    assert stored is not None and -(2**63) <= stored < 2**63
    assert msgid_from_i64(stored) == msgid


def test_none_msgid_maps_to_none() -> None:
    assert msgid_to_i64(None) is None and msgid_from_i64(None) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"msgid": -1},
        {"msgid": 2**64},
        {"msgid": True},
        {"msgid": "7"},
        {"status": "x"},
        {"appid": "a"},
    ],
)
def test_check_changes_refuses(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        check_changes(changes)


def test_check_query_accepts_a_plain_query() -> None:
    check_query(LogQuery("wx", 0, 1))
