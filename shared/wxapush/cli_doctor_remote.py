"""The checks of ``wxapush doctor`` that reach out: WeChat (a token, the send API's quota) and
the store (reachable, its schema, the template registry). Secrets are never printed.
"""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path
from typing import List

from wxapush.cli_doctor import IN_USE, SEND_PATH, SYNC_STALE, Check, deadline
from wxapush.cli_doctor_checks import reason as _reason
from wxapush.config import Settings
from wxapush.errors import redact


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
    from wxapush.errors import Misconfigured
    from wxapush.store.base import SchemaVersionError

    newer = isinstance(error, Misconfigured) and "supported_version" in error.extras
    if newer or isinstance(error, SchemaVersionError):
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
