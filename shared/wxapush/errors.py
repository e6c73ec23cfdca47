"""The error tree, the project's errcode table and the result envelope.

Every failure a function reports is a :class:`WxapushError` subclass; its *type* decides the slug,
the API-gateway status and the default ``errcode`` — never its message text.

``errcode`` is WeChat's own code where WeChat's rule applies (47003 for a keyword rule, 40037 for
a template, 43101 for a missing subscription…), whether WeChat said it or local validation
predicted it. Everywhere else it comes from :data:`PROJECT_ERRCODES`, a table of codes in the
``990000–990999`` range: WeChat's published codes are ``-1``, five-digit codes and a few six- and
seven-digit families (``2xxxxx``, ``3xxxxx``, ``85xxxx``, ``9001xxx``…); none uses ``99xxxx``,
and CloudBase's own codes are negative (``-404011``, ``-604101``…), so a caller can always tell a
wxapush code from a platform one. The last three digits echo the HTTP status for readability.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Mapping, Optional, Tuple, Type

from wxapush.redaction import redact, url_password

__all__ = [
    "ERROR_CLASSES",
    "PROJECT_ERRCODES",
    "Capped",
    "Conflict",
    "Forbidden",
    "Internal",
    "InvalidArgument",
    "InvalidRequest",
    "InvalidTemplate",
    "MethodNotAllowed",
    "Misconfigured",
    "NoTimeLeft",
    "NotSubscribed",
    "OutcomeUnknown",
    "QuietHours",
    "QuotaExhausted",
    "RateLimited",
    "Unauthorized",
    "UpstreamError",
    "WxapushError",
    "ok",
    "redact",
    "url_password",
]

# -- the project errcode table ------------------------------------------------------------------

INVALID_REQUEST = 990400
UNAUTHORIZED = 990401
FORBIDDEN = 990403
METHOD_NOT_ALLOWED = 990405
CONFLICT = 990409
REQUEST_TOO_LARGE = 990413
RATE_LIMITED = 990429
CAPPED = 990430
QUIET_HOURS = 990431
INTERNAL = 990500
MISCONFIGURED = 990501
UPSTREAM_ERROR = 990502
STORE_UNAVAILABLE = 990503
UPSTREAM_TIMEOUT = 990504

#: errcode -> (slug, meaning). The README's errcode table is rendered from this.
PROJECT_ERRCODES: Mapping[int, Tuple[str, str]] = {
    INVALID_REQUEST: ("invalid_request", "malformed event, body or field"),
    UNAUTHORIZED: ("unauthorized", "caller not identified: no or bad credentials or signature"),
    FORBIDDEN: ("forbidden", "caller identified, but not allowed this"),
    METHOD_NOT_ALLOWED: ("invalid_request", "HTTP method not accepted by this function (Allow)"),
    CONFLICT: ("conflict", "idempotency_key reused with another payload, or still in progress"),
    REQUEST_TOO_LARGE: ("invalid_request", "request body over the size limit"),
    RATE_LIMITED: ("rate_limited", "local send rate limit (WXAPUSH_RATE_LIMIT) reached"),
    CAPPED: ("capped", "the user's daily cap (WXAPUSH_USER_CAP) is reached"),
    QUIET_HOURS: ("quiet_hours", "inside the quiet hours (WXAPUSH_QUIET_HOURS)"),
    INTERNAL: ("internal", "unexpected failure inside wxapush (details in the function log)"),
    MISCONFIGURED: ("misconfigured", "a setting is missing or malformed (named in errmsg)"),
    UPSTREAM_ERROR: ("upstream_error", "WeChat unreachable or answered unusably"),
    STORE_UNAVAILABLE: (
        "upstream_error",
        "the store (WXAPUSH_STORE / WXAPUSH_CACHE) is unreachable, timed out or failed",
    ),
    UPSTREAM_TIMEOUT: (
        "upstream_error",
        "no time left to call WeChat (nothing sent), or no usable answer (outcome unknown;"
        " the record is reconciled to status unknown)",
    ),
}


# -- the error tree -----------------------------------------------------------------------------


class WxapushError(Exception):
    """A failure with a stable slug; rendered by :meth:`to_result`.

    ``errmsg`` is shown to the caller as is: never build one from a secret (see :func:`redact`).
    ``errcode`` overrides the class default (e.g. WeChat's own code), ``retryable`` the class
    default, and ``extras`` are extra result fields (``field``, ``log_id``, ``setting``…).
    """

    slug: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    #: Class defaults; an instance may override both (e.g. with WeChat's own code).
    retryable: bool = False
    errcode: int = INTERNAL

    def __init__(
        self,
        errmsg: str = "",
        *,
        errcode: Optional[int] = None,
        retryable: Optional[bool] = None,
        **extras: Any,
    ) -> None:
        self.errmsg = errmsg or self.slug.replace("_", " ")
        cls = type(self)
        self.errcode = cls.errcode if errcode is None else errcode
        self.retryable = cls.retryable if retryable is None else retryable
        self.extras: Dict[str, Any] = dict(extras)
        super().__init__(self.errmsg)

    def to_result(self) -> Dict[str, Any]:
        """The failure envelope: ``{errcode, errmsg, error, retryable, **extras}``."""
        result: Dict[str, Any] = dict(self.extras)
        result.update(
            errcode=self.errcode, errmsg=self.errmsg, error=self.slug, retryable=self.retryable
        )
        return result

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.errmsg!r}, errcode={self.errcode})"


class InvalidRequest(WxapushError):
    """The event, its body or one of its fields is malformed."""

    slug = "invalid_request"
    status = 400
    errcode = INVALID_REQUEST


class InvalidArgument(WxapushError):
    """Template data breaks WeChat's keyword rules (WeChat's 47003, named field in ``field``)."""

    slug = "invalid_argument"
    status = 400
    errcode = 47003


class InvalidTemplate(WxapushError):
    """The template id is empty, unknown or another app's (WeChat's 40037)."""

    slug = "invalid_template"
    status = 400
    errcode = 40037


class NotSubscribed(WxapushError):
    """The user has no subscription for the template (WeChat's 43101, or the grant ledger)."""

    slug = "not_subscribed"
    status = 409
    errcode = 43101


class MethodNotAllowed(InvalidRequest):
    """An HTTP method the function does not answer; ``allowed`` becomes the ``Allow`` header."""

    status = 405
    errcode = METHOD_NOT_ALLOWED

    def __init__(self, method: str, allowed: Tuple[str, ...]) -> None:
        super().__init__(f"{method} is not accepted here; use {' or '.join(allowed)}")
        self.allowed = allowed


class Unauthorized(WxapushError):
    """The caller could not be identified: no or bad credentials or signature."""

    slug = "unauthorized"
    status = 401
    errcode = UNAUTHORIZED


class Forbidden(WxapushError):
    """The caller is identified but not allowed this."""

    slug = "forbidden"
    status = 403
    errcode = FORBIDDEN


class Conflict(WxapushError):
    """An idempotency key reused with another payload (or a send still in progress)."""

    slug = "conflict"
    status = 409
    errcode = CONFLICT


class RateLimited(WxapushError):
    """A quota or rate limit was hit (WeChat's 45009/45011/43108, or the local limiter)."""

    slug = "rate_limited"
    status = 429
    retryable = True
    errcode = RATE_LIMITED


class QuotaExhausted(RateLimited):
    """WeChat's daily quota of an API is used up (45009): nothing was sent, and nothing will be
    until WeChat's day ends (midnight Beijing time), which ``retry_after`` counts down to, or
    until the quota is cleared (``clear_quota``). Retryable, unlike a refusal: the same request
    passes then. A :class:`RateLimited`, so code catching that catches this too."""

    slug = "quota_exhausted"
    status = 429
    retryable = True
    errcode = 45009


class Capped(WxapushError):
    """The user got ``WXAPUSH_USER_CAP`` messages today: nothing sent; ``retry_after`` says
    when the next day (in ``WXAPUSH_TZ``) begins."""

    slug = "capped"
    status = 429
    retryable = True
    errcode = CAPPED


class QuietHours(WxapushError):
    """Inside ``WXAPUSH_QUIET_HOURS``: nothing sent; ``retry_after`` says when they end."""

    slug = "quiet_hours"
    status = 429
    retryable = True
    errcode = QUIET_HOURS


class UpstreamError(WxapushError):
    """WeChat failed after bounded retries; retryable unless the outcome is unknown."""

    slug = "upstream_error"
    status = 502
    retryable = True
    errcode = UPSTREAM_ERROR


class NoTimeLeft(UpstreamError):
    """The invocation's time ran out before WeChat was called (again): nothing was sent."""

    errcode = UPSTREAM_TIMEOUT


class OutcomeUnknown(UpstreamError):
    """The request may have reached WeChat, but no usable answer came (a read timeout, a
    connection lost mid-answer…): WeChat may have acted on it. Not retryable: a blind retry of
    a send could deliver the message twice."""

    retryable = False
    errcode = UPSTREAM_TIMEOUT


class Misconfigured(WxapushError):
    """A setting is missing or malformed; ``setting`` names it when one is to blame."""

    slug = "misconfigured"
    status = 500
    errcode = MISCONFIGURED


class Internal(WxapushError):
    """An unexpected failure; the details go to the log, never to the caller.

    Not retryable by default: the cause is unknown, and a blind retry of a call with side
    effects is the caller's decision (send's idempotency_key makes it safe).
    """

    slug = "internal"
    status = 500
    errcode = INTERNAL


#: slug -> class, for the README and for rendering a result whose slug is known.
ERROR_CLASSES: Mapping[str, Type[WxapushError]] = {
    cls.slug: cls
    for cls in (
        InvalidRequest,
        InvalidArgument,
        InvalidTemplate,
        NotSubscribed,
        Unauthorized,
        Forbidden,
        Conflict,
        RateLimited,
        QuotaExhausted,
        Capped,
        QuietHours,
        UpstreamError,
        Misconfigured,
        Internal,
    )
}


def ok(**fields: Any) -> Dict[str, Any]:
    """The success envelope ``{"errcode": 0, "errmsg": "ok", **fields}``."""
    if "errcode" in fields:
        raise ValueError("a success result has errcode 0; raise a WxapushError instead")
    result: Dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
    result.update(fields)
    return result
