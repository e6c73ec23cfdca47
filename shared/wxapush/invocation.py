"""What one invocation is: its caller, its HTTP side, its deadline — and a raw answer."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

#: Largest request body accepted over HTTP; a send request is a few KiB.
MAX_BODY_BYTES = 256 * 1024
#: Assumed time limit when the context does not give one (local runs, tests).
DEFAULT_TIME_LIMIT = 10.0

SERVICE, USER, ANONYMOUS = "service", "user", "anonymous"
DIRECT, GATEWAY, TIMER = "direct", "gateway", "timer"


@dataclass(frozen=True)
class Caller:
    """Who is calling.

    ``kind``: ``service`` (cloud credentials, the admin key or a timer), ``user`` (a
    mini-program user, ``openid`` set) or ``anonymous`` (an HTTP call to a function that
    authenticates the request by itself: receive_event checks WeChat's signature).
    """

    kind: str
    openid: Optional[str] = None
    appid: Optional[str] = None
    unionid: Optional[str] = None
    source: Optional[str] = None


@dataclass(frozen=True)
class HttpRequest:
    """The HTTP side of a gateway invocation: header names lower-cased, values joined."""

    method: str
    path: str
    headers: Dict[str, str]
    query: Dict[str, str]
    body: bytes
    source_ip: Optional[str] = None

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A header by case-insensitive name."""
        return self.headers.get(name.lower(), default)


@dataclass(frozen=True)
class Invocation:
    """One call: what was asked, by whom, through which shape, and until when."""

    request: Dict[str, Any]
    caller: Caller
    shape: str
    deadline: float
    http: Optional[HttpRequest] = None
    request_id: Optional[str] = None
    context: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def remaining(self) -> float:
        """Seconds left before the platform's time limit (never negative)."""
        return max(0.0, self.deadline - time.monotonic())


@dataclass(frozen=True)
class RawResponse:
    """A gateway answer sent as is, not as a JSON envelope (receive_event's ``success`` or
    echoed ``echostr``, which WeChat reads as plain text; the dashboard's pages). ``headers``
    are added to the answer's (Set-Cookie, Content-Security-Policy, Allow…)."""

    body: str
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    headers: Optional[Mapping[str, str]] = None
