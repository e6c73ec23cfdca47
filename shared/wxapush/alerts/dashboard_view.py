"""The dashboard's list of the period's alerts (``…/api/alerts``), newest first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Dict, Mapping

from wxapush.dates import iso, start_of
from wxapush.errors import ok

from . import ledger


def alerts(app: Any, request: Mapping[str, Any]) -> Dict[str, Any]:
    """The alerts recorded between ``begin_date`` and ``end_date`` (the summary's period)."""
    from wxapush.services.dashboard_data import period

    tz = app.settings.tzinfo
    begin, end = period(request, tz)
    since, until = start_of(begin, tz), start_of(end + timedelta(days=1), tz)
    found = ledger.alerts_between(app.store.tokens, app.settings.appid, since, until)
    return ok(
        begin_date=begin.isoformat(),
        end_date=end.isoformat(),
        alerts=[dict(entry, time=iso(float(entry["at"]), tz)) for entry in found],
    )
