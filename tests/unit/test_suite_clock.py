"""The suite's clock (tests/suite_clock.py): where WXAPUSH_TEST_CLOCK starts it, and that the
tests, wxemu and child processes all read it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from tests import suite_clock

#: 2026-12-07 16:30 UTC: 00:30 on the 8th in Shanghai, 04:30 on the 7th in Etc/GMT+12.
NOW = datetime(2026, 12, 7, 16, 30, tzinfo=timezone.utc).timestamp()


def iso(value: str) -> str:
    instant = suite_clock.chosen_instant(value, NOW)
    assert instant is not None
    return instant.isoformat()


def test_a_time_of_day_is_shanghais_nearest_occurrence() -> None:
    assert iso("12:00") == "2026-12-08T12:00:00+08:00"  # 11.5 h ahead, not 12.5 h back
    assert iso("23:58") == "2026-12-07T23:58:00+08:00"  # 32 minutes back
    assert iso("00:00:30") == "2026-12-08T00:00:30+08:00"


def test_unset_is_noon_in_shanghai() -> None:
    assert suite_clock.chosen_instant(None, NOW) == suite_clock.chosen_instant("12:00", NOW)


def test_local_is_the_process_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Etc/GMT+12")
    time.tzset()
    try:
        assert iso("23:59 local") == "2026-12-06T23:59:00-12:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_an_instant_and_now() -> None:
    assert iso("2026-12-07T23:58:00+08:00") == "2026-12-07T23:58:00+08:00"
    assert suite_clock.chosen_instant("now", NOW) is None


@pytest.mark.parametrize("value", ["bogus", "24:00", "12:60", "2026-12-07T23:58:00"])
def test_a_bad_setting_says_what_is_expected(value: str) -> None:
    with pytest.raises(ValueError, match="WXAPUSH_TEST_CLOCK"):
        suite_clock.chosen_instant(value, NOW)


def test_this_run_started_where_it_was_told() -> None:
    started = suite_clock.chosen()
    if started is None:
        pytest.skip("WXAPUSH_TEST_CLOCK=now: the machine's clock")
    expected = suite_clock.chosen_instant(os.environ.get(suite_clock.VARIABLE), started.timestamp())
    assert expected == started
    assert started.timestamp() <= time.time() < started.timestamp() + 4 * 3600


def test_a_child_process_reads_the_same_clock() -> None:
    if suite_clock.chosen() is None:
        pytest.skip("WXAPUSH_TEST_CLOCK=now: the machine's clock")
    before = time.time()
    out = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert before <= float(out.stdout) <= time.time()
