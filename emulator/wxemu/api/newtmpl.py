"""``/wxaapi/newtmpl/*``: the public library and an app's private templates.

https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_getcategory.html
and its sibling pages.
"""

from __future__ import annotations

from typing import Any, Optional

from ..call import Call
from ..errors import WeChatError
from ..library import library

TITLES_MAX_LIMIT = 30
KIDS_MIN, KIDS_MAX = 2, 5
SCENE_DESC_MAX = 15
#: How many private templates an app may hold (200012 beyond it).
PRIVATE_TEMPLATES_MAX = 50


def _int(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def get_category(call: Call) -> dict[str, Any]:
    """The categories of the public library.

    https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_getcategory.html
    """
    data = [{"id": cid, "name": name} for cid, name in library().categories]
    return {"errcode": 0, "errmsg": "ok", "data": data}


def get_pub_template_titles(call: Call) -> dict[str, Any]:
    """Public templates of some categories, paged by ``start``/``limit`` (≤ 30).

    https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_getpubnewtemplatetitles.html
    """
    raw_ids = call.query.get("ids")
    if not raw_ids:
        raise WeChatError(200018)
    known = {cid for cid, _ in library().categories}
    ids = [_int(part) for part in raw_ids.split(",")]
    if any(i is None or i not in known for i in ids):
        raise WeChatError(200019)
    start = _int(call.query.get("start"))
    if start is None:
        raise WeChatError(200016)
    limit = _int(call.query.get("limit"))
    if limit is None or not 1 <= limit <= TITLES_MAX_LIMIT:
        raise WeChatError(200017)
    found = [t for t in library().templates if t.category_id in ids]
    page = found[start : start + limit]
    return {
        "errcode": 0,
        "errmsg": "ok",
        "count": len(found),
        "data": [t.to_wechat() for t in page],
    }


def get_pub_template_keywords(call: Call) -> dict[str, Any]:
    """The keywords of one public template; ``rule`` is the keyword type.

    https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_getpubnewtemplatekeywords.html
    """
    tid = _int(call.query.get("tid"))
    template = library().template(tid) if tid is not None else None
    if template is None:
        raise WeChatError(200014)
    data = [k.to_wechat() for k in template.keywords]
    return {"errcode": 0, "errmsg": "ok", "count": len(data), "data": data}


def add_template(call: Call) -> dict[str, Any]:
    """Choose 2–5 keywords of a public template into a private one; answers its ``priTmplId``.

    https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_addwxanewtemplate.html
    """
    app = call.caller
    body = call.json_object()
    tid = _int(body.get("tid"))
    public = library().template(tid) if tid is not None else None
    if public is None:
        raise WeChatError(200014)
    raw_kids = body.get("kidList")
    kids = [_int(k) for k in raw_kids] if isinstance(raw_kids, list) else []
    keywords = [public.keyword(k) for k in kids if k is not None]
    if (
        not KIDS_MIN <= len(kids) <= KIDS_MAX
        or len(set(kids)) != len(kids)
        or any(k is None for k in keywords)
        or len(keywords) != len(kids)
    ):
        raise WeChatError(200020)
    scene = body.get("sceneDesc", "")
    if not isinstance(scene, str) or len(scene) > SCENE_DESC_MAX:
        raise WeChatError(200021)
    chosen = tuple(k for k in keywords if k is not None)
    wanted = frozenset(k.kid for k in chosen)
    for existing in app.templates.values():
        if existing.tid == public.tid and frozenset(existing.kids) == wanted:
            raise WeChatError(200022)
    if len(app.templates) >= PRIVATE_TEMPLATES_MAX:
        raise WeChatError(200012)
    template = call.emulator.add_template(
        app.appid,
        public.title,
        "".join(f"{k.name}:{{{{{k.code}.DATA}}}}\n" for k in chosen),
        public.type,
        enum_values={k.code: list(k.enum_values) for k in chosen if k.enum_values},
        example="".join(f"{k.name}:{k.example}\n" for k in chosen),
        tid=public.tid,
        kids=[k.kid for k in chosen],
    )
    return {"errcode": 0, "errmsg": "ok", "priTmplId": template.pri_tmpl_id}


def delete_template(call: Call) -> dict[str, Any]:
    """Delete a private template (200014 when the app has no such ``priTmplId``).

    https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_delwxanewtemplate.html
    """
    app = call.caller
    body = call.json_object()
    pri_tmpl_id = body.get("priTmplId")
    if not isinstance(pri_tmpl_id, str) or app.templates.pop(pri_tmpl_id, None) is None:
        raise WeChatError(200014)
    return {"errcode": 0, "errmsg": "ok"}


def get_template_list(call: Call) -> dict[str, Any]:
    """The app's private templates, with ``keywordEnumValueList`` where keywords are enums.

    https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_getwxapubnewtemplate.html
    """
    data = [t.to_wechat() for t in call.caller.templates.values()]
    return {"errcode": 0, "errmsg": "ok", "data": data}
