"""The WeChat OpenAPI client: timeouts, bounded retries, the access token attached.

Two layers, so that the token manager can use the transport without a cycle:

* :class:`Transport` sends one logical request: connect/read timeouts, retries with jittered
  backoff for ``-1``, ``45011``, HTTP 500/502/503 and failures to connect, never past the
  invocation's deadline (each exchange, its answer included, ends by it: a trickling or
  oversized answer is cut off, :mod:`wxapush.wechat.bounded_answer`); a send is never retried
  once WeChat may have acted on it. WeChat answers errors with HTTP 200 and
  ``{"errcode": N, "errmsg": "…"}``
  (https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-access-token/api_getaccesstoken.html).
  It speaks HTTP/1.1 through the standard library over one keep-alive connection
  (:mod:`wxapush.wechat.connection`; proxies from the environment, :mod:`wxapush.wechat.proxy`).
* :class:`WeChatClient` attaches the access token. On ``40001``/``40014``/``42001`` it invalidates
  the token it used (only if it is still the cached one), fetches one, and retries once — never more
  (peers loop forever here: wechatpy#152, WxJava#1481).

The token is a query parameter; it never appears in a log line or an error: messages are built
from errcodes and paths, not from URLs or exception texts, and no library below logs requests.
"""

from __future__ import annotations

import json as jsonlib
import logging
import os
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Optional
from urllib.parse import urlencode

from wxapush.errors import (
    UPSTREAM_ERROR,
    UPSTREAM_TIMEOUT,
    Misconfigured,
    NoTimeLeft,
    OutcomeUnknown,
    UpstreamError,
)
from wxapush.wechat.errcodes import error_for_errcode
from wxapush.wechat.exchange_errors import Lost, NotSent

if TYPE_CHECKING:
    from wxapush.wechat.connection import OriginConnections
    from wxapush.wechat.tokens import TokenManager

log = logging.getLogger(__name__)

#: Answers that mean "try again": system busy and the per-minute quota.
RETRYABLE_ERRCODES = frozenset({-1, 45011})
#: HTTP statuses of a front end that did not pass the request on (or failed before acting).
#: 504 is not one of them: a gateway timeout means WeChat got the request and did not answer in
#: time, so a send may have been delivered.
RETRYABLE_STATUSES = frozenset({500, 502, 503})
GATEWAY_TIMEOUT = 504
#: Answers that mean "this token is no good" (42001 is sometimes reported as 40014: wecom-sdk#22).
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request. Delays grow exponentially with full jitter."""

    attempts: int = 3
    base_delay: float = 0.1
    max_delay: float = 1.0
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    #: Time kept back from the deadline so the function can still record the outcome.
    reserve: float = 0.3
    #: The least time a retry starts with: the whole exchange must end by the deadline, and a
    #: send cut short after its request was written has an unknown outcome, not a retryable one.
    min_retry: float = 0.25

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


class _Retry(Exception):
    """An attempt failed in a way worth another try."""

    def __init__(
        self, reason: str, errcode: Optional[int] = None, errmsg: str = "", timeout: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errcode = errcode
        self.errmsg = errmsg
        self.timeout = timeout


class Transport:
    """Sends requests to the WeChat OpenAPI at ``api_base`` over one keep-alive connection.

    ``env`` (default ``os.environ``) is read once, at the first request, for ``HTTPS_PROXY``/
    ``HTTP_PROXY``/``NO_PROXY`` and the CA bundle; a proxy variable that cannot be used makes
    that request ``misconfigured``. The HTTP machinery (``http.client``, ``ssl``) is imported
    then too: a function that never calls WeChat never loads it.
    """

    def __init__(
        self,
        api_base: str,
        *,
        policy: RetryPolicy | None = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._env = os.environ if env is None else env
        self._connections: Optional[OriginConnections] = None

    def close(self) -> None:
        """Close the kept-alive connection; the next request opens another."""
        if self._connections is not None:
            self._connections.close()

    def _origin(self) -> OriginConnections:
        connections = self._connections
        if connections is None:
            from wxapush.wechat.connection import OriginConnections
            from wxapush.wechat.proxy import ProxyError

            try:
                connections = OriginConnections(self.api_base, self._env)
            except ProxyError as error:
                raise Misconfigured(str(error), setting=error.variable) from None
            self._connections = connections
        return connections

    def request(
        self,
        method: str,
        path: str,
        *,
        deadline: float,
        params: dict[str, str] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One logical call; returns WeChat's JSON object, whatever its errcode.

        ``params`` go URL-encoded into the query string; ``json`` is the body, encoded once
        (compact UTF-8, ``Content-Type: application/json``) for every attempt.

        Retried (within ``deadline``): what proves the request was not acted on — connection
        refused, connect timeout, unresolvable host, ``-1``, ``45011``, HTTP 500/502/503. An
        ``idempotent`` call (token, templates) also retries everything else that may be
        transient. A send (``idempotent=False``) does not: a read timeout, a connection lost
        after the request was written, HTTP 504 or a 200 that is not a JSON object raise
        :class:`OutcomeUnknown` at once — WeChat may have accepted the message, and a retry
        would send it twice (WxJava#2098). :class:`NoTimeLeft` means no attempt could be made.
        """
        connections = self._origin()
        target = f"{path}?{urlencode(params)}" if params else path
        body = None if json is None else _encode(json)
        policy = self.policy
        last: _Retry | None = None
        for attempt in range(policy.attempts):
            if attempt:
                delay = policy.backoff(attempt)
                if time.monotonic() + delay + policy.reserve + policy.min_retry >= deadline:
                    break
                time.sleep(delay)
            remaining = deadline - time.monotonic() - policy.reserve
            if remaining <= 0:
                break
            try:
                return self._attempt(connections, method, path, target, body, remaining, idempotent)
            except _Retry as retry:
                last = retry
                log.info("wechat %s %s: %s (attempt %d)", method, path, retry.reason, attempt + 1)
        if last is None:
            raise NoTimeLeft(f"no time left to call {path}")
        if last.errcode is not None:
            raise error_for_errcode(last.errcode, last.errmsg)
        errcode = UPSTREAM_TIMEOUT if last.timeout else UPSTREAM_ERROR
        raise UpstreamError(f"{path}: {last.reason}", errcode=errcode, retryable=True)

    def _attempt(
        self,
        connections: OriginConnections,
        method: str,
        path: str,
        target: str,
        body: Optional[bytes],
        remaining: float,
        idempotent: bool,
    ) -> dict[str, Any]:
        try:
            status, data = connections.exchange(
                method,
                target,
                body,
                connect_timeout=min(self.policy.connect_timeout, remaining),
                read_timeout=min(self.policy.read_timeout, remaining),
                # The whole exchange, however slowly the answer trickles, ends by then.
                deadline=time.monotonic() + remaining,
            )
        except NotSent as failed:  # nothing was written: safe to try again, even for a send
            raise _Retry(failed.reason, timeout=failed.timeout) from None
        except Lost as lost:  # after the request may have been written
            raise _unknown(path, lost.reason, idempotent, timed_out=lost.timeout) from None
        log.debug("wechat %s %s: HTTP %d", method, path, status)
        if status in RETRYABLE_STATUSES:
            raise _Retry(f"HTTP {status}")
        if status == GATEWAY_TIMEOUT:
            # A gateway gave up waiting for WeChat, which may still have done the work.
            raise _unknown(path, f"HTTP {status}", idempotent, timed_out=True)
        try:
            payload = jsonlib.loads(data)
        except ValueError:  # not JSON, or not UTF-8/16/32
            payload = None
        if not isinstance(payload, dict):
            if status == 200:
                # Something answered 200 but not WeChat's JSON: no proof nothing was done.
                raise _unknown(path, "HTTP 200, not a JSON object", idempotent)
            raise UpstreamError(f"{path}: HTTP {status}, not a JSON object", retryable=True)
        errcode = payload.get("errcode", 0)
        if errcode in RETRYABLE_ERRCODES:
            raise _Retry(f"errcode {errcode}", errcode, str(payload.get("errmsg", "")))
        return payload


def _unknown(path: str, reason: str, idempotent: bool, *, timed_out: bool = False) -> Exception:
    """A failure after the request may have reached WeChat: only an idempotent call may try
    again; for a send the outcome is unknown."""
    if idempotent:
        return _Retry(reason, timeout=timed_out)
    return OutcomeUnknown(f"{path}: {reason}; the outcome is unknown")


def _encode(body: Any) -> bytes:
    """Compact JSON in UTF-8 (Chinese as itself, 3 bytes, not a 6-byte escape)."""
    text = jsonlib.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (refused upstream): escaped, as JSON allows
        return jsonlib.dumps(body, separators=(",", ":"), allow_nan=False).encode("ascii")


class WeChatClient:
    """Authenticated calls: ``call`` attaches the token and survives one stale token."""

    def __init__(self, transport: Transport, tokens: TokenManager) -> None:
        self.transport = transport
        self.tokens = tokens

    def call(
        self,
        method: str,
        path: str,
        *,
        deadline: float,
        params: dict[str, str] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Call ``path`` with the access token; raise the typed error for a non-zero errcode."""
        for retried in (False, True):
            token = self.tokens.get(deadline=deadline).token
            query = dict(params or {}, access_token=token)
            payload = self.transport.request(
                method, path, deadline=deadline, params=query, json=json, idempotent=idempotent
            )
            errcode = payload.get("errcode", 0)
            if errcode in TOKEN_ERRCODES and not retried:
                self.tokens.invalidate(token)
                continue
            if errcode:
                raise error_for_errcode(errcode, str(payload.get("errmsg", "")))
            return payload
        raise AssertionError("unreachable")  # pragma: no cover
