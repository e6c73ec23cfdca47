"""Keys and filters compare exact bytes on every store (MariaDB's PAD SPACE made 'a' = 'a '),
and a value a database refuses is the input's fault, not a store outage."""

from __future__ import annotations

import pytest

from wxapush.store import LogQuery, Store
from wxapush.store.failures import store_failure

from .test_send_log import APP, T0, make


@pytest.mark.parametrize(
    "first, second", [("a", "a "), ("k", "K"), ("\u00e9", "e\u0301"), ("x", "x\t")]
)
def test_keys_differing_in_trailing_space_case_or_form_are_distinct(
    store: Store, first: str, second: str
) -> None:
    assert store.log.claim(make(key=first))[1] is True
    assert store.log.claim(make(key=second))[1] is True  # a distinct send, not a duplicate


def test_a_filter_matches_its_exact_value_only(store: Store) -> None:
    store.log.claim(make(touser="oUser1"))
    store.log.claim(make(touser="oUser1 ", template_id="TPL_A "))
    page = store.log.query(LogQuery(APP, T0, T0 + 1, touser="oUser1"))
    assert (page.total, [r.touser for r in page.records]) == (1, ["oUser1"])
    page = store.log.query(LogQuery(APP, T0, T0 + 1, template_id="TPL_A "))
    assert (page.total, [r.template_id for r in page.records]) == (1, ["TPL_A "])


def test_grant_keys_compare_exact_bytes(store: Store) -> None:
    store.grants.grant(APP, "oUser1", "TPL_A", 2)
    assert store.grants.balance(APP, "oUser1 ", "TPL_A") is None
    assert store.grants.balance(APP, "oUser1", "TPL_A ") is None


def test_event_keys_compare_exact_bytes(store: Store) -> None:
    assert store.events.first_seen("evt", 60) is True
    assert store.events.first_seen("evt ", 60) is True


def test_a_value_the_database_refuses_is_invalid_request_not_an_outage(store: Store) -> None:
    # A NUL in PostgreSQL text; a key longer than its MySQL column. The stores that take both
    # (sqlite, redis) take them faithfully.
    for record in (make(key="nul\x00key"), make(key="k" * 400)):
        try:
            store.log.claim(record)
        except Exception as exc:
            failure = store_failure(exc)
            assert failure is not None, exc
            assert (failure.slug, failure.errcode, failure.retryable) == (
                "invalid_request",
                990400,
                False,
            )
        else:
            assert store.log.get(record.log_id) == record
