"""Signed sessions: issue, verify, tamper, expiry, other app, rotation (wxapush.session)."""

from __future__ import annotations

import base64
import json

import pytest

from wxapush import session
from wxapush.errors import Unauthorized

APPID = "wx1234567890abcdef"
OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
KEY = "session-secret-0123456789abcdef"
OLD = "session-secret-previous-000000"
NOW = 1_800_000_000.0


def test_a_session_verifies_to_its_openid_app_and_expiry() -> None:
    token = session.issue(APPID, OPENID, KEY, 7200, now=NOW)
    found = session.verify(token, APPID, [KEY], now=NOW + 7199)
    assert (found.appid, found.openid, found.issued_at, found.expires_at) == (
        APPID,
        OPENID,
        int(NOW),
        int(NOW) + 7200,
    )
    assert KEY not in token


def test_an_expired_session_is_refused() -> None:
    token = session.issue(APPID, OPENID, KEY, 60, now=NOW)
    with pytest.raises(Unauthorized, match="expired"):
        session.verify(token, APPID, [KEY], now=NOW + 60)


def test_another_apps_session_is_refused() -> None:
    token = session.issue("wx0000000000000002", OPENID, KEY, 60, now=NOW)
    with pytest.raises(Unauthorized, match="another mini program"):
        session.verify(token, APPID, [KEY], now=NOW)


def _swap_payload(token: str, **changes: object) -> str:
    version, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{version}.{raw}.{signature}"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: _swap_payload(t, o="oSomebodyElse000000000000000"),
        lambda t: _swap_payload(t, e=4_000_000_000),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: session.issue(APPID, OPENID, "another-secret-0123456789", 60, now=NOW),
    ],
)
def test_a_tampered_or_foreign_session_is_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    token = session.issue(APPID, OPENID, KEY, 60, now=NOW)
    with pytest.raises(Unauthorized, match="not valid"):
        session.verify(tamper(token), APPID, [KEY], now=NOW)


@pytest.mark.parametrize(
    "token",
    ["", "v1", "v1..", "v2.abc.def", "v1.abc", "v1.a b.c", "x" * 2000, "v1.!!.??", "v1.e30.AAAA"],
)
def test_malformed_sessions_are_refused(token: str) -> None:
    with pytest.raises(Unauthorized):
        session.verify(token, APPID, [KEY], now=NOW)


def test_a_signed_payload_that_is_not_ours_is_malformed() -> None:
    signed = "v1." + base64.urlsafe_b64encode(b'{"a": 1}').rstrip(b"=").decode()
    token = (
        f"{signed}." + base64.urlsafe_b64encode(session._sign(KEY, signed)).rstrip(b"=").decode()
    )
    with pytest.raises(Unauthorized, match="malformed"):
        session.verify(token, APPID, [KEY], now=NOW)


def test_rotation_keeps_live_sessions_valid() -> None:
    old_token = session.issue(APPID, OPENID, OLD, 7200, now=NOW)
    assert session.verify(old_token, APPID, [KEY, OLD], now=NOW).openid == OPENID
    with pytest.raises(Unauthorized):
        session.verify(old_token, APPID, [KEY], now=NOW)  # once _PREVIOUS is removed


def test_an_openid_that_is_not_one_cannot_be_issued() -> None:
    with pytest.raises(ValueError):
        session.issue(APPID, "o 1", KEY, 60)
