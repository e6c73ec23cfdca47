"""How an HTTP exchange with WeChat failed, by what it proves (see :mod:`.connection`)."""

from __future__ import annotations


class ExchangeFailed(Exception):
    """An exchange failed; ``reason`` says how in words fit for a log (no URL, no token)."""

    def __init__(self, reason: str, *, timeout: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout


class NotSent(ExchangeFailed):
    """No connection could be made, so no byte of the request was written."""


class Lost(ExchangeFailed):
    """The connection failed after the request may have been written: it may have been acted on."""
