"""Who a direct call comes from, as the platform says it (never ``os.environ``): fail closed.

A direct invocation (CloudBase ``callFunction``, SCF Invoke, the console) carries the caller's
identity in ``context["environment"]`` (a JSON string) and ``context["environ"]`` (``K=V;K=V``).
The keys are those CloudBase's own SDKs read: ``wx-server-sdk``'s ``getWXContext``
(https://developers.weixin.qq.com/miniprogram/dev/wxcloud/reference-sdk-api/utils/Cloud.getWXContext.html)
and ``@cloudbase/node-sdk``'s ``getCloudbaseContext`` / ``auth().getUserInfo()`` (source:
TencentCloudBase/node-sdk ``src/cloudbase.ts``, ``src/auth/index.ts``).

* ``WX_OPENID`` (non-empty, well-formed): a mini-program **user**.
* any other end-user marker (:data:`END_USER_KEYS`: web or anonymous sign-in, QQ, a
  cross-account caller, a client IP without an openid), or ``WX_OPENID`` empty or malformed:
  :class:`Unauthorized` — such a caller is never promoted to a service.
* none of them: a **service** (cloud credentials, another function, the console, a timer).

``event["userInfo"]`` (the legacy injection) is written into the event, which a caller controls:
it never identifies anyone. It must agree with the context, and an ``openId`` in it without a
``WX_OPENID`` in the context is refused.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

from wxapush.errors import Unauthorized

#: The WeChat identity fields a user call carries (``WX_OPENID`` decides).
WX_KEYS = ("WX_OPENID", "WX_APPID", "WX_UNIONID", "WX_SOURCE")

#: Context keys that only an end user's call carries. Any of them, non-empty, without a valid
#: ``WX_OPENID`` means "an end user we cannot identify": refused. (``WX_APPID``, ``WX_ENV``,
#: ``WX_CLIENTIP`` and the ``*_CONTEXT_KEYS`` lists also come with service calls — CloudBase's
#: HTTP API, timers — and do not count by themselves.) The cross-account keys are
#: refused even next to a ``WX_OPENID`` (the openid then belongs to another account's app).
CROSS_ACCOUNT_KEYS = (
    "FROM_OPENID",
    "FROM_APPID",
    "FROM_UNIONID",
    "WX_FROM_OPENID",
    "WX_FROM_APPID",
    "WX_FROM_UNIONID",
)
END_USER_KEYS = (
    # a WeChat user's field without the openid that would identify the user
    "WX_UNIONID",
    # CloudBase web / anonymous / custom sign-in (node-sdk getCloudbaseContext)
    "TCB_UUID",
    "TCB_CUSTOM_USER_ID",
    "TCB_ISANONYMOUS_USER",
    "TCB_SESSIONTOKEN",
    "TCB_SOURCE",
    "LOGINTYPE",
    "QQ_OPENID",
    "QQ_APPID",
    *CROSS_ACCOUNT_KEYS,
)


def wx_context(event: Mapping[str, Any], ctx: Mapping[str, Any]) -> Dict[str, str]:
    """The invocation's ``WX_*`` identity: empty for a service, ``WX_OPENID`` set for a user.

    Raises :class:`Unauthorized` for an end user who is not a well-formed ``WX_OPENID`` caller,
    for an unreadable context, and when two channels disagree on who is calling.
    """
    sources: List[Tuple[str, Dict[str, Any]]] = []
    for key, parser in (("environment", _parse_json_env), ("environ", _parse_kv_env)):
        raw = ctx.get(key)
        if raw is None or raw == "":
            continue
        values = raw if isinstance(raw, Mapping) else parser(raw)
        if values is None:
            # Unreadable: it may hold a user's identity, so the caller cannot be a service.
            raise Unauthorized(f"context {key} is unreadable; caller identity unknown")
        sources.append((f"context {key}", dict(values)))
    merged: Dict[str, str] = {}
    for where, values in sources:
        _refuse_unidentified(values, where)
        for key, value in _wx_fields(values, where).items():
            if key in ("WX_OPENID", "WX_APPID") and merged.get(key, value) != value:
                # Two platform channels disagree on who is calling: nobody is identified.
                raise Unauthorized("conflicting caller identities in the invocation")
            merged.setdefault(key, value)
    _check_user_info(event.get("userInfo"), merged)
    return merged


#: ``WX_SOURCE`` values of calls no end user made: a timer, another function, a payment
#: callback, a server's HTTP API call with its access token (``wx_http``). Any other source —
#: ``wx_client``, ``wx_devtools``, ``wx_crawler``, ``wx_localdebug``, ``wx_unknown``… — without a
#: ``WX_OPENID`` is refused. Sources chain with commas across calls (``wx_client,scf``): every
#: link must be one of these.
SERVICE_SOURCES = frozenset({"wx_trigger", "scf", "wx_paycallback", "wx_http"})


def end_user_markers(values: Mapping[str, Any]) -> List[str]:
    """The end-user marker keys present (non-empty) in one context mapping."""
    found = [k for k in END_USER_KEYS if values.get(k) not in (None, "")]
    source = values.get("WX_SOURCE")
    parts = source.split(",") if isinstance(source, str) and source else []
    if any(part.strip() not in SERVICE_SOURCES for part in parts):
        found.append("WX_SOURCE")
    return found


def _refuse_unidentified(values: Mapping[str, Any], where: str) -> None:
    if "WX_OPENID" in values and values["WX_OPENID"] in (None, ""):
        raise Unauthorized(f"{where} WX_OPENID is empty; caller identity unknown")
    cross = [k for k in CROSS_ACCOUNT_KEYS if values.get(k) not in (None, "")]
    if cross:
        raise Unauthorized(f"cross-account callers ({cross[0]}) are not accepted")
    if values.get("WX_OPENID") in (None, ""):
        markers = end_user_markers(values)
        if markers:
            raise Unauthorized(
                f"{where} carries an end user ({markers[0]}) without a WX_OPENID; only "
                "mini-program users and services may call"
            )


def _wx_fields(values: Mapping[str, Any], where: str) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for key in WX_KEYS:
        value = values.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or value != value.strip() or not value:
            raise Unauthorized(f"{where} {key} is malformed; caller identity unknown")
        found[key] = value
    return found


def _check_user_info(info: Any, merged: Mapping[str, str]) -> None:
    if info is None:
        return
    if not isinstance(info, Mapping):
        raise Unauthorized("event userInfo is not an object; caller identity unknown")
    legacy = _wx_fields(
        {"WX_OPENID": info.get("openId"), "WX_APPID": info.get("appId")}, "event userInfo"
    )
    if "WX_OPENID" in legacy and "WX_OPENID" not in merged:
        # The event is the caller's own text: an openid there proves nothing.
        raise Unauthorized("event userInfo names a user the platform context does not")
    if "WX_OPENID" in merged:
        for key, value in legacy.items():
            if merged.get(key, value) != value:
                raise Unauthorized("conflicting caller identities in the invocation")


def _parse_json_env(raw: Any) -> Optional[Dict[str, Any]]:
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text.startswith("{"):
        # Not JSON: some runtimes hand over the K=V;K=V form here too.
        return _parse_kv_env(text)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return None
    return value if isinstance(value, dict) else None


def _parse_kv_env(raw: Any) -> Optional[Dict[str, str]]:
    if not isinstance(raw, str):
        return None
    values: Dict[str, str] = {}
    for item in raw.split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            return None
        values[key.strip()] = value
    return values
