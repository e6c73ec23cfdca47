"""Settings from the environment (the README's "Configuration"), read once per function instance.

Only the ``WXAPUSH_*`` configuration comes from ``os.environ``; a caller's identity never does
(see :mod:`wxapush.runtime`). A missing or malformed setting raises :class:`Misconfigured` whose
``errmsg`` and ``setting`` name the variable, so a deployment mistake reads as one, not as a
traceback. Secret values never appear in ``repr(settings)`` nor in any error.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, fields
from datetime import timedelta, timezone
from datetime import tzinfo as TzInfo
from typing import Callable, Mapping, Optional, Tuple, TypeVar
from urllib.parse import unquote

from wxapush.config_values import (
    hide_password,
    hours,
    http_url,
    int_at_least,
    int_between,
    per_day,
    per_period,
    positive_rate,
    share,
    url_setting,
)
from wxapush.errors import Misconfigured, redact, url_password

__all__ = [
    "Settings",
    "configured_store_urls",
    "configured_zone",
    "env_value",
    "get_settings",
    "load_settings",
    "reset_settings",
]

DEFAULT_API_BASE = "https://api.weixin.qq.com"
#: Campaigns' part of WXAPUSH_RATE_LIMIT: half, so an order message never waits behind them.
BROADCAST_SHARE_DEFAULT = 0.5
TOKEN_MODES = ("stable", "classic")
GRANT_POLICIES = ("track", "enforce", "off")
MINIPROGRAM_STATES = ("formal", "trial", "developer")
RESPECT_SCOPES = ("broadcast", "all")
MIGRATE_MODES = ("auto", "off")

#: Fields whose values are secrets: shown as ``***`` by ``repr``.
_SECRET_FIELDS = frozenset(
    {
        "appsecret",
        "callback_token",
        "callback_token_previous",
        "encoding_aes_key",
        "encoding_aes_key_previous",
        "admin_key",
        "admin_key_previous",
        "session_secret",
        "session_secret_previous",
    }
)
#: What an unset variable becomes on its way through a deploy descriptor: the Serverless CLI
#: turns an unset ``${env:X}`` into the text ``undefined``; YAML and JSON tools write ``null``.
#: Such a value, like an empty one, counts as unset (compared case-insensitively).
UNSET_LITERALS = frozenset({"", "undefined", "null"})
#: Bounds of WXAPUSH_SESSION_TTL: a minute to 30 days.
SESSION_TTL_RANGE = (60, 30 * 86400)
#: Fields holding URLs that may embed a password (``redis://:pw@host``).
_URL_FIELDS = frozenset({"store_url", "cache_url"})

# Store URL families the layer knows (a ``+driver`` suffix is allowed; the backend checks it).
_STORE_SCHEMES = frozenset(
    {"sqlite", "redis", "rediss", "postgresql", "postgres", "mysql", "mariadb"}
)
_CACHE_SCHEMES = frozenset({"redis", "rediss", "unix"})
# EncodingAESKey: 43 characters of a-z A-Z 0-9 (the message-push settings).
_AES_KEY = re.compile(r"^[A-Za-z0-9]{43}$")
# Tencent SSM secret reference: ``name`` or ``name@version``.
_SSM_REF = re.compile(r"^[^@\s]+(?:@[^@\s]+)?$")
_SHANGHAI = "Asia/Shanghai"
#: What a mini-program user may send itself by default: 5 a minute (a burst of 5, then one
#: every 12 s), so that one user cannot spend the app's WXAPUSH_RATE_LIMIT or WeChat's quota.
DEFAULT_USER_RATE_LIMIT = (5, 60.0)
#: The shortest admin key accepted: it stands for the operator on every function.
MIN_ADMIN_KEY_LENGTH = 32
#: The shortest session secret accepted (WXAPUSH_SESSION_SECRET and its ``_PREVIOUS``).
MIN_SESSION_SECRET_LENGTH = 16


@dataclass(frozen=True, repr=False)
class Settings:
    """One function instance's configuration; the README lists each variable."""

    appid: str
    appsecret: Optional[str] = None
    appsecret_ssm: Optional[str] = None
    api_base: str = DEFAULT_API_BASE
    token_mode: str = "stable"
    #: ``None``: the store module picks its default (a sqlite file under ``.wxapush/`` or /tmp).
    store_url: Optional[str] = None
    callback_token: Optional[str] = None
    encoding_aes_key: Optional[str] = None
    encoding_aes_key_previous: Optional[str] = None
    admin_key: Optional[str] = None
    #: The key before ``admin_key``, still accepted while callers move to the new one.
    admin_key_previous: Optional[str] = None
    #: The push Token before ``callback_token``, still accepted while the console changes.
    callback_token_previous: Optional[str] = None
    cache_url: Optional[str] = None
    callback_max_age: int = 300
    grant_policy: str = "track"
    #: Sends per second per app, shared by all instances; ``None``: no local limit.
    rate_limit: Optional[float] = None
    #: The campaigns' part of ``rate_limit`` (single sends always have the rest; see pacing).
    broadcast_share: float = BROADCAST_SHARE_DEFAULT
    miniprogram_state: str = "formal"
    tz: str = _SHANGHAI
    log_retention_days: int = 30
    idempotency_ttl: int = 86400
    #: Messages per user per day (in ``tz``); ``None``: no cap.
    user_cap: Optional[int] = None
    #: Quiet hours as (start, end) minutes after midnight in ``tz``; may wrap past midnight.
    quiet_hours: Optional[Tuple[int, int]] = None
    #: Sends a mini-program user may make to itself: (count, per seconds); ``None``: no limit.
    user_rate_limit: Optional[Tuple[int, float]] = DEFAULT_USER_RATE_LIMIT
    #: Which sends the cap and quiet hours hold for: ``broadcast`` or ``all``.
    respect_scope: str = "broadcast"
    #: Seconds a broadcast worker holds the recipients it took (a dead worker's come back then).
    broadcast_lease: int = 60
    #: HMAC key of the sessions ``login`` issues (and the one before it, during a rotation).
    session_secret: Optional[str] = None
    session_secret_previous: Optional[str] = None
    #: Tencent SSM secret holding the session key, read like the AppSecret's.
    session_secret_ssm: Optional[str] = None
    session_ttl: int = 7200
    #: Tencent SSM secrets holding the store / cache URL (password included), read at start.
    store_ssm: Optional[str] = None
    cache_ssm: Optional[str] = None
    #: ``auto``: a cold start creates or migrates the store's schema; ``off``: it refuses a
    #: schema that is behind (``wxapush migrate`` brings it up).
    migrate: str = "auto"

    @property
    def tzinfo(self) -> TzInfo:
        """The zone of ``begin_date``/``end_date`` and of rendered times."""
        return _zone(self.tz)

    def resolve_appsecret(self) -> str:
        """The AppSecret: the plain setting, or (the one seam for it) Tencent SSM.

        Called lazily, at the first token fetch, so that a function that never needs the
        secret never pays for SSM.
        """
        if self.appsecret:
            return self.appsecret
        if self.appsecret_ssm:
            return _appsecret_from_ssm(self.appsecret_ssm)
        raise Misconfigured("WXAPUSH_APPSECRET is not set", setting="WXAPUSH_APPSECRET")

    def resolve_session_secrets(self) -> Tuple[str, ...]:
        """The keys that verify a session, the signing key first (``login`` and HTTP callers
        presenting ``Authorization: Session``); :class:`Misconfigured` when none is set."""
        current = self.session_secret
        if current is None and self.session_secret_ssm:
            from wxapush.ssm import read_secret

            current = read_secret(self.session_secret_ssm, setting="WXAPUSH_SESSION_SECRET_SSM")
        if not current:
            raise Misconfigured(
                "WXAPUSH_SESSION_SECRET is not set (or set WXAPUSH_SESSION_SECRET_SSM)",
                setting="WXAPUSH_SESSION_SECRET",
            )
        previous = self.session_secret_previous
        return (current, previous) if previous and previous != current else (current,)

    def resolve_store_urls(self) -> Tuple[Optional[str], Optional[str]]:
        """``(WXAPUSH_STORE, WXAPUSH_CACHE)``: the plain settings, or the URLs their ``_SSM``
        secrets hold (read when the store is opened, checked like the plain ones)."""
        store, cache = self.store_url, self.cache_url
        if self.store_ssm:
            store = _url_from_ssm(self.store_ssm, "WXAPUSH_STORE", _STORE_SCHEMES)
        if self.cache_ssm:
            cache = _url_from_ssm(self.cache_ssm, "WXAPUSH_CACHE", _CACHE_SCHEMES)
        return store, cache

    def admin_keys(self) -> Tuple[str, ...]:
        """The keys a service may present: the current one first, then the previous one
        (during a rotation). Empty when no admin key is set: HTTP service calls are refused."""
        if not self.admin_key:
            return ()
        previous = self.admin_key_previous
        if previous and previous != self.admin_key:
            return (self.admin_key, previous)
        return (self.admin_key,)

    def callback_tokens(self) -> Tuple[str, ...]:
        """The push Tokens a signature may be made with: current first, then the previous."""
        if not self.callback_token:
            return ()
        previous = self.callback_token_previous
        if previous and previous != self.callback_token:
            return (self.callback_token, previous)
        return (self.callback_token,)

    def secrets(self) -> Tuple[str, ...]:
        """Every secret value configured, for :func:`wxapush.errors.redact` in logs."""
        values = (getattr(self, name) for name in sorted(_SECRET_FIELDS))
        from_ssm: Tuple[str, ...] = ()
        passwords = []
        if self.appsecret_ssm or self.session_secret_ssm or self.store_ssm or self.cache_ssm:
            from wxapush.ssm import cached_values

            from_ssm = cached_values()
            for value in from_ssm:  # a store URL's password, alone in a driver's message
                password = url_password(value)
                if password:
                    passwords += [password, unquote(password)]
        for name in sorted(_URL_FIELDS):
            password = url_password(getattr(self, name) or "")
            if password:  # as written and as the driver decodes it
                passwords += [password, unquote(password)]
        return tuple(v for v in values if v) + tuple(passwords) + from_ssm

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS and value is not None:
                shown = "'***'"
            elif f.name in _URL_FIELDS and value is not None:
                shown = repr(hide_password(value))
            else:
                shown = repr(value)
            parts.append(f"{f.name}={shown}")
        return f"Settings({', '.join(parts)})"


def _url_from_ssm(ref: str, name: str, schemes: frozenset[str]) -> str:
    from wxapush.ssm import read_secret

    value = read_secret(ref, setting=f"{name}_SSM")
    url = url_setting(lambda _: value, f"{name}_SSM", schemes)
    assert url is not None  # read_secret never answers an empty text
    return url


def configured_store_urls(env: Mapping[str, str]) -> Tuple[Optional[str], Optional[str]]:
    """``WXAPUSH_STORE`` and ``WXAPUSH_CACHE`` (or their ``_SSM`` secrets, read now) alone,
    for tools such as ``wxapush migrate`` that need no other setting."""

    def get(name: str) -> Optional[str]:
        return env_value(env, name)

    settings = Settings(
        appid="-",
        store_url=url_setting(get, "WXAPUSH_STORE", _STORE_SCHEMES),
        cache_url=url_setting(get, "WXAPUSH_CACHE", _CACHE_SCHEMES),
        store_ssm=_ssm_ref(get, "WXAPUSH_STORE"),
        cache_ssm=_ssm_ref(get, "WXAPUSH_CACHE"),
    )
    return settings.resolve_store_urls()


def _ssm_ref(get: Callable[[str], Optional[str]], plain: str) -> Optional[str]:
    """``<plain>_SSM``, checked: a secret reference, and not set beside ``plain``."""
    name = f"{plain}_SSM"
    ref = get(name)
    if ref is None:
        return None
    if get(plain) is not None:
        raise Misconfigured(f"set only one of {plain} and {name}", setting=name)
    if not _SSM_REF.match(ref):
        raise Misconfigured(f"{name} must be a secret name or name@version", setting=name)
    return ref


def _appsecret_from_ssm(ref: str) -> str:
    # wxapush.ssm imports the Tencent SDK only when it reads: config stays import-light.
    from wxapush.ssm import read_secret

    return read_secret(ref)


@functools.lru_cache(maxsize=8)
def _zone(name: str) -> TzInfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        # Slim images (some SCF runtimes, python:slim) ship no tz database and no tzdata
        # package. The default zone must still work: China has kept UTC+8 without daylight
        # saving since 1991, so a fixed offset is exact for every date this layer handles.
        # Only that zone gets the fallback: guessing any other would silently shift dates.
        if name == _SHANGHAI:
            return timezone(timedelta(hours=8), _SHANGHAI)
        raise


def _checked_zone(name: str) -> TzInfo:
    try:
        return _zone(name)
    except (ValueError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError: caught below
        raise Misconfigured(
            f"WXAPUSH_TZ {name!r} is not a time zone", setting="WXAPUSH_TZ"
        ) from exc
    except KeyError:
        raise Misconfigured(
            f"WXAPUSH_TZ {name!r} is not a known time zone (is the tz database installed?)",
            setting="WXAPUSH_TZ",
        ) from None


def env_value(env: Mapping[str, str], name: str) -> Optional[str]:
    """``env[name]`` stripped, or None when unset: absent, empty, ``undefined`` or ``null``."""
    value = (env.get(name) or "").strip()
    return None if value.lower() in UNSET_LITERALS else value


def configured_zone(env: Mapping[str, str] = os.environ) -> TzInfo:
    """``WXAPUSH_TZ``'s zone alone, for tools that need "today" without the other settings."""
    return _checked_zone(env_value(env, "WXAPUSH_TZ") or _SHANGHAI)


T = TypeVar("T")


def load_settings(env: Mapping[str, str]) -> Settings:
    """Settings from ``env`` (e.g. ``os.environ``); :class:`Misconfigured` names a bad variable.

    An empty value, or the literal ``undefined`` / ``null`` (what an unset variable becomes in
    a deploy descriptor), counts as unset: a missing secret reads as ``misconfigured`` naming
    it, never as a secret whose value is the word ``undefined``.
    """

    def get(name: str) -> Optional[str]:
        return env_value(env, name)

    def parse(name: str, default: T, convert: Callable[[str], T], expected: str) -> T:
        raw = get(name)
        if raw is None:
            return default
        try:
            return convert(raw)
        except ValueError:
            pass
        # redact(): a URL setting may carry a password, and errmsg reaches the caller.
        raise Misconfigured(f"{name} must be {expected}, got {redact(raw)!r}", setting=name)

    def choice(name: str, default: str, allowed: Tuple[str, ...]) -> str:
        def convert(raw: str) -> str:
            if raw.lower() not in allowed:
                raise ValueError(raw)
            return raw.lower()

        return parse(name, default, convert, "one of " + ", ".join(allowed))

    appid = get("WXAPUSH_APPID")
    if appid is None:
        raise Misconfigured("WXAPUSH_APPID is not set", setting="WXAPUSH_APPID")
    if any(c.isspace() for c in appid):
        raise Misconfigured("WXAPUSH_APPID must not contain spaces", setting="WXAPUSH_APPID")

    appsecret, ssm = get("WXAPUSH_APPSECRET"), get("WXAPUSH_APPSECRET_SSM")
    if appsecret is None and ssm is None:
        raise Misconfigured(
            "WXAPUSH_APPSECRET is not set (or set WXAPUSH_APPSECRET_SSM to read it from SSM)",
            setting="WXAPUSH_APPSECRET",
        )
    if appsecret is not None and ssm is not None:
        # Two sources for one secret: refuse rather than guess which one is current.
        raise Misconfigured(
            "set only one of WXAPUSH_APPSECRET and WXAPUSH_APPSECRET_SSM",
            setting="WXAPUSH_APPSECRET_SSM",
        )
    if ssm is not None and not _SSM_REF.match(ssm):
        raise Misconfigured(
            "WXAPUSH_APPSECRET_SSM must be a secret name or name@version",
            setting="WXAPUSH_APPSECRET_SSM",
        )

    tz = get("WXAPUSH_TZ") or _SHANGHAI
    if tz != _SHANGHAI:  # the default always loads (see _zone): it waits for its first use
        _checked_zone(tz)

    session_ssm = get("WXAPUSH_SESSION_SECRET_SSM")
    if session_ssm is not None and not _SSM_REF.match(session_ssm):
        raise Misconfigured(
            "WXAPUSH_SESSION_SECRET_SSM must be a secret name or name@version",
            setting="WXAPUSH_SESSION_SECRET_SSM",
        )
    for name in ("WXAPUSH_SESSION_SECRET", "WXAPUSH_SESSION_SECRET_PREVIOUS"):
        value = get(name)
        if value is not None and len(value) < MIN_SESSION_SECRET_LENGTH:
            # Never echo the value: it is a secret.
            raise Misconfigured(
                f"{name} must be at least {MIN_SESSION_SECRET_LENGTH} characters", setting=name
            )

    for name in ("WXAPUSH_ADMIN_KEY", "WXAPUSH_ADMIN_KEY_PREVIOUS"):
        value = get(name)
        if value is not None and len(value) < MIN_ADMIN_KEY_LENGTH:
            # Never echo the value: it is a secret.
            raise Misconfigured(
                f"{name} must be at least {MIN_ADMIN_KEY_LENGTH} characters "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')",
                setting=name,
            )
    if get("WXAPUSH_ADMIN_KEY_PREVIOUS") is not None and get("WXAPUSH_ADMIN_KEY") is None:
        raise Misconfigured(
            "WXAPUSH_ADMIN_KEY_PREVIOUS is set without WXAPUSH_ADMIN_KEY",
            setting="WXAPUSH_ADMIN_KEY",
        )
    if get("WXAPUSH_CALLBACK_TOKEN_PREVIOUS") is not None and get("WXAPUSH_CALLBACK_TOKEN") is None:
        raise Misconfigured(
            "WXAPUSH_CALLBACK_TOKEN_PREVIOUS is set without WXAPUSH_CALLBACK_TOKEN",
            setting="WXAPUSH_CALLBACK_TOKEN",
        )

    for name in ("WXAPUSH_ENCODING_AES_KEY", "WXAPUSH_ENCODING_AES_KEY_PREVIOUS"):
        value = get(name)
        if value is not None and not _AES_KEY.match(value):
            # Never echo the value: it is a secret.
            raise Misconfigured(f"{name} must be 43 characters of a-z, A-Z, 0-9", setting=name)

    default_user_rate: Optional[Tuple[int, float]] = DEFAULT_USER_RATE_LIMIT
    return Settings(
        appid=appid,
        appsecret=appsecret,
        appsecret_ssm=ssm,
        api_base=parse("WXAPUSH_API_BASE", DEFAULT_API_BASE, http_url, "an http(s):// URL"),
        token_mode=choice("WXAPUSH_TOKEN_MODE", "stable", TOKEN_MODES),
        store_url=url_setting(get, "WXAPUSH_STORE", _STORE_SCHEMES),
        callback_token=get("WXAPUSH_CALLBACK_TOKEN"),
        callback_token_previous=get("WXAPUSH_CALLBACK_TOKEN_PREVIOUS"),
        encoding_aes_key=get("WXAPUSH_ENCODING_AES_KEY"),
        encoding_aes_key_previous=get("WXAPUSH_ENCODING_AES_KEY_PREVIOUS"),
        admin_key=get("WXAPUSH_ADMIN_KEY"),
        admin_key_previous=get("WXAPUSH_ADMIN_KEY_PREVIOUS"),
        cache_url=url_setting(get, "WXAPUSH_CACHE", _CACHE_SCHEMES),
        store_ssm=_ssm_ref(get, "WXAPUSH_STORE"),
        cache_ssm=_ssm_ref(get, "WXAPUSH_CACHE"),
        callback_max_age=parse(
            "WXAPUSH_CALLBACK_MAX_AGE", 300, int_at_least(0), "a whole number of seconds"
        ),
        grant_policy=choice("WXAPUSH_GRANT_POLICY", "track", GRANT_POLICIES),
        rate_limit=parse("WXAPUSH_RATE_LIMIT", None, positive_rate, "a number above 0"),
        broadcast_share=parse(
            "WXAPUSH_BROADCAST_SHARE", BROADCAST_SHARE_DEFAULT, share, "a number above 0, at most 1"
        ),
        miniprogram_state=choice("WXAPUSH_MINIPROGRAM_STATE", "formal", MINIPROGRAM_STATES),
        tz=tz,
        log_retention_days=parse(
            "WXAPUSH_LOG_RETENTION_DAYS", 30, int_at_least(1), "a whole number of days (≥ 1)"
        ),
        idempotency_ttl=parse(
            "WXAPUSH_IDEMPOTENCY_TTL", 86400, int_at_least(1), "a whole number of seconds (≥ 1)"
        ),
        session_secret=get("WXAPUSH_SESSION_SECRET"),
        session_secret_previous=get("WXAPUSH_SESSION_SECRET_PREVIOUS"),
        session_secret_ssm=session_ssm,
        session_ttl=parse(
            "WXAPUSH_SESSION_TTL",
            7200,
            int_between(*SESSION_TTL_RANGE),
            "a whole number of seconds from 60 to 2592000",
        ),
        user_cap=parse("WXAPUSH_USER_CAP", None, per_day, "a count per day, e.g. 3/day"),
        quiet_hours=parse(
            "WXAPUSH_QUIET_HOURS", None, hours, "a span of the day, e.g. 22:00-08:00"
        ),
        respect_scope=choice("WXAPUSH_RESPECT_SCOPE", "broadcast", RESPECT_SCOPES),
        migrate=choice("WXAPUSH_MIGRATE", "auto", MIGRATE_MODES),
        user_rate_limit=parse(
            "WXAPUSH_USER_RATE_LIMIT",
            default_user_rate,
            per_period,
            "a count per second, minute or hour (e.g. 5/minute), or off",
        ),
        broadcast_lease=parse(
            "WXAPUSH_BROADCAST_LEASE", 60, int_at_least(1), "a whole number of seconds (≥ 1)"
        ),
    )


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The instance's settings, read from ``os.environ`` once (a failure is not cached)."""
    return load_settings(os.environ)


def reset_settings() -> None:
    """Forget the cached settings (tests, or a changed environment)."""
    get_settings.cache_clear()
