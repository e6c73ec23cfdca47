"""broadcast's create: a campaign checked whole before anything is queued.

Every recipient is validated up front — the keyword rules once per distinct data (the campaign's
``data`` merged with the recipient's own), so a bad value is refused before the first message
leaves, naming the recipient.

A create is idempotent: a client-chosen ``broadcast_id`` names the campaign; without one, the id
is derived from the request itself (``auto.<digest>``), so a create retried after its reply was
lost (990503 with the campaign already committed) answers the campaign it made instead of
queueing every message twice. The same request again once that campaign is over and older than
``WXAPUSH_IDEMPOTENCY_TTL`` is a new campaign (``auto.<digest>.2``, …).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any, Dict, List, Optional, Tuple

from wxapush import limits
from wxapush.app import App
from wxapush.errors import Conflict, InvalidRequest, WxapushError
from wxapush.services.fields import pick, text
from wxapush.services.send import MAX_PAGE, SendRequest
from wxapush.services.validation import validate_send
from wxapush.store.base import Campaign, Recipient

#: A campaign's id: it becomes part of store keys and of each recipient's idempotency key.
BROADCAST_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_RECIPIENTS = 1_000_000


def wrap(data: Dict[str, Any]) -> Dict[str, Any]:
    """Data items as WeChat takes them: ``{"thing1": {"value": …}}``."""
    return {k: v if isinstance(v, dict) else {"value": v} for k, v in data.items()}


def merged(campaign_data: Dict[str, Any], own: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """A recipient's data: the campaign's, with the recipient's own values over it."""
    return campaign_data if not own else {**campaign_data, **own}


def broadcast_id_of(request: Dict[str, Any], required: bool = False) -> Optional[str]:
    value = text(request, "broadcast_id", "broadcastId", required=required)
    if value is not None and not BROADCAST_ID.fullmatch(value):
        raise InvalidRequest("broadcast_id must be 1-64 characters of A-Z a-z 0-9 _ . -")
    return value


def create(app: App, request: Dict[str, Any], audience: Optional[List[str]]) -> Dict[str, Any]:
    """Queue the campaign ``request`` describes; ``audience``: the granted users, if asked."""
    bid = broadcast_id_of(request)
    base = base_request(app, request)
    granted = audience is not None
    if bid is not None:
        # A repeat is answered before the audience is read again: the granted users change as
        # the campaign sends (each send uses a grant), the request does not.
        existing = app.store.campaigns.get(app.settings.appid, bid)
        if existing is not None and granted:
            return _repeat(existing, _hash(base, None), bid)
    recipients = _recipients(request, audience)
    _validate(app, base, recipients)
    now = time.time()
    request_hash = _hash(base, None if granted else recipients)
    if bid is None:
        bid, repeated = _derived_id(app, request_hash, now)
        if repeated is not None:
            return _repeat(repeated, request_hash, bid)
    campaign = new_campaign(app, bid, base, "queued", len(recipients), request_hash, now)
    stored, created = app.store.campaigns.create(campaign, recipients)
    if not created:
        return _repeat(stored, campaign.request_hash, bid)
    return {"broadcast_id": bid, "total": stored.total, "status": stored.status, "duplicate": False}


def new_campaign(
    app: App, bid: str, base: SendRequest, status: str, total: int, request_hash: str, now: float
) -> Campaign:
    """The record of a campaign of ``base``'s message: ``queued`` with its recipients, or
    ``open`` to take them in chunks."""
    return Campaign(
        broadcast_id=bid,
        appid=app.settings.appid,
        template_id=base.template_id,
        page=base.page,
        data=base.data,
        miniprogram_state=base.miniprogram_state,
        lang=base.lang,
        status=status,
        total=total,
        created_at=now,
        updated_at=now,
        request_hash=request_hash,
    )


def base_request(app: App, request: Dict[str, Any]) -> SendRequest:
    """The campaign's message, every recipient's send before its own ``touser`` and data."""
    data = pick(request, "data")
    if not isinstance(data, dict) or not data:
        raise InvalidRequest('data is required: the template\'s values, e.g. {"thing1": "…"}')
    return SendRequest(
        touser="",
        template_id=text(request, "template_id", "templateId", required=True) or "",
        page=text(request, "page", limit=MAX_PAGE),
        data=wrap(data),
        miniprogram_state=text(request, "miniprogram_state", "miniprogramState")
        or app.settings.miniprogram_state,
        lang=text(request, "lang") or "zh_CN",
        idempotency_key=None,
    )


#: How many campaigns of one request (each over and past the TTL) a derived id walks past.
MAX_GENERATIONS = 1000


def _derived_id(app: App, request_hash: str, now: float) -> Tuple[str, Optional[Campaign]]:
    """The id of a create without ``broadcast_id``, from the request's identity: the campaign
    this request already made, if it is still running or younger than the idempotency TTL
    (then it is returned too), else the next free generation."""
    stem = "auto." + request_hash[:32]
    for generation in range(1, MAX_GENERATIONS + 1):
        bid = stem if generation == 1 else f"{stem}.{generation}"
        found = app.store.campaigns.get(app.settings.appid, bid)
        if found is None:
            return bid, None
        over = found.status in ("done", "cancelled")
        if found.request_hash == request_hash and not (
            over and now - found.created_at > app.settings.idempotency_ttl
        ):
            return bid, found
    raise Conflict(f"this request was already queued {MAX_GENERATIONS} times; give a broadcast_id")


def _repeat(stored: Campaign, request_hash: str, bid: str) -> Dict[str, Any]:
    """A create with a known broadcast_id: the campaign as it stands, or a conflict."""
    if stored.request_hash != request_hash:
        raise Conflict(
            f"broadcast_id {bid!r} was already used for another campaign", broadcast_id=bid
        )
    return {"broadcast_id": bid, "total": stored.total, "status": stored.status, "duplicate": True}


def _recipients(request: Dict[str, Any], audience: Optional[List[str]]) -> List[Recipient]:
    listed = pick(request, "recipients")
    if (listed is None) == (audience is None):
        raise InvalidRequest('give either recipients or audience: {"granted": true}')
    if audience is not None:
        entries: List[Any] = list(audience)
    elif not isinstance(listed, list):
        raise InvalidRequest("recipients must be a list of openids or {touser, data} objects")
    else:
        entries = listed
    if not entries:
        raise InvalidRequest("the campaign has no recipients")
    if len(entries) > MAX_RECIPIENTS:
        raise InvalidRequest(f"at most {MAX_RECIPIENTS} recipients per campaign")
    seen: Dict[str, Recipient] = {}
    for index, entry in enumerate(entries):
        touser, own = _entry(entry, index)
        if touser not in seen:  # a duplicate counts once: its first occurrence
            seen[touser] = Recipient(len(seen), touser, own)
    return list(seen.values())


def _entry(entry: Any, index: int) -> Tuple[str, Optional[Dict[str, Any]]]:
    where = f"recipients[{index}]"
    if isinstance(entry, str):
        entry = {"touser": entry}
    if not isinstance(entry, dict):
        raise InvalidRequest(f"{where} must be an openid or a {{touser, data}} object")
    unknown = sorted(set(entry) - {"touser", "toUser", "data"})
    if unknown:
        raise InvalidRequest(f"{where} has an unknown field {unknown[0]!r}")
    try:
        touser = text(entry, "touser", "toUser", required=True) or ""
    except InvalidRequest as error:
        raise InvalidRequest(f"{where}.{error.errmsg}") from None
    own = entry.get("data")
    if own is not None and not isinstance(own, dict):
        raise InvalidRequest(f"{where}.data must be an object")
    if own:
        limits.check_send_data(own)
    return touser, wrap(own) if own else None


def _validate(app: App, base: SendRequest, recipients: List[Recipient]) -> None:
    template = app.template(base.template_id)
    checked: Dict[str, None] = {}
    for recipient in recipients:
        key = json.dumps(recipient.data, sort_keys=True, ensure_ascii=False)
        if key in checked:
            continue
        checked[key] = None
        req = SendRequest(**{**base.__dict__, "data": merged(base.data, recipient.data)})
        try:
            validate_send(req, template)
        except WxapushError as error:
            error.extras["recipient"] = recipient.touser
            raise


def _hash(base: SendRequest, recipients: Optional[List[Recipient]]) -> str:
    """The request's identity: its payload and recipients (None: the granted audience)."""
    audience: Any = (
        {"granted": True} if recipients is None else [[r.touser, r.data] for r in recipients]
    )
    canonical = json.dumps(
        [base.payload(), audience],
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
