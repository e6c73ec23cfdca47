"""send_log: the durable record of messages, newest first, confined to the caller's own."""

from __future__ import annotations

import contextlib
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
#: The deepest page a query may ask for (every store's OFFSET takes it; nobody reads further).
MAX_OFFSET = 1_000_000
#: Dates outside these years are refused: every day boundary must be a representable instant.
MIN_YEAR, MAX_YEAR = 1970, 9998


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
        offset=integer(request, "offset", default=0, low=0, high=MAX_OFFSET),
        count=integer(request, "count", default=DEFAULT_COUNT, low=1, high=MAX_COUNT),
    )
    page = app.store.log.query(query)
    return ok(
        total=page.total,
        total_exact=page.total_exact,
        list=[render(record, tz) for record in page.records],
    )


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
    day = None
    if len(value) == 10 and value.isascii():  # fromisoformat takes other digits on some Pythons
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(value)
    if day is None:
        raise InvalidRequest(f"{names[0]} must be a date written YYYY-MM-DD")
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise InvalidRequest(f"{names[0]} must be between {MIN_YEAR} and {MAX_YEAR}")
    return day
