"""A mini-program caller's WeChat identity, as the platform passes it (never ``os.environ``).

https://developers.weixin.qq.com/miniprogram/dev/wxcloud/reference-sdk-api/utils/Cloud.getWXContext.html
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

from wxapush.errors import (
    Unauthorized,
)


def wx_context(event: Mapping[str, Any], ctx: Mapping[str, Any]) -> Dict[str, str]:
    """The invocation's ``WX_*`` identity (empty: none), read from the invocation only.

    Every channel the platform may use is read: ``context.environment`` (JSON),
    ``context.environ`` (``K=V;K=V``) and the legacy ``event.userInfo``; they must agree.
    """
    sources: List[Tuple[str, Dict[str, str]]] = []
    for key, parser in (("environment", _parse_json_env), ("environ", _parse_kv_env)):
        raw = ctx.get(key)
        if raw is None or raw == "":
            continue
        values = raw if isinstance(raw, Mapping) else parser(raw)
        if values is None:
            # Unreadable: it may hold a user's identity, so the caller cannot be a service.
            raise Unauthorized(f"context {key} is unreadable; caller identity unknown")
        sources.append((f"context {key}", _wx_fields(values, f"context {key}")))
    info = event.get("userInfo")
    if info is not None:
        if not isinstance(info, Mapping):
            raise Unauthorized("event userInfo is not an object; caller identity unknown")
        legacy = {
            "WX_OPENID": info.get("openId"),
            "WX_APPID": info.get("appId"),
            "WX_UNIONID": info.get("unionId"),
        }
        sources.append(("event userInfo", _wx_fields(legacy, "event userInfo")))
    merged: Dict[str, str] = {}
    for _, values in sources:
        for key, value in values.items():
            if key in ("WX_OPENID", "WX_APPID") and merged.get(key, value) != value:
                # Two platform channels disagree on who is calling: nobody is identified.
                raise Unauthorized("conflicting caller identities in the invocation")
            merged.setdefault(key, value)
    return merged


def _wx_fields(values: Mapping[str, Any], where: str) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for key in ("WX_OPENID", "WX_APPID", "WX_UNIONID", "WX_SOURCE"):
        value = values.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or value != value.strip() or not value:
            raise Unauthorized(f"{where} {key} is malformed; caller identity unknown")
        found[key] = value
    return found


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
