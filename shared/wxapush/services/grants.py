"""The grant ledger's part in a send, by ``WXAPUSH_GRANT_POLICY``.

``track`` records grants and uses but lets WeChat decide; ``enforce`` refuses locally when the
ledger holds no grant (no call to WeChat); ``off`` ignores the ledger. One-time grants are used
one per message; long-term templates (type 3) keep sending once granted
(https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/subscribe-message.html).
"""

from __future__ import annotations

from typing import Optional

from wxapush.app import App
from wxapush.errors import NotSubscribed, OutcomeUnknown, WxapushError
from wxapush.store.base import GrantKey, TemplateInfo

NOT_SUBSCRIBED = 43101


def _one_time(template: Optional[TemplateInfo]) -> bool:
    # A template the registry does not know yet is treated as one-time, the common case.
    return template is None or template.type != 3


def before_send(app: App, openid: str, template_id: str, template: Optional[TemplateInfo]) -> None:
    """Under ``enforce``, take one grant or refuse with ``not_subscribed``."""
    if app.settings.grant_policy != "enforce" or not _one_time(template):
        return
    if not app.store.grants.consume(app.settings.appid, openid, template_id):
        raise NotSubscribed("no subscription grant left for this user and template")


def used_by_success(
    app: App, openid: str, template_id: str, template: Optional[TemplateInfo]
) -> Optional[GrantKey]:
    """Under ``track``, the grant a one-time message WeChat accepted used (else None).

    The send path passes it to ``SendLog.update`` with the outcome: one write, not two.
    """
    if app.settings.grant_policy == "track" and _one_time(template):
        return GrantKey(app.settings.appid, openid, template_id)
    return None


def after_failure(
    app: App,
    openid: str,
    template_id: str,
    template: Optional[TemplateInfo],
    error: WxapushError,
) -> None:
    """43101 means WeChat holds no grant; any other refusal gives back the grant taken."""
    policy, appid = app.settings.grant_policy, app.settings.appid
    if policy == "off":
        return
    if error.errcode == NOT_SUBSCRIBED:
        app.store.grants.revoke(appid, openid, template_id)
    elif policy == "enforce" and _one_time(template) and not _outcome_unknown(error):
        app.store.grants.grant(appid, openid, template_id)


def _outcome_unknown(error: WxapushError) -> bool:
    # No answer after the request left: WeChat may have sent it and used the grant.
    return isinstance(error, OutcomeUnknown)
