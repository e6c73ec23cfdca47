"""``subscribe/send`` and the two retired template-message APIs."""

from __future__ import annotations

from typing import Any

from wxapush.wechat.keywords import check_data

from .. import ids
from ..call import Call
from ..errors import WeChatError, argument_invalid
from ..models import LONG_TERM, ONE_TIME, Message

MINIPROGRAM_STATES = frozenset({"developer", "trial", "formal"})
LANGS = frozenset({"zh_CN", "en_US", "zh_HK", "zh_TW"})


def _choice(body: dict[str, Any], name: str, allowed: frozenset[str], default: str) -> str:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or value not in allowed:
        raise argument_invalid(name)
    return value


def send(call: Call) -> dict[str, Any]:
    """Accept a subscribe message if the user has a grant left and ``data`` obeys the template.

    Checks in WeChat's order, as real answers show it: body (47001), ``touser`` (40003),
    ``template_id`` (40037; a long-term device template too, those have their own API),
    ``miniprogram_state`` and ``lang`` (47003), ``page`` (41030), grant (43101, answered even
    when ``data`` is a string or breaks a rule), then the keyword rules (47003).
    https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_sendmessage.html
    """
    app = call.caller
    body = call.json_object()
    touser = body.get("touser")
    if not isinstance(touser, str) or touser not in app.openids:
        raise WeChatError(40003)
    template_id = body.get("template_id")
    template = app.templates.get(template_id) if isinstance(template_id, str) else None
    if template is None or template.type == LONG_TERM:
        raise WeChatError(40037)
    state = _choice(body, "miniprogram_state", MINIPROGRAM_STATES, "formal")
    lang = _choice(body, "lang", LANGS, "zh_CN")
    page = body.get("page")
    if page is not None and not isinstance(page, str):
        raise WeChatError(41030)
    key = (touser, template.pri_tmpl_id)
    left = app.grants.get(key, 0)
    if left <= 0:
        raise WeChatError(43101)
    data = body.get("data")
    problem = check_data(data, template.keywords, template.enum_values)
    if problem is not None:
        raise WeChatError(47003, problem.errmsg())
    if template.type == ONE_TIME:
        app.grants[key] = left - 1
    emulator = call.emulator
    now = emulator.clock.now()
    message = Message(
        app.appid, touser, template.pri_tmpl_id, page, data, state, lang, ids.msgid(now), now
    )
    emulator.accept(app, message)
    call.after.append(lambda: emulator.notify(app, message))
    return {"errcode": 0, "errmsg": "ok", "msgid": message.msgid}


def legacy_template_send(call: Call) -> dict[str, Any]:
    """Template messages went offline on 2020-01-10: always 45103.

    https://developers.weixin.qq.com/miniprogram/en/dev/api-backend/open-api/template-message/templateMessage.send.html
    """
    raise WeChatError(45103)


def legacy_uniform_send(call: Call) -> dict[str, Any]:
    """uniformMessage.send was withdrawn on 2023-09-20: always 45109.

    https://developers.weixin.qq.com/community/develop/doc/000ae8d6348af08e7030bc2546bc01
    """
    raise WeChatError(45109)
