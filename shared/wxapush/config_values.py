"""Converters of setting values for :mod:`wxapush.config`: each raises ``ValueError`` for a
value it refuses (the caller names the variable), or :class:`Misconfigured` itself when the
message must not echo the value."""

from __future__ import annotations

import math
import re
from typing import Callable, Optional, Tuple
from urllib.parse import urlsplit

from wxapush.errors import Misconfigured

# A URL's scheme (a ``+driver`` suffix is allowed, e.g. postgresql+psycopg): sqlite:rel/path too.
_SCHEME = re.compile(r"^([a-z][a-z0-9.-]*)(?:\+[a-z0-9_.-]+)?:", re.IGNORECASE)


def int_at_least(low: int) -> Callable[[str], int]:
    def convert(raw: str) -> int:
        if not raw.isdigit() or not raw.isascii():
            raise ValueError(raw)
        value = int(raw)
        if value < low:
            raise ValueError(raw)
        return value

    return convert


def int_between(low: int, high: int) -> Callable[[str], int]:
    at_least = int_at_least(low)

    def convert(raw: str) -> int:
        value = at_least(raw)
        if value > high:
            raise ValueError(raw)
        return value

    return convert


def positive_rate(raw: str) -> Optional[float]:
    value = float(raw)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(raw)
    return value


def share(raw: str) -> float:
    """A part of a whole: above 0, at most 1."""
    value = float(raw)
    if not math.isfinite(value) or not 0 < value <= 1:
        raise ValueError(raw)
    return value


def http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(raw)
    if parts.query or parts.fragment:
        raise ValueError(raw)
    # Endpoint paths are appended to it: "https://host/" + "/cgi-bin/token" must not double.
    return raw.rstrip("/")


def url_setting(
    get: Callable[[str], Optional[str]], name: str, schemes: frozenset[str]
) -> Optional[str]:
    raw = get(name)
    if raw is None:
        return None
    match = _SCHEME.match(raw)
    if match is None or match.group(1).lower() not in schemes:
        allowed = ", ".join(f"{s}://" for s in sorted(schemes))
        # The URL may hold a password: name the setting, not the value.
        raise Misconfigured(f"{name} must be a URL starting with one of {allowed}", setting=name)
    if match.group(1).lower() == "sqlite":
        return raw  # sqlite:rel/path and sqlite:///abs/path have no host
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if parts is None or not raw[match.end() :].startswith("//"):
        # Named, never echoed: the URL may hold a password.
        raise Misconfigured(
            f"{name} must be written scheme://[user[:password]@]host[:port][/…] (a password "
            "holding @ : / must be percent-encoded)",
            setting=name,
        )
    return raw


def hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def per_day(raw: str) -> Optional[int]:
    match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*day\s*", raw, re.IGNORECASE)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(raw)
    return int(match.group(1))


def hours(raw: str) -> Optional[Tuple[int, int]]:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", raw)
    if match is None:
        raise ValueError(raw)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
        raise ValueError(raw)
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start % 1440 == end % 1440:
        raise ValueError(raw)  # empty, or the whole day: surely a mistake
    return start % 1440, end % 1440


#: The periods WXAPUSH_USER_RATE_LIMIT may count in, in seconds.
PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


def per_period(raw: str) -> Optional[Tuple[int, float]]:
    """``N/second``, ``N/minute`` or ``N/hour`` -> (N, the period in seconds); ``off`` -> None."""
    if raw.strip().lower() == "off":
        return None
    match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(second|minute|hour)\s*", raw, re.IGNORECASE)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(raw)
    return int(match.group(1)), PERIODS[match.group(2).lower()]
