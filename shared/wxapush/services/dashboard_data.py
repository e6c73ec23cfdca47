"""The dashboard's figures and tables: a period in ``WXAPUSH_TZ``, summarized by the store.

Every figure comes from ``SendLog.summarize`` (aggregate queries, or counters on Redis) and every
table from ``SendLog.query`` (one page): nothing here loads the log into Python.
"""

from __future__ import annotations

from datetime import date, timedelta, tzinfo
from typing import Any, Dict, List, Mapping, Optional, Tuple

from wxapush.app import App
from wxapush.dates import start_of, today
from wxapush.errors import InvalidRequest, ok
from wxapush.services.dashboard_errcodes import meaning
from wxapush.services.fields import integer, text
from wxapush.services.send_log import render
from wxapush.store.base import STATUSES, LogQuery, LogSummary

#: Days shown when the request names none: the last week, today included.
DEFAULT_DAYS = 7
MAX_DAYS = 366
PAGE_SIZE = 20
MAX_PAGE = 100
TOP_ERRCODES = 10
#: Accepted by WeChat: what "sent" means in the delivery rate (delivered ÷ sent).
ACCEPTED = ("sent", "delivered", "undelivered")
#: Refused: by WeChat (failed) or before it was asked (rejected).
REFUSED = ("failed", "rejected")


def period(request: Mapping[str, Any], tz: tzinfo) -> Tuple[date, date]:
    """``begin_date``..``end_date`` (inclusive, ``YYYY-MM-DD``); by default the last 7 days."""
    end = _date(request, "end_date") or today(tz)
    begin = _date(request, "begin_date") or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < begin:
        raise InvalidRequest("end_date is before begin_date")
    if (end - begin).days + 1 > MAX_DAYS:
        raise InvalidRequest(f"a period is at most {MAX_DAYS} days")
    return begin, end


def summary(app: App, request: Mapping[str, Any]) -> Dict[str, Any]:
    """Per day and per status, the top errcodes and the per-template figures of a period."""
    tz = app.settings.tzinfo
    begin, end = period(request, tz)
    days = [begin + timedelta(days=i) for i in range((end - begin).days + 1)]
    bounds = [start_of(day, tz) for day in [*days, end + timedelta(days=1)]]
    appid = app.settings.appid
    counts = app.store.log.summarize(appid, bounds)
    titles = {t.template_id: t.title for t in app.store.templates.list_templates(appid)}
    totals = {status: 0 for status in STATUSES}
    per_day = []
    for day, by_status in zip(days, counts.periods):
        for status, n in by_status.items():
            totals[status] = totals.get(status, 0) + n
        per_day.append({"date": day.isoformat(), "counts": dict(by_status), **_rate(by_status)})
    return ok(
        begin_date=begin.isoformat(),
        end_date=end.isoformat(),
        tz=str(tz),
        statuses=list(totals),
        totals=totals,
        rate=_rate(totals),
        days=per_day,
        errcodes=_top_errcodes(counts),
        templates=_templates(counts, titles),
    )


def log_page(app: App, request: Mapping[str, Any]) -> Dict[str, Any]:
    """One page of the send log, newest first, filtered by status, template, openid and dates."""
    tz = app.settings.tzinfo
    begin, end = period(request, tz)
    status = text(request, "status")
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
    query = LogQuery(
        appid=app.settings.appid,
        since=start_of(begin, tz),
        until=start_of(end + timedelta(days=1), tz),
        touser=text(request, "touser", "openid"),
        template_id=text(request, "template_id"),
        status=status,
        errcode=_errcode(request),
        offset=integer(request, "offset", default=0, low=0),
        count=integer(request, "count", default=PAGE_SIZE, low=1, high=MAX_PAGE),
    )
    page = app.store.log.query(query)
    rows = [render(record, tz) for record in page.records]
    return ok(
        begin_date=begin.isoformat(),
        end_date=end.isoformat(),
        total=page.total,
        total_exact=page.total_exact,
        offset=query.offset,
        count=query.count,
        list=rows,
    )


def user_history(app: App, request: Mapping[str, Any]) -> Dict[str, Any]:
    """A user's messages (one page) and grant balances, by openid."""
    openid = text(request, "openid", "touser", required=True) or ""
    page = log_page(app, {**request, "touser": openid, "openid": openid})
    appid = app.settings.appid
    grants = []
    for template in app.store.templates.list_templates(appid):
        left = app.store.grants.balance(appid, openid, template.template_id)
        if left is not None:
            grants.append(
                {"template_id": template.template_id, "title": template.title, "balance": left}
            )
    page["openid"] = openid
    page["grants"] = grants
    return page


def _rate(by_status: Mapping[str, int]) -> Dict[str, Optional[float]]:
    accepted = sum(by_status.get(s, 0) for s in ACCEPTED)
    delivered = by_status.get("delivered", 0)
    return {
        "sent": accepted,
        "delivered": delivered,
        "delivery_rate": round(delivered / accepted, 4) if accepted else None,
    }


def _top_errcodes(counts: LogSummary) -> List[Dict[str, Any]]:
    by_code: Dict[int, Dict[str, int]] = {}
    for (_, status, errcode), n in counts.errcodes.items():
        statuses = by_code.setdefault(errcode, {})
        statuses[status] = statuses.get(status, 0) + n
    ranked = sorted(by_code.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return [
        {"errcode": code, "count": sum(st.values()), "statuses": st, "meaning": meaning(code)}
        for code, st in ranked[:TOP_ERRCODES]
    ]


def _templates(counts: LogSummary, titles: Mapping[str, str]) -> List[Dict[str, Any]]:
    refusals: Dict[str, Dict[int, int]] = {}
    for (template_id, status, errcode), n in counts.errcodes.items():
        if status in REFUSED:
            codes = refusals.setdefault(template_id, {})
            codes[errcode] = codes.get(errcode, 0) + n
    rows = []
    for template_id, by_status in counts.templates.items():
        codes = refusals.get(template_id, {})
        top = min(codes.items(), key=lambda item: (-item[1], item[0])) if codes else None
        rows.append(
            {
                "template_id": template_id,
                "title": titles.get(template_id),
                "total": sum(by_status.values()),
                "sent": sum(by_status.get(s, 0) for s in ACCEPTED),
                "delivered": by_status.get("delivered", 0),
                "refused": sum(by_status.get(s, 0) for s in REFUSED),
                "top_refusal": None
                if top is None
                else {"errcode": top[0], "count": top[1], "meaning": meaning(top[0])},
            }
        )
    return sorted(rows, key=lambda row: (-row["total"], row["template_id"]))


def _date(request: Mapping[str, Any], name: str) -> Optional[date]:
    value = text(request, name)
    if value is None:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise InvalidRequest(f"{name} must be a date written YYYY-MM-DD")


def _errcode(request: Mapping[str, Any]) -> Optional[int]:
    value = text(request, "errcode", limit=12)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest("errcode must be an integer") from None
