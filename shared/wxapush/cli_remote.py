"""The operator commands against a deployment over HTTP: ``wxapush --url BASE --admin-key KEY``.

Without it, ``send``, ``log``, ``invoke`` and ``broadcast`` run the functions in this process,
which needs the deployment's secrets and a network path to its store. With it, each call is a
``POST`` of the same request to the function's URL, as a service (``Authorization: Bearer
<admin key>``); the answer is the function's own envelope. Only the admin key leaves this
machine, in a header over the URL's TLS.

URLs: ``--url BASE`` (or ``WXAPUSH_URL``) serves each function at ``BASE/<function>`` — an API
gateway, or ``wxapush dev``. On SCF each Function URL has a host of its own: name them with
``--function-url send=https://…`` (repeatable) or ``WXAPUSH_URL_<FUNCTION>``
(``WXAPUSH_URL_SEND``, ``WXAPUSH_URL_SEND_LOG``, ``WXAPUSH_URL_BROADCAST``, …), with or without
a base. The key: ``--admin-key`` or ``WXAPUSH_ADMIN_KEY``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Optional, Sequence
from urllib.parse import urlsplit

#: Seconds to wait for a function's answer (a function's own limit is 10-15 s; broadcast's more).
TIMEOUT = 60.0


class RemoteError(ValueError):
    """The remote settings are incomplete or malformed (said to the operator, exit status 2)."""


class Remote:
    """Calls the deployment's functions over HTTP as a service."""

    def __init__(self, base: Optional[str], admin_key: str, urls: Mapping[str, str]) -> None:
        self.base = base.rstrip("/") if base else None
        self.admin_key = admin_key
        self.urls = dict(urls)

    def url_for(self, function: str) -> str:
        url = self.urls.get(function) or (f"{self.base}/{function}" if self.base else None)
        if url is None:
            raise RemoteError(
                f"no URL for {function}: give --url BASE, or --function-url {function}=URL"
                f" (WXAPUSH_URL_{function.upper()})"
            )
        return url

    def call(self, function: str, event: Mapping[str, Any]) -> Dict[str, Any]:
        """The function's answer to ``event``, or an ``upstream_error`` envelope saying why
        there was none (the URL unreachable, an answer that is not the function's JSON)."""
        import http.client
        import ssl

        try:
            url = self.url_for(function)
        except RemoteError as exc:
            return {"errcode": 990501, "errmsg": str(exc), "error": "misconfigured",
                    "retryable": False}  # fmt: skip
        parts = urlsplit(url)
        body = json.dumps(event, ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.admin_key}",
            "User-Agent": "wxapush-cli",
        }
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.netloc, timeout=TIMEOUT, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(parts.netloc, timeout=TIMEOUT)
        try:
            conn.request("POST", target, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            status = response.status
        except OSError as exc:
            return _no_answer(f"{function} at {_shown(url)} did not answer: {exc}")
        finally:
            conn.close()
        try:
            answer = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            answer = None
        if not isinstance(answer, dict) or "errcode" not in answer:
            return _no_answer(
                f"{function} at {_shown(url)} answered HTTP {status} without wxapush's JSON"
                " (is it the function's URL?)"
            )
        return answer


def _no_answer(message: str) -> Dict[str, Any]:
    return {"errcode": -1, "errmsg": message, "error": "upstream_error", "retryable": True}


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


def _checked(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"{what} must be an http(s):// URL, got {url!r}")
    return url


def from_options(
    base: Optional[str],
    admin_key: Optional[str],
    function_urls: Sequence[str],
    env: Mapping[str, str] = os.environ,
) -> Optional[Remote]:
    """The remote the options and settings name, or None: run the functions in-process."""
    from wxapush.config import env_value

    urls: Dict[str, str] = {}
    for name, value in env.items():
        if name.startswith("WXAPUSH_URL_") and env_value(env, name):
            urls[name[len("WXAPUSH_URL_") :].lower()] = _checked(value.strip(), name)
    for item in function_urls:
        function, sep, url = item.partition("=")
        if not sep or not function:
            raise RemoteError(f"--function-url {item!r}: write FUNCTION=URL")
        urls[function.strip()] = _checked(url.strip(), f"--function-url {function}")
    base = base or env_value(env, "WXAPUSH_URL")
    if base is None and not urls:
        return None
    if base is not None:
        _checked(base, "--url")
    key = admin_key or env_value(env, "WXAPUSH_ADMIN_KEY")
    if not key:
        raise RemoteError(
            "calling a deployment needs its admin key: --admin-key or WXAPUSH_ADMIN_KEY"
        )
    return Remote(base, key, urls)
