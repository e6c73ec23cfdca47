"""The suite's clock: the tests run at an instant they choose, never at the hour CI happens to run.

``WXAPUSH_TEST_CLOCK`` chooses it:

* unset: ``12:00`` (noon in WeChat's day, far from any midnight);
* ``HH:MM[:SS]``: that time of day in Asia/Shanghai (WeChat's day and the default ``WXAPUSH_TZ``);
* ``HH:MM[:SS] local``: that time of day in the process's own zone (``TZ``);
* an ISO 8601 instant with its offset (``2026-12-07T23:58:00+08:00``);
* ``now``: the machine's clock, unmoved.

A time of day means its occurrence nearest to the machine's clock (within 12 hours), so what the
world outside the process sees (certificates a test makes, the database servers) stays close.
The clock then runs on at its normal pace: only the starting instant moves. ``time.time``,
``datetime.now`` and everything built on them move together (``time-machine`` patches them at
the C level); ``time.monotonic``, which timeouts use, is left alone.

Child Python processes of the suite (the dev stack, CLI runs, soak workers) run on the same
clock: ``install`` exports the shift and puts ``tests/suite_clock_site`` (a ``sitecustomize``) on
their ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo

VARIABLE = "WXAPUSH_TEST_CLOCK"
#: What child processes read (not a WXAPUSH_* name: tests give children a WXAPUSH_-free env).
SHIFT_VARIABLE = "SUITE_CLOCK_SHIFT"
DEFAULT = "12:00"
WECHAT_ZONE = ZoneInfo("Asia/Shanghai")
SITE_DIR = Path(__file__).with_name("suite_clock_site")
_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(\s+local)?$")

_traveller: Optional[Any] = None
_chosen: Optional[datetime] = None


def _nearest(hour: int, minute: int, second: int, zone: Optional[tzinfo], now: float) -> datetime:
    """The occurrence of ``hour:minute:second`` in ``zone`` nearest to ``now``."""
    # Without a zone: the process's own, as naive local times that astimezone() reads as local.
    utc_now = datetime.fromtimestamp(now, timezone.utc)
    local_now = utc_now.astimezone(zone) if zone else utc_now.astimezone().replace(tzinfo=None)
    candidates = []
    for days in (-1, 0, 1):
        day = local_now + timedelta(days=days)
        moment = day.replace(hour=hour, minute=minute, second=second, microsecond=0)
        candidates.append(moment.astimezone() if zone is None else moment)
    return min(candidates, key=lambda moment: abs(moment.timestamp() - now))


def chosen_instant(value: Optional[str], now: float) -> Optional[datetime]:
    """The instant ``value`` (a ``WXAPUSH_TEST_CLOCK``) names; ``None`` for the machine's clock."""
    text = (value or DEFAULT).strip()
    if text == "now":
        return None
    match = _TIME_OF_DAY.match(text)
    if match:
        hour, minute, second = (int(part or 0) for part in match.group(1, 2, 3))
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"{VARIABLE}={value!r}: not a time of day")
        return _nearest(hour, minute, second, None if match.group(4) else WECHAT_ZONE, now)
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{VARIABLE}={value!r}: expected HH:MM, 'HH:MM local', an ISO instant or 'now'"
        ) from None
    if instant.tzinfo is None:
        raise ValueError(f"{VARIABLE}={value!r}: an ISO instant needs its offset (+08:00)")
    return instant


def _travel(destination: float) -> None:
    global _traveller
    import time_machine

    _traveller = time_machine.travel(destination, tick=True)
    _traveller.start()
    time.time()  # time-machine's clock starts ticking at its first reading: start it now


def chosen() -> Optional[datetime]:
    """Where the suite's clock started (``None``: the machine's clock)."""
    return _chosen


def install() -> Optional[datetime]:
    """Move this process's clock to the chosen instant and have child processes follow it."""
    global _chosen
    _chosen = chosen_instant(os.environ.get(VARIABLE), time.time())
    if _chosen is None:
        return None
    shift = _chosen.timestamp() - time.time()
    _travel(_chosen.timestamp())
    os.environ[SHIFT_VARIABLE] = repr(shift)
    paths = [str(SITE_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return _chosen


def uninstall() -> None:
    global _traveller
    if _traveller is not None:
        _traveller.stop()
        _traveller = None


def describe() -> str:
    """The suite clock for the report header."""
    setting = os.environ.get(VARIABLE) or f"unset: {DEFAULT}"
    if _chosen is None:
        return f"suite clock: the machine's ({VARIABLE}={setting})"
    shanghai = _chosen.astimezone(WECHAT_ZONE).isoformat(timespec="seconds")
    utc = _chosen.astimezone(timezone.utc).isoformat(timespec="seconds")
    return f"suite clock: starts at {shanghai} ({utc}; {VARIABLE}={setting})"
