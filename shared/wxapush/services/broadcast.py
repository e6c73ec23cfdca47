"""broadcast: one message to many users — create, status, cancel, work (services only).

* create — ``{"template_id", "data", "page"?, "miniprogram_state"?, "lang"?, "recipients":
  [openid | {"touser", "data"}…]}`` or ``"audience": {"granted": true}``, optional
  ``broadcast_id`` (idempotent) -> ``broadcast_id``, ``total``, ``status: "queued"``;
* ``{"action": "status", "broadcast_id"}`` -> status, total, counts per outcome, rate, ETA;
* ``{"action": "cancel", "broadcast_id"}`` -> what has not been sent is not sent (an open
  campaign's appended recipients included: it is never started);
* ``{"action": "work"}`` or the timer -> drain the queue until the deadline;
* a campaign of any size: create with ``"open": true``, ``{"action": "append", "broadcast_id",
  "chunk", "recipients"}`` per chunk, then ``{"action": "start", "broadcast_id"}``
  (``broadcast_chunks``).

The campaign lives in the shared store's queue (``Store.campaigns``); see docs/broadcast.md.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from wxapush.app import App, current_app
from wxapush.errors import Conflict, Forbidden, InvalidRequest, ok
from wxapush.invocation import TIMER
from wxapush.runtime import Invocation
from wxapush.services import broadcast_chunks, broadcast_fanout
from wxapush.services.broadcast_create import broadcast_id_of, create
from wxapush.services.broadcast_worker import Worker
from wxapush.services.fields import flag, pick
from wxapush.store.base import CAMPAIGN_STATUSES, OUTCOMES, Campaign, LogQuery

ACTIONS = ("create", "status", "cancel", "work", "append", "start")
#: The largest request a direct call of the entry point may carry (SCF's synchronous Invoke
#: takes 6 MB): about 190,000 openids. Over HTTP the body limit (256 KiB) applies; a campaign
#: larger than one request is appended in chunks (broadcast_chunks).
MAX_REQUEST = 6 * 1024 * 1024
#: Every count a status answer carries, zeros included.
COUNTS = ("queued", "deferred", "sent", "delivered", *[o for o in OUTCOMES if o != "sent"])


def run(inv: Invocation) -> Dict[str, Any]:
    """Dispatch on ``action`` (absent: create; a timer: work)."""
    if inv.caller.kind != "service":
        raise Forbidden("broadcast is for services")
    app = current_app()
    action = "work" if inv.shape == TIMER else pick(inv.request, "action") or "create"
    if action not in ACTIONS:
        raise InvalidRequest(f"action must be one of {', '.join(ACTIONS)}")
    if action == "create" and flag(inv.request, "open"):
        return ok(**broadcast_chunks.open_campaign(app, inv.request))  # recipients by append
    if action == "append":
        return ok(**broadcast_chunks.append(app, inv.request))
    if action == "start":
        fan_out = broadcast_fanout.prepare(inv)
        bid = broadcast_id_of(inv.request, required=True) or ""
        queued = broadcast_chunks.start(app, bid)
        return ok(**status(app, queued), workers_started=fan_out())
    if action == "create":
        fan_out = broadcast_fanout.prepare(inv)  # a bad setting refuses before anything is written
        created = create(app, inv.request, _audience(app, inv.request))
        return ok(**created, workers_started=fan_out())
    if action == "work":
        fan_out = broadcast_fanout.prepare(inv) if inv.shape == TIMER else (lambda: 0)
        started = fan_out()  # first: the other workers drain beside this one
        worker = Worker(app, inv.deadline)
        result = ok(worked=worker.run(), workers_started=started)
        if worker.idle_reason is not None:
            result["warnings"] = [worker.idle_reason]
        return result
    bid = broadcast_id_of(inv.request, required=True) or ""
    campaign = _campaign(app, bid)
    if action == "cancel":
        if not app.store.campaigns.cancel(app.settings.appid, bid, time.time()):
            campaign = _campaign(app, bid)  # over: done, or cancelled (perhaps just now)
            raise Conflict(
                f"群发 {bid} 已结束（{campaign.status}），无法取消 / broadcast {bid} is"
                f" {campaign.status}: only an open, queued or running one can be cancelled",
                broadcast_id=bid,
            )
        campaign = _campaign(app, bid)
    return ok(**status(app, campaign))


def _campaign(app: App, bid: str) -> Campaign:
    campaign = app.store.campaigns.get(app.settings.appid, bid)
    if campaign is None:
        raise InvalidRequest(f"no broadcast {bid!r}", broadcast_id=bid)
    return campaign


def _audience(app: App, request: Dict[str, Any]) -> Optional[List[str]]:
    audience = pick(request, "audience")
    if audience is None:
        return None
    if not isinstance(audience, dict) or set(audience) != {"granted"}:
        raise InvalidRequest('audience must be {"granted": true}')
    if not flag(audience, "granted"):
        raise InvalidRequest('audience must be {"granted": true}')
    template_id = pick(request, "template_id") or pick(request, "templateId")
    if not isinstance(template_id, str) or not template_id:
        raise InvalidRequest("template_id is required")
    return app.store.grants.holders(app.settings.appid, template_id)


def status(app: App, campaign: Campaign) -> Dict[str, Any]:
    """A campaign's progress: counts per outcome, the rate achieved and an ETA."""
    appid, bid = app.settings.appid, campaign.broadcast_id
    stored = app.store.campaigns.counts(appid, bid)
    counts = {name: stored.get(name, 0) for name in COUNTS}
    if campaign.status == "open":  # appended, waiting for the start (staged in the store)
        counts["queued"] = campaign.total
    if campaign.status in CAMPAIGN_STATUSES and stored:
        query = LogQuery(
            appid,
            campaign.created_at - 60,
            4e9,
            status="delivered",
            broadcast_id=bid,
            count=0,
            exact_up_to=campaign.total,  # a campaign's own size: exact, and bounded by it
        )
        counts["delivered"] = app.store.log.query(query).total
    waiting = counts["queued"] + counts["deferred"]
    settled = campaign.total - waiting
    end = campaign.updated_at if campaign.status in ("done", "cancelled") else time.time()
    elapsed = max(end - campaign.created_at, 1e-3)
    rate = settled / elapsed
    eta = None
    if campaign.status in ("queued", "running") and waiting:
        eta = round(waiting / rate, 1) if rate > 0 else None
    return {
        "broadcast_id": bid,
        "status": campaign.status,
        "template_id": campaign.template_id,
        "total": campaign.total,
        "counts": counts,
        "rate": round(rate, 2),
        # open: nothing is sent before the start, so no ETA yet; over: 0
        "eta_seconds": eta if campaign.status in ("queued", "running", "open") else 0,
        "created_at": campaign.created_at,
        "updated_at": campaign.updated_at,
    }
