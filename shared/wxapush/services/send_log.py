"""send_log: the durable record of messages, newest first, confined to the caller's own."""

from __future__ import annotations

from datetime import date, timedelta, tzinfo
from typing import Any

from wxapush.app import current_app
from wxapush.dates import iso, start_of
from wxapush.errors import Forbidden, InvalidRequest, ok
from wxapush.runtime import Invocation
from wxapush.services.fields import integer, text
from wxapush.store.base import STATUSES, LogQuery, LogRecord

MAX_COUNT = 100
DEFAULT_COUNT = 20


def run(inv: Invocation) -> dict[str, Any]:
    """Query the send log: ``begin_date``..``end_date`` inclusive, in ``WXAPUSH_TZ``."""
    app = current_app()
    request, caller = inv.request, inv.caller
    tz = app.settings.tzinfo
    begin = _date(request, "begin_date", "beginDate")
    end = _date(request, "end_date", "endDate")
    if end < begin:
        raise InvalidRequest("end_date is before begin_date")
    touser = text(request, "touser", "toUser")
    if caller.kind == "user":
        if touser is not None and touser != caller.openid:
            raise Forbidden("a mini-program user may read only its own messages")
        touser = caller.openid
    elif caller.kind != "service":
        raise Forbidden("send_log is for services and mini-program users")
    status = text(request, "status")
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
    query = LogQuery(
        appid=app.settings.appid,
        since=start_of(begin, tz),
        until=start_of(end + timedelta(days=1), tz),
        touser=touser,
        template_id=text(request, "template_id", "templateId"),
        status=status,
        broadcast_id=text(request, "broadcast_id", "broadcastId"),
        offset=integer(request, "offset", default=0, low=0),
        count=integer(request, "count", default=DEFAULT_COUNT, low=1, high=MAX_COUNT),
    )
    total, records = app.store.log.query(query)
    return ok(total=total, list=[render(record, tz) for record in records])


def render(record: LogRecord, tz: tzinfo) -> dict[str, Any]:
    """One record as send_log answers it: times in ISO 8601 in ``WXAPUSH_TZ``."""
    return {
        "log_id": record.log_id,
        "touser": record.touser,
        "template_id": record.template_id,
        "page": record.page,
        "data": record.data,
        "status": record.status,
        "errcode": record.errcode,
        "errmsg": record.errmsg,
        "msgid": record.msgid,
        "attempts": record.attempts,
        "idempotency_key": record.idempotency_key,
        "broadcast_id": record.broadcast_id,
        "created_at": iso(record.created_at, tz),
        "updated_at": iso(record.updated_at, tz),
    }


def _date(request: dict[str, Any], *names: str) -> date:
    value = text(request, *names, required=True) or ""
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise InvalidRequest(f"{names[0]} must be a date written YYYY-MM-DD")
