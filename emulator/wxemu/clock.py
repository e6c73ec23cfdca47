"""The emulator's clock: wall time plus an offset the control plane advances.

Everything time-based in wxemu (token expiry, login codes, daily quotas, rids) reads this clock,
so a test can move time forward instead of sleeping.
"""

from __future__ import annotations

import time

#: WeChat's days (daily quotas) start at midnight Beijing time.
_BEIJING = 8 * 3600


class Clock:
    """Wall time shifted by ``offset`` seconds; ``advance`` only ever moves it forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Seconds since the epoch, as the emulated WeChat sees them."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (≥ 0) and return the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds
        return self.now()

    def day(self) -> int:
        """The number of the current day in Beijing time (the key of daily counters)."""
        return day_of(self.now())

    def reset(self) -> None:
        self.offset = 0.0


def day_of(moment: float) -> int:
    """The number of the Beijing-time day ``moment`` falls in."""
    return int((moment + _BEIJING) // 86400)
