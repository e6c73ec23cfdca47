"""Mini-program sessions for HTTP front ends: a signed token that says "this openid, this app,
until then".

WeChat's guidance for ``code2Session`` is that the server issues its own session identifier,
bound to the openid, with its own expiry, and keeps WeChat's ``session_key`` to itself
(https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/login.html). wxapush
needs no server-side session state at all: the token is ``v1.<payload>.<signature>``, the
payload the base64url JSON ``{"a": appid, "o": openid, "i": issued, "e": expires}`` and the
signature HMAC-SHA256 over ``v1.<payload>`` with ``WXAPUSH_SESSION_SECRET``. WeChat's
``session_key`` is not in it, nor anywhere else: ``login`` drops it.

Rotation: a token signed with ``WXAPUSH_SESSION_SECRET_PREVIOUS`` still verifies, so moving the
current secret to ``_PREVIOUS`` and setting a new one keeps live sessions valid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from wxapush.errors import Unauthorized

VERSION = "v1"
#: A token is a few hundred bytes; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 1024
#: The scheme of the Authorization header that carries a session.
SCHEME = "session"
#: What a caller with a bad session does about it (the envelope's ``hint``).
LOGIN_AGAIN = "call wx.login(), POST its code to the login function, send the session it answers"
_TOKEN = re.compile(r"^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
#: An openid is 28 characters of base64url in practice; allow some room, never whitespace.
_OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_openid(value: str) -> bool:
    """Whether ``value`` has an openid's shape (what a session may name)."""
    return _OPENID.match(value) is not None


@dataclass(frozen=True)
class Session:
    """A verified session: who, for which app, until when (Unix seconds)."""

    appid: str
    openid: str
    issued_at: int
    expires_at: int


def issue(appid: str, openid: str, secret: str, ttl: int, now: Optional[float] = None) -> str:
    """A signed session token for ``openid`` of ``appid``, valid ``ttl`` seconds from ``now``."""
    if not is_openid(openid):
        raise ValueError("openid is not a WeChat openid")
    issued = int(time.time() if now is None else now)
    payload = {"a": appid, "o": openid, "i": issued, "e": issued + ttl}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signed = f"{VERSION}.{body}"
    return f"{signed}.{_b64(_sign(secret, signed))}"


class ForgedSession(Unauthorized):
    """A token that is not one of ours (malformed, or signed with no key we hold): a guess, and
    counted as a failed credential (:mod:`wxapush.credential_guard`); an expired one is not."""


def verify(token: str, appid: str, secrets: Sequence[str], now: Optional[float] = None) -> Session:
    """The session ``token`` stands for; :class:`Unauthorized` when it is for another app or
    expired, :class:`ForgedSession` when it is malformed or signed with no key in ``secrets``.
    Never says which key matched."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not _TOKEN.match(token):
        raise ForgedSession("the session is malformed; sign in again (login)", hint=LOGIN_AGAIN)
    signed, _, signature = token.rpartition(".")
    given = _unb64(signature)
    if given is None or not any(
        hmac.compare_digest(given, _sign(secret, signed)) for secret in secrets
    ):
        raise ForgedSession("the session is not valid; sign in again (login)", hint=LOGIN_AGAIN)
    payload = _payload(signed.partition(".")[2])
    if payload is None:
        raise ForgedSession("the session is malformed; sign in again (login)", hint=LOGIN_AGAIN)
    if payload.appid != appid:
        raise Unauthorized("the session belongs to another mini program", hint=LOGIN_AGAIN)
    if (time.time() if now is None else now) >= payload.expires_at:
        raise Unauthorized("the session has expired; sign in again (login)", hint=LOGIN_AGAIN)
    return payload


def _payload(text: str) -> Optional[Session]:
    raw = _unb64(text)
    if raw is None:
        return None
    try:
        data: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    appid, openid, issued, expires = (data.get(k) for k in ("a", "o", "i", "e"))
    if not (isinstance(appid, str) and isinstance(openid, str) and is_openid(openid)):
        return None
    if not isinstance(issued, int) or not isinstance(expires, int):
        return None
    if isinstance(issued, bool) or isinstance(expires, bool):
        return None
    return Session(appid, openid, issued, expires)


def _sign(secret: str, signed: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), signed.encode("ascii"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> Optional[bytes]:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
