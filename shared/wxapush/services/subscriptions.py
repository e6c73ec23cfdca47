"""The grant ledger fed by users' subscription choices: WeChat's pushes and the front end's report.

A one-time subscription allows one message, and grants accumulate
(https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/subscribe-message.html).
``accept`` in a popup adds one grant; ``reject`` (popup or change event) and ``ban`` zero the
balance. A front end without a configured message push reports the result of
``wx.requestSubscribeMessage``
(https://developers.weixin.qq.com/miniprogram/dev/api/open-api/subscribe-message/wx.requestSubscribeMessage.html)
with ``send {"action": "record_subscription", "result": {...}}``, for the calling user only.
Under ``WXAPUSH_GRANT_POLICY=off`` nothing is recorded.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Mapping, Optional

from wxapush.app import App, current_app
from wxapush.errors import Forbidden, InvalidRequest, InvalidTemplate, ok
from wxapush.runtime import Invocation
from wxapush.services.fields import pick, text
from wxapush.store.base import GRANT, REVOKE, Change
from wxapush.wechat.events import POPUP, Push

log = logging.getLogger("wxapush.subscriptions")
#: What a status of WeChat's looks like (accept, reject, ban, filter…).
_WORD = re.compile(r"^[a-z_]{1,20}$")

#: Choices that allow one message. The ``…With…`` forms are how ``wx.getSetting`` reports an
#: accept with a voice reminder or an alert; a front end may pass them on.
ACCEPTED = frozenset({"accept", "acceptWithAudio", "acceptWithAlert"})
#: Choices that end every grant the user gave for the template.
REFUSED = frozenset({"reject", "ban"})
#: ``filter``: a same-title template was dropped from the popup; the user chose nothing.
IGNORED = frozenset({"filter"})
#: A popup shows at most 5 templates; twice that leaves room for WeChat to grow.
MAX_TEMPLATES = 10
MAX_TEMPLATE_ID = 128


def apply_choice(app: App, openid: str, template_id: str, status: str, *, popup: bool) -> None:
    """Record one choice in the ledger (a no-op under ``off``, for ``filter`` and unknown values).

    Only a popup's ``accept`` grants: a change event comes from the message card's menu, where
    a user can only unsubscribe.
    """
    if app.settings.grant_policy == "off":
        return
    change = _change(template_id, status, popup=popup)
    if change == REVOKE:
        app.store.grants.revoke(app.settings.appid, openid, template_id)
    elif change == GRANT:
        app.store.grants.grant(app.settings.appid, openid, template_id)


def apply_event(app: App, push: Push, event: str, ttl: float) -> bool:
    """A popup or change event's choices, item by item, recorded once per ``event`` (its key):
    False if a re-push of it was handled already. One round trip on Redis (``ChoiceLedger``)."""
    changes: List[Change] = []
    if app.settings.grant_policy != "off":
        popup = push.event == POPUP
        for choice in push.choices:
            change = _change(choice.template_id, choice.status, popup=popup)
            if change is not None:
                changes.append((choice.template_id, change))
    # Under off the event is still claimed: a re-push is acknowledged as handled either way.
    return app.store.choices.record_once(event, ttl, app.settings.appid, push.from_user, changes)


def _change(template_id: str, status: str, *, popup: bool) -> Optional[str]:
    if status in REFUSED:
        return REVOKE
    if status in ACCEPTED and popup:
        return GRANT
    if status not in ACCEPTED and status not in IGNORED:
        # The status is the caller's text: named only when it reads like one of WeChat's words
        # (a user's text — an openid, say — never reaches the log).
        shown = status if isinstance(status, str) and _WORD.match(status) else "(unrecognised)"
        log.info("subscription status %s for %s ignored", shown, template_id)
    return None


def record(inv: Invocation) -> Dict[str, Any]:
    """``send {"action": "record_subscription", "result": {...}}``: a front end's report.

    ``result`` is ``wx.requestSubscribeMessage``'s success result, ``{"errMsg": …,
    "<template id>": "accept" | "reject" | "ban" | "filter"}``; a failure result (``errCode``)
    records nothing. A user records for itself; a service names the user in ``touser``.
    Everything is checked before the first write.
    """
    app = current_app()
    openid = _whose(inv)
    result = pick(inv.request, "result")
    if not isinstance(result, Mapping):
        raise InvalidRequest("result must be the object wx.requestSubscribeMessage answered")
    if "errCode" in result:
        return ok(touser=openid, recorded={}, balances={}, policy=app.settings.grant_policy)
    choices = _choices(result)
    _check_templates(app, choices)
    for template_id, status in choices.items():
        apply_choice(app, openid, template_id, status, popup=True)
    balances: Dict[str, Optional[int]] = {}
    if app.settings.grant_policy != "off":
        for template_id in choices:
            balances[template_id] = app.store.grants.balance(
                app.settings.appid, openid, template_id
            )
    return ok(touser=openid, recorded=choices, balances=balances, policy=app.settings.grant_policy)


def _whose(inv: Invocation) -> str:
    caller = inv.caller
    touser = text(inv.request, "touser", "toUser")
    if caller.kind == "user":
        # The front end's word counts for its own user only: it is a claim, not WeChat's push.
        if touser is not None and touser != caller.openid:
            raise Forbidden("a mini-program user may record only its own subscriptions")
        return caller.openid or ""
    if caller.kind != "service":
        raise Forbidden("record_subscription is for services and mini-program users")
    if touser is None:
        raise InvalidRequest("touser is required when a service records a subscription")
    return touser


def _choices(result: Mapping[str, Any]) -> Dict[str, str]:
    known = ACCEPTED | REFUSED | IGNORED
    choices: Dict[str, str] = {}
    for key, value in result.items():
        if key == "errMsg":
            continue
        if not _template_id_like(key):
            raise InvalidRequest("result keys must be template ids", field="result")
        if not isinstance(value, str) or value not in known:
            raise InvalidRequest(
                f"result.{key} must be one of {', '.join(sorted(known))}", field=f"result.{key}"
            )
        choices[key] = value
    if len(choices) > MAX_TEMPLATES:
        raise InvalidRequest(f"result names more than {MAX_TEMPLATES} templates", field="result")
    return choices


def _template_id_like(key: Any) -> bool:
    return (
        isinstance(key, str)
        and 0 < len(key) <= MAX_TEMPLATE_ID
        and key.isprintable()
        and not any(c.isspace() for c in key)
    )


def _check_templates(app: App, choices: Mapping[str, str]) -> None:
    # Once refresh_code has synced the registry, a template it does not know is a mistake (or a
    # made-up id): refuse it rather than keep a ledger row nothing can ever use.
    if not choices or app.store.templates.synced_at(app.settings.appid) is None:
        return
    for template_id in choices:
        if app.template(template_id) is None:
            raise InvalidTemplate(
                f"template {template_id} is not one of this app's", field=f"result.{template_id}"
            )
