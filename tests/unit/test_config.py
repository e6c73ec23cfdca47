"""Settings from the environment: defaults, validation naming the variable, secrets."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import Dict, Iterator

import pytest

from wxapush import config
from wxapush.config import Settings, get_settings, load_settings, reset_settings
from wxapush.errors import Misconfigured

SECRET = "appsecret-0123456789abcdef"
ADMIN = "admin-key-very-secret-0123456789abcdef"
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
BASE = {"WXAPUSH_APPID": "wx1234567890abcdef", "WXAPUSH_APPSECRET": SECRET}


def env(**extra: str) -> Dict[str, str]:
    return {**BASE, **extra}


def refused(environ: Dict[str, str]) -> Misconfigured:
    with pytest.raises(Misconfigured) as caught:
        load_settings(environ)
    error = caught.value
    result = error.to_result()
    assert result["error"] == "misconfigured" and result["errcode"] == 990501
    assert result["retryable"] is False
    return error


def test_defaults() -> None:
    s = load_settings(BASE)
    assert s == Settings(appid="wx1234567890abcdef", appsecret=SECRET)
    assert s.api_base == "https://api.weixin.qq.com"
    assert s.token_mode == "stable"
    assert s.store_url is None
    assert s.callback_token is None and s.encoding_aes_key is None
    assert s.admin_key is None and s.cache_url is None
    assert s.callback_max_age == 300
    assert s.grant_policy == "track"
    assert s.rate_limit is None
    assert s.miniprogram_state == "formal"
    assert s.tz == "Asia/Shanghai"
    assert s.log_retention_days == 30
    assert s.idempotency_ttl == 86400
    assert s.resolve_appsecret() == SECRET


def test_every_variable_is_read() -> None:
    s = load_settings(
        env(
            WXAPUSH_API_BASE="http://127.0.0.1:8701/",
            WXAPUSH_TOKEN_MODE="Classic",
            WXAPUSH_STORE="sqlite:////tmp/wxapush.db",
            WXAPUSH_CALLBACK_TOKEN="cbtoken",
            WXAPUSH_ENCODING_AES_KEY=AES,
            WXAPUSH_ENCODING_AES_KEY_PREVIOUS=AES[::-1],
            WXAPUSH_ADMIN_KEY=ADMIN,
            WXAPUSH_CACHE="redis://127.0.0.1:6379/0",
            WXAPUSH_CALLBACK_MAX_AGE="0",
            WXAPUSH_GRANT_POLICY="enforce",
            WXAPUSH_RATE_LIMIT="12.5",
            WXAPUSH_MINIPROGRAM_STATE="trial",
            WXAPUSH_TZ="UTC",
            WXAPUSH_LOG_RETENTION_DAYS="7",
            WXAPUSH_IDEMPOTENCY_TTL="3600",
        )
    )
    assert s.api_base == "http://127.0.0.1:8701"  # no trailing slash: paths are appended
    assert s.token_mode == "classic"
    assert s.store_url == "sqlite:////tmp/wxapush.db"
    assert s.callback_token == "cbtoken"
    assert s.encoding_aes_key == AES and s.encoding_aes_key_previous == AES[::-1]
    assert s.admin_key == ADMIN
    assert s.cache_url == "redis://127.0.0.1:6379/0"
    assert s.callback_max_age == 0
    assert s.grant_policy == "enforce"
    assert s.rate_limit == 12.5
    assert s.miniprogram_state == "trial"
    assert s.tz == "UTC" and s.tzinfo.utcoffset(datetime(2024, 1, 1)) == timedelta(0)  # noqa: DTZ001 (a wall time, as utcoffset takes)
    assert s.log_retention_days == 7 and s.idempotency_ttl == 3600


def test_empty_values_count_as_unset() -> None:
    s = load_settings(env(WXAPUSH_ADMIN_KEY="", WXAPUSH_TZ=" ", WXAPUSH_RATE_LIMIT=""))
    assert s.admin_key is None and s.tz == "Asia/Shanghai" and s.rate_limit is None


def test_missing_appid_is_named() -> None:
    error = refused({"WXAPUSH_APPSECRET": SECRET})
    assert "WXAPUSH_APPID" in error.errmsg and error.extras["setting"] == "WXAPUSH_APPID"
    refused({"WXAPUSH_APPID": "  ", "WXAPUSH_APPSECRET": SECRET})
    assert refused(env(WXAPUSH_APPID="wx 1")).extras["setting"] == "WXAPUSH_APPID"


def test_missing_secret_is_named() -> None:
    error = refused({"WXAPUSH_APPID": "wx1"})
    assert "WXAPUSH_APPSECRET" in error.errmsg and error.extras["setting"] == "WXAPUSH_APPSECRET"


def test_ssm_replaces_the_plain_secret_and_needs_the_role_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Reading from SSM itself is tested against wxemu's fake (tests/functional/test_ssm.py).
    for name in ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "WXAPUSH_SSM_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WXAPUSH_SSM_REGION", "ap-guangzhou")
    s = load_settings({"WXAPUSH_APPID": "wx1", "WXAPUSH_APPSECRET_SSM": "wxapush-secret@v2"})
    assert s.appsecret is None and s.appsecret_ssm == "wxapush-secret@v2"
    with pytest.raises(Misconfigured) as caught:
        s.resolve_appsecret()
    assert (
        "'wxapush-secret'" in caught.value.errmsg and "TENCENTCLOUD_SECRETID" in caught.value.errmsg
    )
    assert caught.value.extras["setting"] == "WXAPUSH_APPSECRET_SSM"


def test_ssm_reference_and_ambiguity() -> None:
    bad = refused({"WXAPUSH_APPID": "wx1", "WXAPUSH_APPSECRET_SSM": "a@b@c"})
    assert bad.extras["setting"] == "WXAPUSH_APPSECRET_SSM"
    both = refused(env(WXAPUSH_APPSECRET_SSM="name"))
    assert "only one" in both.errmsg and SECRET not in both.errmsg


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WXAPUSH_TOKEN_MODE", "fast"),
        ("WXAPUSH_GRANT_POLICY", "strict"),
        ("WXAPUSH_MINIPROGRAM_STATE", "release"),
        ("WXAPUSH_TZ", "Mars/Olympus_Mons"),
        ("WXAPUSH_TZ", "../../etc/passwd"),
        ("WXAPUSH_RATE_LIMIT", "ten"),
        ("WXAPUSH_RATE_LIMIT", "0"),
        ("WXAPUSH_RATE_LIMIT", "-3"),
        ("WXAPUSH_RATE_LIMIT", "nan"),
        ("WXAPUSH_RATE_LIMIT", "inf"),
        ("WXAPUSH_CALLBACK_MAX_AGE", "5m"),
        ("WXAPUSH_CALLBACK_MAX_AGE", "-1"),
        ("WXAPUSH_CALLBACK_MAX_AGE", "1.5"),
        ("WXAPUSH_LOG_RETENTION_DAYS", "0"),
        ("WXAPUSH_IDEMPOTENCY_TTL", "a day"),
        ("WXAPUSH_API_BASE", "ftp://api.weixin.qq.com"),
        ("WXAPUSH_API_BASE", "api.weixin.qq.com"),
        ("WXAPUSH_API_BASE", "https://"),
        ("WXAPUSH_API_BASE", "https://api.weixin.qq.com/?x=1"),
        ("WXAPUSH_STORE", "/tmp/wxapush.db"),
        ("WXAPUSH_STORE", "mongodb://db/wxapush"),
        ("WXAPUSH_CACHE", "postgresql://db/x"),
    ],
)
def test_malformed_settings_are_named(name: str, value: str) -> None:
    error = refused(env(**{name: value}))
    assert name in error.errmsg
    assert error.extras["setting"] == name


def test_bad_aes_key_is_named_without_its_value() -> None:
    for name in ("WXAPUSH_ENCODING_AES_KEY", "WXAPUSH_ENCODING_AES_KEY_PREVIOUS"):
        error = refused(env(**{name: "short-secret-key"}))
        assert error.extras["setting"] == name
        assert "short-secret-key" not in error.errmsg


def test_store_url_with_password_is_not_echoed_when_refused() -> None:
    error = refused(env(WXAPUSH_STORE="mongodb://u:pw-secret@db/x"))
    assert "pw-secret" not in error.errmsg


def test_store_and_cache_schemes_accepted() -> None:
    for url in (
        "sqlite:///.wxapush/db.sqlite",
        "redis://localhost/0",
        "rediss://h/1",
        "postgresql://u@h/db",
        "postgresql+psycopg://u@h/db",
        "mysql://root@h/db",
        "mysql+pymysql://root@h/db",
    ):
        assert load_settings(env(WXAPUSH_STORE=url)).store_url == url


def test_secrets_never_in_repr() -> None:
    s = load_settings(
        env(
            WXAPUSH_ADMIN_KEY=ADMIN,
            WXAPUSH_CALLBACK_TOKEN="cb-token-secret",
            WXAPUSH_ENCODING_AES_KEY=AES,
            WXAPUSH_STORE="postgresql://wx:db-password@db:5432/wx",
            WXAPUSH_CACHE="redis://:cache-password@cache:6379/0",
        )
    )
    text = repr(s) + str(s)
    for secret in (SECRET, ADMIN, "cb-token-secret", AES, "db-password", "cache-password"):
        assert secret not in text
    assert "appid='wx1234567890abcdef'" in text and "admin_key='***'" in text
    assert "postgresql://wx:***@db:5432/wx" in text
    assert set(s.secrets()) == {
        SECRET,
        ADMIN,
        "cb-token-secret",
        AES,
        "db-password",
        "cache-password",
    }


def test_settings_are_frozen() -> None:
    s = load_settings(BASE)
    with pytest.raises(AttributeError):
        s.appid = "other"  # type: ignore[misc]


def test_shanghai_works_and_is_utc_plus_8() -> None:
    tz = load_settings(BASE).tzinfo
    assert tz.utcoffset(datetime(2024, 7, 1, 12)) == timedelta(hours=8)  # noqa: DTZ001 (a wall time, as utcoffset takes)
    assert tz.utcoffset(datetime(2024, 1, 1, 12)) == timedelta(hours=8)  # noqa: DTZ001 (a wall time, as utcoffset takes)


@pytest.fixture
def no_tz_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def missing(key: str) -> zoneinfo.ZoneInfo:
        raise zoneinfo.ZoneInfoNotFoundError(f"No time zone found with key {key}")

    config._zone.cache_clear()
    monkeypatch.setattr(zoneinfo, "ZoneInfo", missing)
    yield
    config._zone.cache_clear()


@pytest.mark.usefixtures("no_tz_database")
def test_without_a_tz_database_shanghai_falls_back_to_a_fixed_offset() -> None:
    tz = load_settings(BASE).tzinfo
    assert tz.utcoffset(datetime(2024, 7, 1)) == timedelta(hours=8)  # noqa: DTZ001 (a wall time, as utcoffset takes)
    assert tz.tzname(None) == "Asia/Shanghai"
    error = refused(env(WXAPUSH_TZ="Europe/Paris"))
    assert error.extras["setting"] == "WXAPUSH_TZ" and "tz database" in error.errmsg


def test_get_settings_reads_once_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    reset_settings()
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    first = get_settings()
    monkeypatch.setenv("WXAPUSH_APPID", "wxchanged")
    assert get_settings() is first
    reset_settings()
    assert get_settings().appid == "wxchanged"
    get_settings.cache_clear()
    monkeypatch.delenv("WXAPUSH_APPID")
    with pytest.raises(Misconfigured):
        get_settings()  # a failure is not cached: fixing the environment is enough
    monkeypatch.setenv("WXAPUSH_APPID", "wxfixed")
    assert get_settings().appid == "wxfixed"
    reset_settings()


def test_a_malformed_url_setting_never_echoes_its_password() -> None:
    env = {
        "WXAPUSH_APPID": "wx1",
        "WXAPUSH_APPSECRET": "s",
        "WXAPUSH_API_BASE": "ftp://u:hunter2@h",
    }
    with pytest.raises(Misconfigured) as caught:
        load_settings(env)
    assert caught.value.extras["setting"] == "WXAPUSH_API_BASE"
    assert "hunter2" not in caught.value.errmsg and "ftp://u:***@h" in caught.value.errmsg


@pytest.mark.parametrize("unset", ["", "  ", "undefined", "null", "NULL", "Undefined"])
def test_undefined_and_null_count_as_unset(unset: str) -> None:
    # What an unset ${env:X} (Serverless CLI) or {{env.X}} (CloudBase CLI) deploys as.
    settings = load_settings(env(WXAPUSH_ADMIN_KEY=unset, WXAPUSH_STORE=unset, WXAPUSH_TZ=unset))
    assert settings.admin_key is None and settings.store_url is None
    assert settings.tz == "Asia/Shanghai"
    error = refused({"WXAPUSH_APPID": "wx1234567890abcdef", "WXAPUSH_APPSECRET": unset})
    assert error.extras["setting"] == "WXAPUSH_APPSECRET"
    error = refused({"WXAPUSH_APPID": unset, "WXAPUSH_APPSECRET": SECRET})
    assert error.extras["setting"] == "WXAPUSH_APPID"


def test_session_settings() -> None:
    settings = load_settings(
        env(
            WXAPUSH_SESSION_SECRET="s" * 32,
            WXAPUSH_SESSION_SECRET_PREVIOUS="p" * 32,
            WXAPUSH_SESSION_TTL="600",
        )
    )
    assert settings.resolve_session_secrets() == ("s" * 32, "p" * 32)
    assert settings.session_ttl == 600
    assert "s" * 32 not in repr(settings) and "p" * 32 not in repr(settings)
    assert load_settings(env()).session_ttl == 7200


@pytest.mark.parametrize(
    "name, value",
    [
        ("WXAPUSH_SESSION_SECRET", "short"),
        ("WXAPUSH_SESSION_SECRET_PREVIOUS", "short"),
        ("WXAPUSH_SESSION_TTL", "59"),
        ("WXAPUSH_SESSION_TTL", "2592001"),
        ("WXAPUSH_SESSION_TTL", "2h"),
        ("WXAPUSH_SESSION_SECRET_SSM", "a b"),
    ],
)
def test_malformed_session_settings_are_named(name: str, value: str) -> None:
    error = refused(env(**{name: value}))
    assert error.extras["setting"] == name
    if "SECRET" in name and "SSM" not in name:
        assert value not in error.errmsg


def test_an_unset_session_secret_is_misconfigured_when_needed() -> None:
    for unset in ("", "undefined"):
        settings = load_settings(env(WXAPUSH_SESSION_SECRET=unset))
        with pytest.raises(Misconfigured) as caught:
            settings.resolve_session_secrets()
        assert caught.value.extras["setting"] == "WXAPUSH_SESSION_SECRET"


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("WXAPUSH_STORE", "redis://h:abc"),  # a port that is no number
        ("WXAPUSH_STORE", "redis:/h"),  # no //host
        ("WXAPUSH_STORE", "postgresql://h:abc/db"),
        ("WXAPUSH_CACHE", "redis:h"),
    ],
)
def test_a_malformed_store_url_is_misconfigured_naming_the_setting(name: str, url: str) -> None:
    error = refused(env(**{name: url}))
    assert error.extras["setting"] == name and "scheme://" in error.errmsg
    assert url not in error.errmsg  # never echoed: it may hold a password


def test_every_reader_of_the_environment_shares_the_unset_rule() -> None:
    from wxapush.config import env_value
    from wxapush.services.broadcast_fanout import fanout_count

    for unset in ("", "  ", "undefined", "Undefined", "NULL"):
        assert env_value({"X": unset}, "X") is None
        assert fanout_count({"WXAPUSH_BROADCAST_FANOUT": unset}) == 0
    assert env_value({"X": " v "}, "X") == "v" and env_value({}, "X") is None
