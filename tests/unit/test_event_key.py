"""receive_event's event key is the same whatever version computed it: a re-push that straddles
a deploy must find the key its first delivery stored."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from wxapush.services.receive_event import event_key
from wxapush.wechat.events import Delivery, Push, SubscriptionChoice


def _as_first_written(appid: str, push: Push) -> str:
    # The key as wxapush has written it since the dedupe began (asdict of each item).
    items = [asdict(c) for c in push.choices] + [asdict(d) for d in push.deliveries]
    canonical = json.dumps(
        [appid, push.event, push.from_user, push.create_time, items], sort_keys=True
    )
    return "wxpush:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_the_key_of_a_popup_and_of_a_delivery_report_is_unchanged() -> None:
    popup = Push(
        "gh_1", "oUser", 1700000000, "event", "subscribe_msg_popup_event",
        choices=(SubscriptionChoice("TPL_A", "accept", "0"), SubscriptionChoice("T:B", "reject")),
    )  # fmt: skip
    sent = Push(
        "gh_1", "oUser", 1700000001, "event", "subscribe_msg_sent_event",
        deliveries=(Delivery("TPL_A", 2**64 - 1, 0, "success"), Delivery("中文", 7, -1, "失败")),
    )  # fmt: skip
    for push in (popup, sent):
        assert event_key("wxApp", push) == _as_first_written("wxApp", push)
    assert event_key("wxApp", popup) != event_key("wxOther", popup)
