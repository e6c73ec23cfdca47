"""The error tree, the project errcode table and the envelopes."""

from __future__ import annotations

import json

import pytest

from wxapush import errors
from wxapush.errors import (
    ERROR_CLASSES,
    PROJECT_ERRCODES,
    Capped,
    Conflict,
    Forbidden,
    Internal,
    InvalidArgument,
    InvalidRequest,
    InvalidTemplate,
    Misconfigured,
    NotSubscribed,
    QuietHours,
    QuotaExhausted,
    RateLimited,
    Unauthorized,
    UpstreamError,
    WxapushError,
    ok,
    redact,
)

# slug -> (class, HTTP status, default errcode, retryable by default), as the README's table says.
CONTRACT = {
    "invalid_request": (InvalidRequest, 400, 990400, False),
    "invalid_argument": (InvalidArgument, 400, 47003, False),
    "invalid_template": (InvalidTemplate, 400, 40037, False),
    "not_subscribed": (NotSubscribed, 409, 43101, False),
    "unauthorized": (Unauthorized, 401, 990401, False),
    "forbidden": (Forbidden, 403, 990403, False),
    "conflict": (Conflict, 409, 990409, False),
    "rate_limited": (RateLimited, 429, 990429, True),
    "quota_exhausted": (QuotaExhausted, 429, 45009, True),
    "capped": (Capped, 429, 990430, True),
    "quiet_hours": (QuietHours, 429, 990431, True),
    "upstream_error": (UpstreamError, 502, 990502, True),
    "misconfigured": (Misconfigured, 500, 990501, False),
    "internal": (Internal, 500, 990500, False),
}


@pytest.mark.parametrize("slug", sorted(CONTRACT))
def test_each_slug_has_its_class_status_and_default_errcode(slug: str) -> None:
    cls, status, errcode, retryable = CONTRACT[slug]
    assert ERROR_CLASSES[slug] is cls
    assert issubclass(cls, WxapushError)
    assert (cls.slug, cls.status, cls.errcode, cls.retryable) == (slug, status, errcode, retryable)
    error = cls("something went wrong")
    assert error.to_result() == {
        "errcode": errcode,
        "errmsg": "something went wrong",
        "error": slug,
        "retryable": retryable,
    }


def test_the_slug_table_is_exactly_the_contract() -> None:
    assert set(ERROR_CLASSES) == set(CONTRACT)


def test_project_errcodes_are_unique_in_range_and_name_real_slugs() -> None:
    for code, (slug, meaning) in PROJECT_ERRCODES.items():
        assert 990000 <= code <= 990999
        assert slug in ERROR_CLASSES
        assert meaning
    # Every class default is either WeChat's code or in the project table.
    wechat_codes = {47003, 40037, 43101, 45009}
    for cls in ERROR_CLASSES.values():
        assert cls.errcode in PROJECT_ERRCODES or cls.errcode in wechat_codes
        if cls.errcode in PROJECT_ERRCODES:
            assert PROJECT_ERRCODES[cls.errcode][0] == cls.slug


def test_named_codes_match_the_table() -> None:
    assert PROJECT_ERRCODES[errors.REQUEST_TOO_LARGE][0] == "invalid_request"
    assert PROJECT_ERRCODES[errors.UPSTREAM_TIMEOUT][0] == "upstream_error"


def test_instance_overrides_errcode_retryable_and_adds_extras() -> None:
    error = InvalidArgument(
        "argument invalid! data.thing1.value invalid", errcode=47003, field="data.thing1.value"
    )
    assert error.to_result() == {
        "errcode": 47003,
        "errmsg": "argument invalid! data.thing1.value invalid",
        "error": "invalid_argument",
        "retryable": False,
        "field": "data.thing1.value",
    }
    assert (
        RateLimited("daily quota", errcode=45009, retryable=False).to_result()["retryable"] is False
    )
    assert UpstreamError("outcome unknown", retryable=False).retryable is False
    # The class default is untouched by an instance's override.
    assert InvalidArgument.errcode == 47003 and RateLimited.retryable is True


def test_extras_cannot_overwrite_the_envelope() -> None:
    error = Forbidden("no", errmsg_extra="x")
    error.extras.update(errcode=0, error="ok", retryable=True, errmsg="fine")
    result = error.to_result()
    assert (result["errcode"], result["error"], result["retryable"], result["errmsg"]) == (
        990403,
        "forbidden",
        False,
        "no",
    )


def test_extras_are_mutable_for_later_context() -> None:
    error = UpstreamError("down")
    error.extras["log_id"] = 7
    assert error.to_result()["log_id"] == 7


def test_errors_are_exceptions_whose_text_is_errmsg() -> None:
    with pytest.raises(WxapushError) as caught:
        raise NotSubscribed("user refuse to accept the msg")
    assert str(caught.value) == "user refuse to accept the msg"
    assert "NotSubscribed" in repr(caught.value)


def test_an_empty_errmsg_gets_a_readable_default() -> None:
    assert Conflict().errmsg == "conflict"
    assert UpstreamError().to_result()["errmsg"] == "upstream error"


def test_results_are_json() -> None:
    for cls in ERROR_CLASSES.values():
        json.dumps(cls("x", field="f").to_result())


def test_ok_envelope() -> None:
    assert ok() == {"errcode": 0, "errmsg": "ok"}
    assert ok(msgid=1, duplicate=False) == {
        "errcode": 0,
        "errmsg": "ok",
        "msgid": 1,
        "duplicate": False,
    }
    with pytest.raises(ValueError):
        ok(errcode=1)


def test_redact_known_secrets_and_credential_patterns() -> None:
    text = (
        "GET https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential"
        '&appid=wx1&secret=s3cr3tvalue failed; body {"access_token":"TOKEN123"} '
        "url redis://:hunter2@cache:6379/0 Authorization: Bearer ADMINKEY mykey-9"
    )
    out = redact(text, "mykey-9", None, "")
    for secret in ("s3cr3tvalue", "TOKEN123", "hunter2", "ADMINKEY", "mykey-9"):
        assert secret not in out
    assert "appid=wx1" in out and "redis://:***@cache:6379/0" in out
    assert redact("access_token=abc&x=1") == "access_token=***&x=1"


@pytest.mark.parametrize(
    "url, password",
    [
        ("mysql://root:p@ss@db:3306/x", "p@ss"),
        ("postgresql://u:a/b@c@db/x?sslmode=require", "a/b@c"),
        ("redis://:only-pw@cache:6379/0", "only-pw"),
        ("rediss://user:pc%40t@cache/1", "pc%40t"),
    ],
)
def test_url_passwords_are_found_and_masked_by_structure(url: str, password: str) -> None:
    from wxapush.errors import url_password

    assert url_password(url) == password
    line = f"could not connect: {url} (retrying)"
    masked = redact(line)
    assert password not in masked and "***@" in masked and "(retrying)" in masked


def test_urls_without_a_password_are_left_alone() -> None:
    from wxapush.errors import url_password

    for url in ("redis://cache:6379/0", "https://api.weixin.qq.com/cgi-bin/token", "mysql://u@h/d"):
        assert url_password(url) is None
        assert redact(url) == url
