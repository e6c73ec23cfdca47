"""broadcast's campaigns of any size: created open, recipients appended in chunks, then started.

A request is bounded (256 KiB over HTTP, about 7,000 openids), a campaign is not (up to
``MAX_RECIPIENTS``). So a large campaign is built in steps, each one request, the whole of it
one ``broadcast_id``:

* create with ``"open": true`` (and a ``broadcast_id``, no recipients) -> ``status: "open"``;
* ``{"action": "append", "broadcast_id", "chunk": n, "recipients": […]}``, n = 0, 1, 2, … —
  at most ``CHUNK_SPAN`` recipients, checked as a create's are; recipient i of chunk n is
  numbered ``n × CHUNK_SPAN + i``, so each chunk has its own place and its own idempotency keys
  (``b:<broadcast_id>:<seq>``). A chunk appended again (a retry after a lost answer) writes
  nothing and answers ``duplicate: true``; another list under a used chunk number is a
  ``conflict``. A repeated openid counts once within a chunk; across chunks the caller keeps
  them apart (``wxapush broadcast --to-file`` does);
* ``{"action": "start", "broadcast_id"}`` -> ``queued``: every recipient at once, to the
  workers. Until then nothing is sent; a repeated start answers the campaign as it stands.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Dict, List

from wxapush.app import App
from wxapush.errors import Conflict, InvalidRequest
from wxapush.services.broadcast_create import (
    MAX_RECIPIENTS,
    _recipients,
    _repeat,
    _validate,
    base_request,
    broadcast_id_of,
    new_campaign,
)
from wxapush.services.fields import pick
from wxapush.services.send import SendRequest
from wxapush.store.base import Campaign, Recipient

#: A chunk's recipients at most, and the span of numbers each chunk owns.
CHUNK_SPAN = 10_000
#: The highest chunk number (its recipients' numbers stay below 10⁹).
MAX_CHUNK = 99_999


def open_campaign(app: App, request: Dict[str, Any]) -> Dict[str, Any]:
    """A campaign with no recipients yet (``"open": true``): idempotent by its broadcast_id."""
    bid = broadcast_id_of(request, required=True) or ""
    if pick(request, "recipients") is not None or pick(request, "audience") is not None:
        raise InvalidRequest(
            'an open campaign takes its recipients by {"action": "append"}: give neither'
            " recipients nor audience",
            broadcast_id=bid,
        )
    base = base_request(app, request)
    _validate(app, base, [Recipient(0, "", None)])
    canonical = json.dumps([base.payload(), "open"], sort_keys=True, ensure_ascii=False)
    request_hash = hashlib.sha256(canonical.encode()).hexdigest()
    campaign = new_campaign(app, bid, base, "open", 0, request_hash, time.time())
    stored, created = app.store.campaigns.create(campaign, [])
    if not created:
        return _repeat(stored, request_hash, bid)
    return {"broadcast_id": bid, "total": 0, "status": "open", "duplicate": False}


def append(app: App, request: Dict[str, Any]) -> Dict[str, Any]:
    """Add chunk ``chunk``'s recipients to an open campaign (see the module docstring)."""
    bid = broadcast_id_of(request, required=True) or ""
    chunk = pick(request, "chunk")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 0 <= chunk <= MAX_CHUNK:
        raise InvalidRequest(f"chunk must be a whole number from 0 to {MAX_CHUNK}")
    listed = pick(request, "recipients")
    if isinstance(listed, list) and len(listed) > CHUNK_SPAN:
        raise InvalidRequest(f"at most {CHUNK_SPAN} recipients per chunk")
    campaign = _campaign(app, bid)
    recipients = [
        Recipient(chunk * CHUNK_SPAN + r.seq, r.touser, r.data) for r in _recipients(request, None)
    ]
    if campaign.total + len(recipients) > MAX_RECIPIENTS:
        raise InvalidRequest(f"at most {MAX_RECIPIENTS} recipients per campaign")
    _validate(app, _base(campaign), recipients)
    status, stored = app.store.campaigns.append(app.settings.appid, bid, recipients, time.time())
    if status is None:
        raise InvalidRequest(f"no broadcast {bid!r}", broadcast_id=bid)
    if status != "open":
        raise Conflict(
            f"broadcast {bid} is {status}: recipients are appended only to an open campaign"
            ' (created with "open": true, before its start)',
            broadcast_id=bid,
        )
    if stored and _rows(stored) != _rows(recipients):
        raise Conflict(
            f"chunk {chunk} of broadcast {bid} was already appended with other recipients",
            broadcast_id=bid,
            chunk=chunk,
        )
    total = _campaign(app, bid).total
    return {
        "broadcast_id": bid,
        "chunk": chunk,
        "appended": len(recipients),
        "total": total,
        "duplicate": bool(stored),
    }


def start(app: App, bid: str) -> Campaign:
    """Queue an open campaign's recipients; the campaign as it stands after."""
    campaign = _campaign(app, bid)
    if campaign.status == "open":
        if campaign.total == 0:
            raise InvalidRequest(
                f"broadcast {bid} has no recipients yet: append some before its start",
                broadcast_id=bid,
            )
        app.store.campaigns.start(app.settings.appid, bid, app.clock())
        campaign = _campaign(app, bid)
    return campaign


def _campaign(app: App, bid: str) -> Campaign:
    campaign = app.store.campaigns.get(app.settings.appid, bid)
    if campaign is None:
        raise InvalidRequest(f"no broadcast {bid!r}", broadcast_id=bid)
    return campaign


def _base(campaign: Campaign) -> SendRequest:
    return SendRequest(
        touser="",
        template_id=campaign.template_id,
        page=campaign.page,
        data=campaign.data,
        miniprogram_state=campaign.miniprogram_state,
        lang=campaign.lang,
        idempotency_key=None,
    )


def _rows(recipients: List[Recipient]) -> List[Any]:
    return [(r.seq, r.touser, r.data) for r in sorted(recipients, key=lambda r: r.seq)]
