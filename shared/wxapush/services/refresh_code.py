"""refresh_code (timer): keep the token ahead of expiry, sync templates, prune old records,
reconcile sends left ``pending`` (``services.reconcile``), then judge and post the alerts
(``wxapush.alerts``).

Each step runs even when another fails (a store that fails is a failed step, by type); the
answer summarises every step. Templates come from
``GET /wxaapi/newtmpl/gettemplate``
(https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_getwxapubnewtemplate.html).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from wxapush import credential_guard
from wxapush.app import App, current_app
from wxapush.errors import Forbidden, UpstreamError, WxapushError, ok
from wxapush.runtime import Invocation
from wxapush.services.dashboard_rollups import roll_up
from wxapush.services.reconcile import reconcile
from wxapush.store.base import TemplateInfo
from wxapush.store.failures import store_failure
from wxapush.wechat.keywords import parse_template_content

log = logging.getLogger(__name__)

TEMPLATES_PATH = "/wxaapi/newtmpl/gettemplate"
DAY = 86400.0


def run(inv: Invocation) -> dict[str, Any]:
    """Run every step; ``errcode`` is 0 only when all of them succeeded."""
    if inv.caller.kind != "service":
        raise Forbidden("refresh_code is for the timer and services only")
    app = current_app()
    steps: dict[str, Callable[[App, float], dict[str, Any]]] = {
        "token": refresh_token,
        "templates": sync_templates,
        "prune": prune,
        "reconcile": reconcile,
        "rollups": roll_up,  # after the steps that change records: counts what they left
    }
    summary: dict[str, Any] = {}
    first_error: WxapushError | None = None
    for name, step in steps.items():
        try:
            summary[name] = dict(ok=True, **step(app, inv.deadline))
        except Exception as exc:
            error = exc if isinstance(exc, WxapushError) else store_failure(exc)
            if error is None:
                raise
            log.warning("refresh_code step %s failed: %s", name, error.slug)
            summary[name] = {"ok": False, "error": error.slug, "errmsg": error.errmsg}
            summary[name]["errcode"] = error.errcode
            first_error = first_error or error
    summary["alerts"] = alerts_step(app, summary)
    if first_error is not None:
        first_error.extras.update(summary)
        raise first_error
    return ok(**summary)


def alerts_step(app: App, steps: dict[str, Any]) -> dict[str, Any]:
    """Judge and post the alerts (``wxapush.alerts``); never fails the timer: a bad alert
    setting is reported in the answer, a robot's refusal in the log."""
    from wxapush.alerts.check import check

    try:
        return dict(ok=True, **check(app, steps))
    except WxapushError as error:
        log.warning("refresh_code alerts failed: %s", error.slug)
        return {"ok": False, "error": error.slug, "errmsg": error.errmsg}


def refresh_token(app: App, deadline: float) -> dict[str, Any]:
    """Fetch a token if the cached one is missing or inside the refresh margin."""
    before = app.store.tokens.get_token(app.tokens.key)
    record = app.tokens.get(deadline=deadline)
    refreshed = before is None or before.token != record.token
    return {"refreshed": refreshed, "expires_in": max(0, int(record.expires_at - time.time()))}


def sync_templates(app: App, deadline: float) -> dict[str, Any]:
    """Replace the registry with the app's templates, so validation knows every keyword."""
    answer = app.client.call("GET", TEMPLATES_PATH, deadline=deadline)
    items = answer.get("data")
    if not isinstance(items, list):
        raise UpstreamError("gettemplate answered without a data list", retryable=True)
    templates = [template_info(item) for item in items if isinstance(item, dict)]
    app.store.templates.replace_templates(app.settings.appid, templates, synced_at=time.time())
    app.forget_templates()
    return {"count": len(templates)}


def template_info(item: dict[str, Any]) -> TemplateInfo:
    """One ``gettemplate`` entry as the registry stores it."""
    enums: dict[str, tuple[str, ...]] = {}
    for entry in item.get("keywordEnumValueList") or []:
        code = str(entry.get("keywordCode", "")).removesuffix(".DATA")
        enums[code] = tuple(str(value) for value in entry.get("enumValueList") or [])
    content = str(item.get("content", ""))
    return TemplateInfo(
        template_id=str(item.get("priTmplId", "")),
        title=str(item.get("title", "")),
        type=int(item.get("type", 2)),
        keywords=tuple(parse_template_content(content)),
        enum_values=enums,
        content=content,
    )


def prune(app: App, deadline: float) -> dict[str, Any]:
    """Forget idempotency keys past their TTL, log records past retention, old event keys,
    the per-user cap's counters of days gone by, ended credential locks and the rate limits'
    buckets at rest."""
    now, settings = time.time(), app.settings
    return {
        "idempotency_keys": app.store.log.expire_idempotency(now - settings.idempotency_ttl),
        "log_records": app.store.log.prune(now - settings.log_retention_days * DAY),
        "event_keys": app.store.events.prune(now),
        "cap_counters": app.store.counters.prune(now),
        "credential_locks": credential_guard.prune(app.store, settings.appid, now),
        "rate_buckets": app.store.limiter.prune(now),
    }
