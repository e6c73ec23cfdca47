"""The route tables: which handler answers which path (and method).

WeChat APIs are keyed by path alone, since WeChat answers a wrong method itself (43002 for the
POST-only ones); the control plane is keyed by (method, path). Tencent Cloud API calls (``POST /``
with ``X-TC-Action``, the SSM fake) are keyed by action in :data:`wxemu.ssm.ACTIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import robots
from .api import control, newtmpl, openapi, subscribe, tokens
from .call import Call

Handler = Callable[[Call], dict[str, Any]]

CONTROL_PREFIX = "/__wxemu__/"


@dataclass(frozen=True)
class Route:
    """A WeChat API: its handler, whether only POST is accepted, whether it needs a token."""

    handler: Handler
    post_only: bool = False
    needs_token: bool = True
    #: Errors as ``jscode2session`` writes them: ``Content-Type: text/plain``, ``…, rid: …``.
    plain_errors: bool = False


WECHAT_ROUTES: dict[str, Route] = {
    "/cgi-bin/token": Route(tokens.get_access_token, needs_token=False),
    "/cgi-bin/stable_token": Route(tokens.get_stable_access_token, True, needs_token=False),
    "/cgi-bin/message/subscribe/send": Route(subscribe.send, True),
    "/cgi-bin/message/wxopen/template/send": Route(subscribe.legacy_template_send, True),
    "/cgi-bin/message/wxopen/template/uniform_send": Route(subscribe.legacy_uniform_send, True),
    "/wxaapi/newtmpl/getcategory": Route(newtmpl.get_category),
    "/wxaapi/newtmpl/getpubtemplatetitles": Route(newtmpl.get_pub_template_titles),
    "/wxaapi/newtmpl/getpubtemplatekeywords": Route(newtmpl.get_pub_template_keywords),
    "/wxaapi/newtmpl/addtemplate": Route(newtmpl.add_template, True),
    "/wxaapi/newtmpl/deltemplate": Route(newtmpl.delete_template, True),
    "/wxaapi/newtmpl/gettemplate": Route(newtmpl.get_template_list),
    "/sns/jscode2session": Route(openapi.code_to_session, needs_token=False, plain_errors=True),
    "/cgi-bin/openapi/quota/get": Route(openapi.get_api_quota, True),
    "/cgi-bin/openapi/quota/clear": Route(openapi.clear_api_quota, True),
    "/cgi-bin/clear_quota": Route(openapi.clear_quota, True),
}

#: WeChat's paths are case-sensitive: a known path in another case answers 40066 invalid url.
ROUTES_BY_LOWER_PATH: dict[str, str] = {path.lower(): path for path in WECHAT_ROUTES}

CONTROL_ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/__wxemu__/reset"): control.reset,
    ("GET", "/__wxemu__/demo"): control.get_demo,
    ("POST", "/__wxemu__/apps"): control.add_app,
    ("GET", "/__wxemu__/apps"): control.list_apps,
    ("POST", "/__wxemu__/templates"): control.add_template,
    ("POST", "/__wxemu__/subscriptions"): control.add_subscription,
    ("POST", "/__wxemu__/callback"): control.set_callback,
    ("GET", "/__wxemu__/callback"): control.get_callback,
    ("GET", "/__wxemu__/messages"): control.list_messages,
    ("POST", "/__wxemu__/faults"): control.add_fault,
    ("GET", "/__wxemu__/faults"): control.list_faults,
    ("DELETE", "/__wxemu__/faults"): control.clear_faults,
    ("POST", "/__wxemu__/clock"): control.advance_clock,
    ("GET", "/__wxemu__/clock"): control.get_clock,
    ("POST", "/__wxemu__/logincodes"): control.add_login_code,
    ("POST", "/__wxemu__/quotas"): control.set_quota,
    ("POST", "/__wxemu__/secrets"): control.put_secret,
    ("GET", "/__wxemu__/secrets"): control.list_secrets,
    ("GET", "/__wxemu__/robots"): robots.list_posts,
    ("POST", "/__wxemu__/robots"): robots.configure,
    ("DELETE", "/__wxemu__/robots"): robots.clear,
}
