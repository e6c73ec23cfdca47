"""One parsed API call as handlers see it: the request, the emulator, and the caller's app."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from .errors import WeChatError
from .models import App
from .state import Emulator


@dataclass
class Call:
    """A request routed to a handler; ``app`` is set once the access token was accepted."""

    emulator: Emulator
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    app: Optional[App] = None
    #: Work to do after the answer is decided and the state lock released (message observers).
    after: list[Callable[[], None]] = field(default_factory=list)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object: 44002 when empty, 47001 when not a JSON object."""
        if not self.body.strip():
            raise WeChatError(44002)
        try:
            parsed = json.loads(self.body)
        except ValueError:
            raise WeChatError(47001) from None
        if not isinstance(parsed, dict):
            raise WeChatError(47001)
        return parsed

    @property
    def caller(self) -> App:
        """The app whose token authorised this call (routes that need a token always have one)."""
        if self.app is None:
            raise WeChatError(41001)
        return self.app


class ControlError(Exception):
    """A control-plane mistake: answered with an HTTP status and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)
