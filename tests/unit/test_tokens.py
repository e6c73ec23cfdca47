"""TokenManager: refresh a margin before expiry and not before; force refresh as WeChat allows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Union

import pytest

from tests.unit.loopback import Origin
from wxapush.errors import UpstreamError
from wxapush.store import open_store
from wxapush.wechat.client import Transport
from wxapush.wechat.tokens import FORCE_REFRESH_INTERVAL, REFRESH_MARGIN, TokenManager
from wxemu import demo, quota
from wxemu.testing import RunningServer


def fetches(wxemu: RunningServer, path: str) -> int:
    """The demo app's calls to ``path`` in this test (not today's quota: a day may end)."""
    return quota.calls_made(wxemu.emulator.app(demo.APPID), path)


@pytest.fixture
def now() -> List[float]:
    return [time.time()]  # the manager's clock, moved by the tests


def manager(
    wxemu: Union[RunningServer, str], tmp_path: Path, now: List[float], mode: str
) -> TokenManager:
    """A token manager on a fresh store, asking wxemu (or another origin's base URL)."""
    base = wxemu if isinstance(wxemu, str) else wxemu.base_url
    return TokenManager(
        appid=demo.APPID,
        secret=lambda: demo.SECRET,
        mode=mode,
        cache=open_store(f"sqlite:///{tmp_path / 's.db'}").tokens,
        transport=Transport(base),
        clock=lambda: now[0],
    )


def deadline() -> float:
    return time.monotonic() + 10


def test_refreshes_inside_the_margin_and_not_before(
    wxemu: RunningServer, tmp_path: Path, now: List[float]
) -> None:
    tokens = manager(wxemu, tmp_path, now, "classic")
    first = tokens.get(deadline=deadline())
    now[0] = first.expires_at - REFRESH_MARGIN - 5  # just outside the margin: still cached
    assert tokens.get(deadline=deadline()) == first
    assert fetches(wxemu, "/cgi-bin/token") == 1
    now[0] = first.expires_at - REFRESH_MARGIN + 5  # inside it: fetched again, ahead of expiry
    second = tokens.get(deadline=deadline())
    assert second.token != first.token
    assert fetches(wxemu, "/cgi-bin/token") == 2


def test_another_instance_reads_the_shared_record_instead_of_fetching(
    wxemu: RunningServer, tmp_path: Path, now: List[float]
) -> None:
    first = manager(wxemu, tmp_path, now, "stable").get(deadline=deadline())
    other = manager(wxemu, tmp_path, now, "stable")  # a cold instance on the same store
    assert other.get(deadline=deadline()) == first
    assert fetches(wxemu, "/cgi-bin/stable_token") == 1


def test_force_refresh_respects_wechats_interval(
    wxemu: RunningServer, tmp_path: Path, now: List[float]
) -> None:
    tokens = manager(wxemu, tmp_path, now, "stable")
    first = tokens.get(deadline=deadline())
    assert tokens.get(deadline=deadline(), force_refresh=True) == first  # too soon: not asked
    assert fetches(wxemu, "/cgi-bin/stable_token") == 1
    now[0] += FORCE_REFRESH_INTERVAL + 1
    wxemu.advance(FORCE_REFRESH_INTERVAL + 1)
    assert tokens.get(deadline=deadline(), force_refresh=True).token != first.token
    assert fetches(wxemu, "/cgi-bin/stable_token") == 2


def test_compare_and_invalidate_keeps_a_newer_token(
    wxemu: RunningServer, tmp_path: Path, now: List[float]
) -> None:
    tokens = manager(wxemu, tmp_path, now, "classic")
    first = tokens.get(deadline=deadline())
    now[0] = first.expires_at - 1
    second = tokens.get(deadline=deadline())  # renewed by "another instance"
    assert tokens.invalidate(first.token) is False  # a stale failure does not drop the new one
    assert tokens.get(deadline=deadline()) == second
    assert tokens.invalidate(second.token) is True
    assert fetches(wxemu, "/cgi-bin/token") == 2


@pytest.mark.parametrize(
    "answer",
    [
        '{"access_token":"T","expires_in":' + "9" * 400 + "}",
        '{"access_token":"T","expires_in":-100}',
        '{"access_token":"T","expires_in":0}',
        '{"access_token":"T","expires_in":true}',
        '{"access_token":"T","expires_in":"7200"}',
        '{"access_token":"T","expires_in":7200.5}',
        '{"access_token":"T","expires_in":86401}',
        '{"access_token":"","expires_in":7200}',
        '{"access_token":"T T","expires_in":7200}',
        '{"access_token":"\\u4e2d","expires_in":7200}',
        '{"access_token":"' + "T" * 2049 + '","expires_in":7200}',
        '{"expires_in":7200}',
    ],
)
def test_an_implausible_token_answer_is_a_retryable_upstream_error(
    tmp_path: Path, now: List[float], answer: str
) -> None:
    origin = Origin(answer=answer.encode())
    try:
        tokens = manager(origin.url(), tmp_path, now, "stable")
        with pytest.raises(UpstreamError) as caught:
            tokens.get(deadline=deadline())
        error = caught.value
        assert (error.slug, error.errcode, error.retryable) == ("upstream_error", 990502, True)
        assert tokens.cache.get_token(tokens.key) is None  # nothing kept
    finally:
        origin.stop()


def test_a_token_answer_of_a_plausible_life_is_kept(tmp_path: Path, now: List[float]) -> None:
    origin = Origin(answer=b'{"access_token":"T-1_x","expires_in":86400}')
    try:
        tokens = manager(origin.url(), tmp_path, now, "stable")
        record = tokens.get(deadline=deadline())
        assert (record.token, record.expires_at) == ("T-1_x", now[0] + 86400)
    finally:
        origin.stop()
