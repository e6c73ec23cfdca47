"""The alert conditions: what refresh_code's timer looks at, each judged firing, clear or unknown.

A condition is judged from what happened since the timer's last run (the send log's counts by
errcode, the steps this run took) or, for the delivery rate, over the last hour. ``None`` means
"nothing to judge by" (no sends since the last run): a firing condition then stays firing.
Texts are Chinese first, then English.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from wxapush.errors import STORE_UNAVAILABLE
from wxapush.store.base import LogQuery

#: Accepted records: WeChat took the message (``delivered`` ÷ these is the delivery rate).
ACCEPTED = ("sent", "delivered", "undelivered")
#: How many 45011 answers since the last run are "repeatedly"; how many 40001 a storm.
MINUTE_QUOTA_REPEATED = 3
INVALID_TOKEN_STORM = 5
#: Sends in the hour needed before the delivery rate is judged.
DELIVERY_MIN_SENDS = 20
#: The delivery hour ends this long ago, so the reports of its sends had time to arrive.
DELIVERY_LAG = 300.0
HOUR = 3600.0
#: A campaign with recipients left and no progress for this long is stalled.
STALL_AFTER = 900.0


@dataclass(frozen=True)
class Observation:
    """One condition's judgement: ``firing`` True / False / None (unknown), and its text."""

    name: str
    firing: Optional[bool]
    title: str
    detail: str = ""


def from_steps(steps: Mapping[str, Mapping[str, Any]]) -> List[Observation]:
    """The token fetch, the store and reconciliation, from the steps of this run."""
    token = steps.get("token", {})
    failed = [s for s in steps.values() if not s.get("ok", True)]
    store_down = any(s.get("errcode") == STORE_UNAVAILABLE for s in failed)
    out = [
        Observation(
            "token",
            not token.get("ok", True),
            "获取 access_token 失败 / token fetch failing",
            f"{token.get('error')}: {token.get('errmsg')}" if not token.get("ok", True) else "",
        ),
        Observation(
            "store",
            store_down,
            "存储不可用 / the store is failing",
            "; ".join(
                f"{s.get('errmsg')}" for s in failed if s.get("errcode") == STORE_UNAVAILABLE
            ),
        ),
    ]
    reconcile = steps.get("reconcile", {})
    if reconcile.get("ok"):
        unknown = int(reconcile.get("unknown", 0))
        out.append(
            Observation(
                "unknown",
                unknown > 0,
                "有发送记录结果未知 / records reconciled to unknown",
                f"本次对账 {unknown} 条记为 unknown / {unknown} record(s) marked unknown",
            )
        )
    return out


def from_log(
    app: Any, since: float, now: float, delivery_rate: Optional[float]
) -> List[Observation]:
    """WeChat's quotas and token refusals since the last run, and (``delivery_rate`` set) the
    delivery rate."""
    codes = {code: _count(app, since, now, errcode=code) for code in (45009, 45011, 40001)}
    accepted = sum(_count(app, since, now, status=status) for status in ACCEPTED)
    out = [
        _errcode(
            "quota_daily",
            codes.get(45009, 0),
            1,
            accepted,
            "今日接口调用额度已用尽（45009）/ WeChat's daily quota is spent (45009)",
        ),
        _errcode(
            "quota_minute",
            codes.get(45011, 0),
            MINUTE_QUOTA_REPEATED,
            accepted,
            "频繁触发每分钟调用频率限制（45011）/ the minute quota (45011) hit repeatedly",
        ),
        _errcode(
            "token_invalid",
            codes.get(40001, 0),
            INVALID_TOKEN_STORM,
            accepted,
            "大量 access_token 无效（40001）/ a storm of 40001 (invalid token)",
        ),
    ]
    if delivery_rate is not None:
        out.append(delivery(app, now, delivery_rate))
    return out


def _count(app: Any, since: float, until: float, **match: Any) -> int:
    """Records created in ``[since, until)`` matching ``match`` (exact up to 500)."""
    query = LogQuery(appid=app.settings.appid, since=since, until=until, count=1, **match)
    total: int = app.store.log.query(query).total
    return total


def _errcode(name: str, count: int, at_least: int, accepted: int, title: str) -> Observation:
    firing: Optional[bool] = None
    if count >= at_least:
        firing = True
    elif count == 0 and accepted > 0:  # sends succeed again
        firing = False
    detail = f"自上次检查以来 {count} 次 / {count} since the last check"
    return Observation(name, firing, title, detail)


def delivery(app: Any, now: float, threshold: float) -> Observation:
    """Delivered ÷ accepted over the hour that ended ``DELIVERY_LAG`` ago (push reports set
    ``delivered``; without WXAPUSH_CALLBACK_TOKEN none ever arrive, so it is not judged)."""
    end = now - DELIVERY_LAG
    accepted = sum(_count(app, end - HOUR, end, status=status) for status in ACCEPTED)
    delivered = _count(app, end - HOUR, end, status="delivered")
    firing: Optional[bool] = None
    rate = delivered / accepted if accepted else 0.0
    if accepted >= DELIVERY_MIN_SENDS:
        firing = rate < threshold
    return Observation(
        "delivery",
        firing,
        f"送达率低于 {threshold:.0%} / delivery rate below {threshold:.0%}",
        f"近一小时 {delivered}/{accepted} 送达（{rate:.0%}）/ {delivered} of {accepted} delivered",
    )


def campaigns(
    app: Any, since: float, now: float, watch: Dict[str, Dict[str, float]]
) -> Tuple[List[Observation], List[Observation]]:
    """(stalled observations, one-off notices) of the campaigns seen sending.

    A campaign is watched from its first send seen in the log (the newest records since the
    last run) until it is done or cancelled, which is noticed once. It is stalled when
    recipients are queued (not deferred by quiet hours) and none was settled for
    ``STALL_AFTER`` seconds.
    """
    appid = app.settings.appid
    page = app.store.log.query(LogQuery(appid=appid, since=since, until=now + 1, count=100))
    for record in page.records:
        if record.broadcast_id and record.broadcast_id not in watch:
            watch[record.broadcast_id] = {"settled": -1.0, "at": now}
    stalled: List[Observation] = []
    notices: List[Observation] = []
    for broadcast_id in sorted(watch):
        campaign = app.store.campaigns.get(appid, broadcast_id)
        name = f"campaign:{broadcast_id}"
        counts = app.store.campaigns.counts(appid, broadcast_id) if campaign else {}
        if campaign is None or campaign.status in ("done", "cancelled"):
            del watch[broadcast_id]
            if campaign is not None:
                done = campaign.status == "done"
                title = f"群发{'已完成' if done else '已取消'} / campaign {campaign.status}"
                detail = f"{broadcast_id}: " + ", ".join(
                    f"{k} {v}" for k, v in sorted(counts.items())
                )
                notices.append(Observation(f"{name}:{campaign.status}", True, title, detail))
            title = "群发停滞 / campaign stalled"
            stalled.append(
                Observation(f"{name}:stalled", False, title, f"{broadcast_id}: 已结束 / over")
            )
            continue
        settled = float(sum(v for k, v in counts.items() if k not in ("queued", "deferred")))
        seen = watch[broadcast_id]
        if settled != seen["settled"]:
            seen.update(settled=settled, at=now)
        idle = now - seen["at"]
        stalled.append(
            Observation(
                f"{name}:stalled",
                counts.get("queued", 0) > 0 and idle > STALL_AFTER,
                "群发停滞 / campaign stalled",
                f"{broadcast_id}: {int(idle)} 秒无进展 / no progress for {int(idle)} s",
            )
        )
    return stalled, notices
