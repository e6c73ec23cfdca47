"""The WeChat OpenAPI client: timeouts, bounded retries, the access token attached.

Two layers, so that the token manager can use the transport without a cycle:

* :class:`Transport` sends one logical request: connect/read timeouts, retries with jittered
  backoff for ``-1``, ``45011``, HTTP 500/502/503 and failures to connect, never past the
  invocation's deadline; a send is never retried once WeChat may have acted on it. WeChat
  answers errors with HTTP 200 and ``{"errcode": N, "errmsg": "…"}``
  (https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-access-token/api_getaccesstoken.html).
* :class:`WeChatClient` attaches the access token. On ``40001``/``40014``/``42001`` it invalidates
  the token it used (only if it is still the cached one), fetches one, and retries once — never more
  (peers loop forever here: wechatpy#152, WxJava#1481).

The token is a query parameter; it never appears in a log line or an error: messages are built
from errcodes and paths, not from URLs or exception texts.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

import requests
from urllib3.exceptions import NewConnectionError

from wxapush.errors import (
    UPSTREAM_ERROR,
    UPSTREAM_TIMEOUT,
    NoTimeLeft,
    OutcomeUnknown,
    UpstreamError,
    redact,
)
from wxapush.wechat.errcodes import error_for_errcode

if TYPE_CHECKING:
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


class _RedactCredentials(logging.Filter):
    """urllib3 logs each request line at DEBUG, query string (access_token, secret) included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        record.msg = redact(str(record.msg))
        return True


_URLLIB3_FILTER = _RedactCredentials()


def _guard_urllib3_logs() -> None:
    # Idempotent: a logger holds a filter once however many transports an instance builds.
    logging.getLogger("urllib3.connectionpool").addFilter(_URLLIB3_FILTER)


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
    """Sends requests to the WeChat OpenAPI at ``api_base`` over one keep-alive session."""

    def __init__(
        self,
        api_base: str,
        *,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.session = session or requests.Session()
        _guard_urllib3_logs()

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

        Retried (within ``deadline``): what proves the request was not acted on — connection
        refused, connect timeout, ``-1``, ``45011``, HTTP 500/502/503. An ``idempotent`` call
        (token, templates) also retries everything else that may be transient. A send
        (``idempotent=False``) does not: a read timeout, a connection lost mid-answer, HTTP 504
        or a 200 that is not a JSON object raise :class:`OutcomeUnknown` at once — WeChat may
        have accepted the message, and a retry would send it twice (WxJava#2098).
        :class:`NoTimeLeft` means no attempt could be made at all.
        """
        policy = self.policy
        last: _Retry | None = None
        for attempt in range(policy.attempts):
            if attempt:
                delay = policy.backoff(attempt)
                if time.monotonic() + delay + policy.reserve >= deadline:
                    break
                time.sleep(delay)
            remaining = deadline - time.monotonic() - policy.reserve
            if remaining <= 0:
                break
            try:
                return self._attempt(method, path, params, json, remaining, idempotent)
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
        method: str,
        path: str,
        params: dict[str, str] | None,
        body: Any,
        remaining: float,
        idempotent: bool,
    ) -> dict[str, Any]:
        timeout = (
            min(self.policy.connect_timeout, remaining),
            min(self.policy.read_timeout, remaining),
        )

        def unknown(reason: str, *, timed_out: bool = False) -> Exception:
            # After the request may have reached WeChat: only an idempotent call may try again.
            if idempotent:
                return _Retry(reason, timeout=timed_out)
            return OutcomeUnknown(f"{path}: {reason}; the outcome is unknown")

        try:
            response = self.session.request(
                method, self.api_base + path, params=params, json=body, timeout=timeout
            )
        except requests.ConnectTimeout:
            raise _Retry("connect timeout", timeout=True) from None
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                raise _Retry("could not connect") from None
            raise unknown("connection lost") from None
        except requests.Timeout:
            raise unknown("no answer in time", timed_out=True) from None
        except requests.RequestException as exc:
            raise unknown(type(exc).__name__) from None
        status = response.status_code
        if status in RETRYABLE_STATUSES:
            raise _Retry(f"HTTP {status}")
        if status == GATEWAY_TIMEOUT:
            # A gateway gave up waiting for WeChat, which may still have done the work.
            raise unknown(f"HTTP {status}", timed_out=True)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            if status == 200:
                # Something answered 200 but not WeChat's JSON: no proof nothing was done.
                raise unknown("HTTP 200, not a JSON object")
            raise UpstreamError(f"{path}: HTTP {status}, not a JSON object", retryable=True)
        errcode = payload.get("errcode", 0)
        if errcode in RETRYABLE_ERRCODES:
            raise _Retry(f"errcode {errcode}", errcode, str(payload.get("errmsg", "")))
        return payload


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before the request could reach WeChat (by type:
    urllib3 wraps a refused or unresolvable connection in NewConnectionError)."""
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, (NewConnectionError, ConnectionRefusedError))


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
