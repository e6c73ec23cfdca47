"""The checks of ``wxapush doctor`` (:mod:`wxapush.cli_doctor`), one function per line or group.

Each returns :class:`~wxapush.cli_doctor.Check` values and never raises for what it checks: a
failure is a ✘ line naming the setting and what to do. Secrets are never printed.
"""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from wxapush.cli_doctor import (
    ADMIN_KEY_MIN,
    AES_KEY,
    IN_USE,
    PUSH_TOKEN,
    SEND_PATH,
    SESSION_SECRET_MIN,
    SYNC_STALE,
    Check,
    deadline,
    value,
)
from wxapush.config import Settings
from wxapush.errors import WxapushError, redact

GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def admin_key(env: Mapping[str, str]) -> Check:
    key = value(env, "WXAPUSH_ADMIN_KEY")
    if key is None:
        return Check("admin key", True, "not set: HTTP service calls and the dashboard refused")
    if len(key) < ADMIN_KEY_MIN:
        return Check(
            "admin key",
            False,
            f"WXAPUSH_ADMIN_KEY has {len(key)} characters, fewer than {ADMIN_KEY_MIN}",
            f"set WXAPUSH_ADMIN_KEY to ≥ {ADMIN_KEY_MIN} random characters: {GENERATE}",
            "WXAPUSH_ADMIN_KEY",
        )
    return Check("admin key", True, f"{len(key)} characters")


def session_secret(env: Mapping[str, str]) -> Check:
    secret = value(env, "WXAPUSH_SESSION_SECRET")
    if secret is None:
        ssm = value(env, "WXAPUSH_SESSION_SECRET_SSM")
        detail = "read from SSM at login" if ssm else "not set: login and sessions refused"
        return Check("session secret", True, detail)
    if len(secret) < SESSION_SECRET_MIN:
        return Check(
            "session secret",
            False,
            f"WXAPUSH_SESSION_SECRET has {len(secret)} characters, fewer than {SESSION_SECRET_MIN}",
            f"set WXAPUSH_SESSION_SECRET to ≥ {SESSION_SECRET_MIN} random characters: {GENERATE}",
            "WXAPUSH_SESSION_SECRET",
        )
    return Check("session secret", True, f"{len(secret)} characters")


def push_settings(env: Mapping[str, str]) -> List[Check]:
    """The message-push Token and EncodingAESKey, as the mini-program console accepts them."""
    token = value(env, "WXAPUSH_CALLBACK_TOKEN")
    key = value(env, "WXAPUSH_ENCODING_AES_KEY")
    console = "the mini-program console (开发管理 → 消息推送)"
    if token is None and key is None:
        return [Check("push settings", True, "not set: delivery reports (receive_event) off")]
    checks = []
    if token is None or not PUSH_TOKEN.match(token):
        checks.append(
            Check(
                "push Token",
                False,
                "WXAPUSH_CALLBACK_TOKEN is not 3–32 letters or digits",
                f"set WXAPUSH_CALLBACK_TOKEN to the Token of {console}",
                "WXAPUSH_CALLBACK_TOKEN",
            )
        )
    else:
        checks.append(Check("push Token", True, f"{len(token)} letters or digits"))
    for name in ("WXAPUSH_ENCODING_AES_KEY", "WXAPUSH_ENCODING_AES_KEY_PREVIOUS"):
        raw = value(env, name)
        if raw is None and name.endswith("PREVIOUS"):
            continue
        if raw is None or not AES_KEY.match(raw):
            checks.append(
                Check(
                    "EncodingAESKey",
                    False,
                    f"{name} is not 43 letters or digits",
                    f"copy {name} from {console} (43 characters), or unset it for plaintext mode",
                    name,
                )
            )
        else:
            checks.append(Check("EncodingAESKey", True, f"{name}: 43 letters or digits"))
    return checks


def credentials(settings: Settings) -> List[Check]:
    """The AppSecret (from SSM if so configured) and a token fetched from WeChat."""
    from wxapush.wechat.client import Transport

    where = "WXAPUSH_APPSECRET_SSM" if settings.appsecret_ssm else "WXAPUSH_APPSECRET"
    try:
        secret = settings.resolve_appsecret()
    except Exception as error:  # SSM: the SDK's own errors too
        return [
            Check(
                "AppSecret",
                False,
                f"not read: {_reason(error, settings)}",
                "check WXAPUSH_APPSECRET_SSM, WXAPUSH_SSM_REGION and the role's SSM permission",
                where,
            )
        ]
    transport = Transport(settings.api_base)
    body = {"grant_type": "client_credential", "appid": settings.appid, "secret": secret}
    try:
        answer = transport.request("POST", "/cgi-bin/stable_token", deadline=deadline(), json=body)
    except Exception as error:
        return [
            Check(
                "AppID/AppSecret",
                False,
                f"WeChat not reached at {settings.api_base}: {_reason(error, settings)}",
                "check WXAPUSH_API_BASE, the proxy (HTTPS_PROXY) and the function's network",
                "WXAPUSH_API_BASE",
            )
        ]
    finally:
        transport.close()
    errcode = answer.get("errcode", 0)
    if errcode or not answer.get("access_token"):
        return [
            Check(
                "AppID/AppSecret",
                False,
                f"WeChat refused the token request: {errcode} {redact(str(answer.get('errmsg')))}",
                "check WXAPUSH_APPID and the AppSecret in the console (开发管理 → 开发设置), and "
                "the IP allow-list (40164)",
                "WXAPUSH_APPID" if errcode == 40013 else where,
            )
        ]
    # A stable token asked without force_refresh is the current one: nothing is rotated.
    return [Check("AppID/AppSecret", True, f"a token fetched for {settings.appid}")]


def store(settings: Settings) -> List[Check]:
    """The store (and the cache) opened, schema brought to the current version, read back."""
    from wxapush.app import open_shared_store

    names = ["WXAPUSH_STORE"] + (["WXAPUSH_CACHE"] if settings.cache_url else [])
    schema = _schema_before(settings)
    try:
        opened = open_shared_store(settings)
    except Exception as error:
        return [_store_failed(error, settings, names[0])]
    checks: List[Check] = []
    try:
        try:
            opened.templates.synced_at(settings.appid)
            shown = "embedded sqlite" if settings.store_url is None else names[0]
            checks.append(Check("store", True, f"{shown} reachable, {schema}"))
        except Exception as error:
            checks.append(_store_failed(error, settings, "WXAPUSH_STORE"))
        if settings.cache_url:
            try:
                opened.tokens.get_token("wxapush-doctor")
                checks.append(Check("cache", True, "WXAPUSH_CACHE reachable"))
            except Exception as error:
                checks.append(_store_failed(error, settings, "WXAPUSH_CACHE"))
    finally:
        opened.close()
    return checks


def _schema_before(settings: Settings) -> str:
    """What opening the store does to its schema: a sqlite file's version is read first (a SQL
    store's is checked, and migrated under a lock, by opening it)."""
    url = settings.store_url or "sqlite:"
    scheme = url.partition(":")[0].partition("+")[0].lower()
    if scheme in ("redis", "rediss"):
        return "no schema (Redis keys)"
    if scheme != "sqlite":
        from wxapush.store.sql.schema import SCHEMA_VERSION

        return f"schema at version {SCHEMA_VERSION} (created or migrated on open)"
    import sqlite3

    from wxapush.store import sqlite_path
    from wxapush.store.sqlite.database import SCHEMA_VERSION as CURRENT

    path = Path(sqlite_path(url))
    if not path.is_file():
        return f"a new file: schema version {CURRENT} created"
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error:
        return f"schema version {CURRENT}"
    if version < CURRENT:
        return f"schema migrated from version {version} to {CURRENT}"
    return f"schema version {version}"


def _store_failed(error: BaseException, settings: Settings, name: str) -> Check:
    from wxapush.store.base import SchemaVersionError

    if isinstance(error, SchemaVersionError):
        fix = "this wxapush is older than the database: deploy the newer layer"
    else:
        fix = f"check {name}: host, port, password, and that the functions' network reaches it"
    return Check(
        "store" if name == "WXAPUSH_STORE" else "cache", False, _reason(error, settings), fix, name
    )


def rate_limit(settings: Settings) -> List[Check]:
    """WXAPUSH_RATE_LIMIT against the send API's quota (getApiQuota)."""
    if settings.rate_limit is None:
        return [Check("rate limit", True, "not set: sends are not paced (WeChat's 45011 is)")]
    from wxapush.app import App

    try:
        app = App.build(settings)
        try:
            answer = app.client.call(
                "POST",
                "/cgi-bin/openapi/quota/get",
                deadline=deadline(),
                json={"cgi_path": SEND_PATH},
            )
        finally:
            app.close()
    except Exception as error:
        return [
            Check(
                "rate limit",
                True,
                f"{settings.rate_limit:g}/s (quota not read: {_reason(error, settings)})",
            )
        ]
    rate = answer.get("rate_limit") or {}
    count, seconds = rate.get("call_count"), rate.get("refresh_second")
    daily = (answer.get("quota") or {}).get("daily_limit")
    if isinstance(count, int) and isinstance(seconds, int) and seconds > 0:
        allowed = count / seconds
        if settings.rate_limit > allowed:
            return [
                Check(
                    "rate limit",
                    False,
                    f"WXAPUSH_RATE_LIMIT {settings.rate_limit:g}/s is above WeChat's "
                    f"{count} per {seconds} s",
                    f"set WXAPUSH_RATE_LIMIT ≤ {allowed:g}",
                    "WXAPUSH_RATE_LIMIT",
                )
            ]
    return [
        Check(
            "rate limit", True, f"{settings.rate_limit:g}/s within WeChat's quota (daily {daily})"
        )
    ]


def templates(settings: Settings) -> List[Check]:
    """The registry synced lately, and every template sent within IN_USE in it."""
    from wxapush.app import open_shared_store

    try:
        opened = open_shared_store(settings)
    except Exception:
        return []  # the store's own line says why
    try:
        synced = opened.templates.synced_at(settings.appid)
        now = time.time()
        if synced is None or now - synced > SYNC_STALE:
            when = "never" if synced is None else f"{int((now - synced) // 3600)} h ago"
            return [
                Check(
                    "templates",
                    False,
                    f"the template registry was synced {when}",
                    "run refresh_code (`wxapush invoke refresh_code`) and check its timer",
                )
            ]
        known = {t.template_id for t in opened.templates.list_templates(settings.appid)}
        step = 900  # summaries count in quarter hours
        end = (int(now) // step + 1) * step
        used = opened.log.summarize(settings.appid, [float(end - IN_USE), float(end)]).templates
        missing = sorted(set(used) - known)
        if missing:
            return [
                Check(
                    "templates",
                    False,
                    f"{len(missing)} template(s) in use are not in the registry: "
                    + ", ".join(missing[:5]),
                    "add them in the console (订阅消息 → 我的模板), then run refresh_code",
                )
            ]
        return [Check("templates", True, f"{len(known)} synced; every template in use present")]
    except Exception as error:
        return [Check("templates", False, _reason(error, settings), "see the store's line")]
    finally:
        opened.close()


def webhook(env: Mapping[str, str], post: bool) -> Check:
    """WXAPUSH_ALERT_WEBHOOK: a test message posted (or the URL judged only, ``post`` False)."""
    from wxapush.alerts import robots
    from wxapush.alerts.settings import alert_settings

    try:
        cfg = alert_settings(env)
    except WxapushError as error:
        return Check(
            "alert webhook",
            False,
            error.errmsg,
            "fix the setting named",
            error.extras.get("setting"),
        )
    if not cfg.webhook:
        return Check("alert webhook", True, "not set: alerts are on the dashboard only")
    kind = robots.kind_of(cfg.webhook, cfg.kind)
    if not post:
        return Check(
            "alert webhook", True, f"{kind} robot at {robots.where(cfg.webhook)} (not posted)"
        )
    body = robots.message(
        kind,
        "wxapush doctor：测试消息 / test message",
        "告警通道正常 / the alert channel works",
        "doctor",
        "notice",
    )
    outcome = robots.post(cfg.webhook, kind, body)
    if outcome.ok:
        return Check(
            "alert webhook",
            True,
            f"the {kind} robot at {robots.where(cfg.webhook)} took a test message",
        )
    return Check(
        "alert webhook",
        False,
        f"the {kind} robot at {robots.where(cfg.webhook)} refused: {outcome.code} {outcome.detail}",
        "check WXAPUSH_ALERT_WEBHOOK (the robot's key, its keyword or signature settings) "
        "and WXAPUSH_ALERT_KIND",
        "WXAPUSH_ALERT_WEBHOOK",
    )


def descriptors(env: Mapping[str, str], folder: Path) -> List[Check]:
    """serverless.yml: timeouts above their margins, the broadcast lease above its timeout, a
    refresh_code timer enabled, literal values equal to the environment's."""
    from wxapush.services.broadcast_worker import MARGIN

    path = folder / "serverless.yml"
    if not path.is_file():
        return [Check("descriptors", True, f"no serverless.yml in {folder}: not checked")]
    try:
        import yaml

        inputs: Dict[str, Any] = (yaml.safe_load(path.read_text(encoding="utf-8")) or {})["inputs"]
    except Exception as error:
        return [
            Check(
                "descriptors",
                False,
                f"{path.name} unreadable: {type(error).__name__}",
                "fix the YAML",
            )
        ]
    problems: List[str] = []
    default = inputs.get("timeout", 3)
    functions: Dict[str, Any] = inputs.get("functions") or {}
    timeouts = {name: (spec or {}).get("timeout", default) for name, spec in functions.items()}
    for name, seconds in sorted(timeouts.items()):
        if not isinstance(seconds, (int, float)) or seconds <= MARGIN:
            problems.append(f"{name}'s timeout {seconds} is not above its margin of {MARGIN:g} s")
    environment = {e.get("key"): e.get("value") for e in inputs.get("environments") or []}
    lease_raw = value(env, "WXAPUSH_BROADCAST_LEASE") or environment.get("WXAPUSH_BROADCAST_LEASE")
    lease = float(lease_raw) if lease_raw and str(lease_raw).replace(".", "", 1).isdigit() else 60.0
    broadcast = timeouts.get("broadcast")
    if isinstance(broadcast, (int, float)) and broadcast >= lease:
        problems.append(
            f"broadcast's timeout {broadcast} s is not below WXAPUSH_BROADCAST_LEASE {lease:g} s"
        )
    triggers = inputs.get("triggers") or []
    if not any(
        t.get("type") == "timer"
        and t.get("function") == "refresh_code"
        and (t.get("parameters") or {}).get("enable")
        for t in triggers
    ):
        problems.append("no enabled timer trigger runs refresh_code")
    local = _is_local(value(env, "WXAPUSH_API_BASE"))  # wxapush dev: wxemu's base, by design
    for key, literal in sorted(environment.items()):
        if local or not isinstance(literal, str) or "${" in literal or not key:
            continue
        mine = value(env, key)
        if mine is not None and mine != literal:
            problems.append(f"{key} is {literal!r} in serverless.yml but {mine!r} here")
    if problems:
        return [
            Check(
                "descriptors", False, problem, "edit serverless.yml (and cloudbaserc.json) to agree"
            )
            for problem in problems
        ]
    return [Check("descriptors", True, f"{path.name}: {len(timeouts)} functions consistent")]


def _is_local(url: Optional[str]) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url or "").hostname or "") in ("127.0.0.1", "localhost", "::1")


def _reason(error: BaseException, settings: Settings) -> str:
    """An error in a few words, with every secret masked."""
    if isinstance(error, WxapushError):
        text = f"{error.slug}: {error.errmsg}"
    else:
        text = f"{type(error).__name__}: {error}"
    return redact(text, *settings.secrets())[:300]
