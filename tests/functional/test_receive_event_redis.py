"""receive_event on Redis: a subscription push is one round trip (claim and ledger in one script).

Round trips are counted by a spy on the store's own redis-py client, which passes every command
through to the real server.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterator, List

import pytest

from tests.functional.conftest import balance
from tests.functional.store import _namespaces
from tests.functional.test_receive_event import call, popup, secure
from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings


@pytest.fixture
def on_redis(
    callback_env: dict,  # type: ignore[type-arg]
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[List[Any]]:
    """receive_event's settings with WXAPUSH_STORE on Redis; yields the commands it sends."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv(
        "WXAPUSH_STORE", f"{redis_url}{'&' if '?' in redis_url else '?'}prefix={prefix}"
    )
    reset_settings()
    reset_app()
    sent: List[Any] = []
    try:
        assert call(*secure(popup(created=1700000000)))["body"] == "success"  # scripts loaded
        store: Any = current_app().store
        client = store.client
        real = client.execute_command

        def spy(*args: Any, **options: Any) -> Any:
            sent.append(args[0])
            return real(*args, **options)

        monkeypatch.setattr(client, "execute_command", spy)
        yield sent
    finally:
        reset_app()
        _namespaces.drop_redis(redis_url, prefix)


def test_a_popup_is_claimed_and_granted_in_one_round_trip(on_redis: List[Any]) -> None:
    assert call(*secure(popup(created=1700000001)))["body"] == "success"
    assert on_redis == ["EVALSHA"]
    assert balance() == 2


def test_a_re_push_is_one_round_trip_and_changes_nothing(on_redis: List[Any]) -> None:
    assert call(*secure(popup(created=1700000000)))["body"] == "success"
    assert on_redis == ["EVALSHA"]
    assert balance() == 1


def test_a_reject_zeroes_in_one_round_trip(on_redis: List[Any]) -> None:
    assert call(*secure(popup("reject", created=1700000002)))["body"] == "success"
    assert on_redis == ["EVALSHA"]
    assert balance() == 0
