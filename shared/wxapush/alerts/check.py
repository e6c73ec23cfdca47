"""One look by refresh_code's timer: judge the conditions, post what changed, remember it.

A condition that starts firing is posted once, then again at most once an hour while it fires
(``REMIND_AFTER``); one message says when it clears. A campaign done or cancelled is a one-off
notice. A post the robot refuses is logged (kind, host, the robot's code: never the URL) and
tried again at the next tick; it never fails the timer. Without WXAPUSH_ALERT_WEBHOOK the alerts
are still judged and recorded, for the dashboard.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Mapping, Optional

from wxapush.dates import iso
from wxapush.store.failures import store_failure

from . import conditions, ledger, robots
from .conditions import Observation
from .settings import AlertSettings, alert_settings

log = logging.getLogger(__name__)

REMIND_AFTER = 3600.0
#: The longest look back when the timer has not run for a while (or never ran).
LOOK_BACK_MAX, LOOK_BACK_FIRST = 86400.0, 3600.0
FIRING, CLEARED, NOTICE = "firing", "cleared", "notice"
PREFIX = {FIRING: "【告警 alert】", CLEARED: "【恢复 cleared】", NOTICE: "【通知 notice】"}


def check(
    app: Any,
    steps: Mapping[str, Mapping[str, Any]],
    settings: Optional[AlertSettings] = None,
    now: Optional[float] = None,
) -> Dict[str, Any]:
    """Judge, post and record; returns ``{"posted", "firing", "failed"}`` for the timer's answer."""
    cfg = settings if settings is not None else alert_settings()
    moment = time.time() if now is None else now
    appid = app.settings.appid
    tokens = app.store.tokens
    held = ledger.Held(tokens, appid)
    trouble = False
    try:
        if not held.__enter__():
            return {"posted": 0, "skipped": "another timer is judging the alerts"}
        doc = ledger.load(tokens, appid)
    except Exception as exc:
        if store_failure(exc) is None:
            raise
        trouble, doc = True, ledger.remembered(appid)
    try:
        result = _judge(app, cfg, doc, steps, moment, trouble)
        doc["last_run"] = moment
        ledger.remember(appid, doc)
        if not trouble:
            try:
                ledger.save(tokens, appid, doc, moment)
            except Exception as exc:
                if store_failure(exc) is None:
                    raise
                log.warning("alerts: the state was not saved (%s)", type(exc).__name__)
        return result
    finally:
        try:
            held.__exit__()
        except Exception as exc:  # the lock runs out by itself
            if store_failure(exc) is None:
                raise


def _judge(
    app: Any,
    cfg: AlertSettings,
    doc: Dict[str, Any],
    steps: Mapping[str, Mapping[str, Any]],
    now: float,
    trouble: bool,
) -> Dict[str, Any]:
    last = ledger.last_run(doc)
    since = now - LOOK_BACK_FIRST if last is None else max(last, now - LOOK_BACK_MAX)
    observations = conditions.from_steps(steps)
    notices: List[Observation] = []
    if not trouble:
        try:
            rate = cfg.delivery_rate if app.settings.callback_token else None
            observations += conditions.from_log(app, since, now, rate)
            stalled, notices = conditions.campaigns(app, since, now, doc["watch"])
            observations += stalled
        except Exception as exc:
            if store_failure(exc) is None:
                raise
            trouble = True
    if trouble:
        observations = [o for o in observations if o.name != "store"]
        observations.append(Observation("store", True, "存储不可用 / the store is failing"))
    posted, failed = 0, 0
    unreachable: Optional[robots.Outcome] = None  # one robot that never answered is enough
    for obs in observations + notices:
        state = _transition(doc, obs, now, notice=obs in notices)
        if state is None:
            continue
        if state != "retry":
            doc["history"].append(_entry(obs, state, now))
        outcome = unreachable or _post(app, cfg, obs, FIRING if state == "retry" else state, now)
        if outcome is not None and not outcome.ok and outcome.code is None:
            unreachable = outcome  # the rest wait for the next tick, not the timer's deadline
        if outcome is not None:
            posted += outcome.ok
            failed += not outcome.ok
        entry = doc["firing"].get(obs.name)
        if entry is not None:
            entry["posted_at"] = now if outcome is None or outcome.ok else entry["posted_at"]
            entry["retry"] = outcome is not None and not outcome.ok
    return {"posted": posted, "failed": failed, "firing": sorted(doc["firing"])}


def _transition(doc: Dict[str, Any], obs: Observation, now: float, notice: bool) -> Optional[str]:
    """What to say about ``obs`` now: firing, cleared, notice, retry, or nothing (None)."""
    firing: Dict[str, Any] = doc["firing"]
    entry = firing.get(obs.name)
    if notice:
        return NOTICE
    if entry is not None and entry.get("retry") and obs.firing is not False:
        return "retry"  # the robot did not take it: say it again
    if obs.firing is True:
        if entry is None:
            firing[obs.name] = {"since": now, "posted_at": None, "retry": False}
            return FIRING
        if now - float(entry.get("posted_at") or 0) >= REMIND_AFTER:
            return FIRING
        return None
    if obs.firing is False and entry is not None:
        del firing[obs.name]
        return CLEARED
    return None


def _entry(obs: Observation, state: str, now: float) -> Dict[str, Any]:
    return {
        "at": now,
        "condition": obs.name,
        "state": state,
        "title": obs.title,
        "detail": obs.detail,
    }


def _post(
    app: Any, cfg: AlertSettings, obs: Observation, state: str, now: float
) -> Optional[robots.Outcome]:
    if not cfg.webhook:
        return None
    kind = robots.kind_of(cfg.webhook, cfg.kind)
    title = PREFIX[state] + obs.title
    lines = [obs.detail] if obs.detail else []
    lines.append(f"AppID {app.settings.appid} · {iso(now, app.settings.tzinfo)}")
    body = robots.message(kind, title, "\n".join(lines), obs.name, state)
    outcome = robots.post(cfg.webhook, kind, body)
    if outcome.ok:
        log.info("alert %s %s posted to the %s robot", obs.name, state, kind)
    else:
        log.warning(
            "alert %s %s not taken by the %s robot at %s: code %s %s",
            obs.name,
            state,
            kind,
            robots.where(cfg.webhook),
            outcome.code,
            outcome.detail,
        )
    return outcome
