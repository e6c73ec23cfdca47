"""Identifiers in the formats WeChat uses (observed, not documented)."""

from __future__ import annotations

import base64
import itertools
import os
import random
import secrets
import string
import threading

_URLSAFE = string.ascii_letters + string.digits + "-_"
_ALNUM = string.ascii_letters + string.digits
_rng = random.Random()
_msg_seq = itertools.count(1)
_msg_lock = threading.Lock()

#: Observed tokens start with a small integer that grows over the years (``83_…``, ``89_…``).
TOKEN_PREFIX = "89"


def access_token() -> str:
    """``<int>_<base64url>``, 136 characters long like the tokens WeChat issues today."""
    return f"{TOKEN_PREFIX}_" + "".join(_rng.choices(_URLSAFE, k=133))


def openid() -> str:
    """A mini-program openid: 28 characters from ``[A-Za-z0-9_-]`` starting with ``o``."""
    return "o" + "".join(_rng.choices(_URLSAFE, k=27))


def template_id() -> str:
    """A private template id (``priTmplId``): 43 characters from ``[A-Za-z0-9_-]``."""
    return "".join(_rng.choices(_URLSAFE, k=43))


def appid() -> str:
    """An AppID: ``wx`` and 16 hex digits."""
    return "wx" + os.urandom(8).hex()


def secret() -> str:
    """An AppSecret: 32 hex digits."""
    return os.urandom(16).hex()


def login_code() -> str:
    """A ``wx.login`` code: 32 alphanumerics."""
    return "".join(_rng.choices(_ALNUM, k=32))


def session_key() -> str:
    """A session key: 16 random bytes, base64 (24 characters)."""
    return base64.b64encode(secrets.token_bytes(16)).decode("ascii")


def msgid(now: float) -> int:
    """A 64-bit message id, increasing and unique in the process (``1988810812324364291``)."""
    with _msg_lock:
        seq = next(_msg_seq)
    return ((int(now * 1000) << 20) | (seq & 0xFFFFF)) & 0x7FFF_FFFF_FFFF_FFFF


def rid(now: float) -> str:
    """A request id: the Unix time in hex, then two random groups of 8 hex digits."""
    return f"{int(now) & 0xFFFFFFFF:08x}-{_rng.getrandbits(32):08x}-{_rng.getrandbits(32):08x}"
