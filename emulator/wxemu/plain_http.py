"""A POST over the standard library: what wxemu itself sends (message pushes, the dev stack's
set-up), so that ``wxemu serve`` runs on a plain install, without the dev extra's requests."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Mapping, Optional, Tuple
from urllib.parse import urlencode


class PostFailed(Exception):
    """No answer: the connection failed or timed out. ``str()`` names the kind of failure."""


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    params: Optional[Mapping[str, str]] = None,
    timeout: float = 10.0,
) -> Tuple[int, str]:
    """POST ``body`` to ``url`` (``params`` appended to its query): ``(status, text)`` of any
    answer, error statuses included; :class:`PostFailed` when none came."""
    if params:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        # The URL is the caller's own configuration (a push URL, the local stack), http(s) only.
        if not url.startswith(("http://", "https://")):
            raise PostFailed("ValueError")
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read(1 << 20).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(1 << 20).decode("utf-8", "replace")
    except (OSError, ValueError) as error:  # URLError, timeouts, resets are OSErrors
        raise PostFailed(type(error).__name__) from None
