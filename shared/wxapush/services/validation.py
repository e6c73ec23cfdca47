"""The checks a send passes before anything reaches WeChat.

Keyword values follow WeChat's rules (``wxapush.wechat.keywords``), typed by the template
registry when refresh_code has synced the template, else by each key's type prefix. A refusal
names the field as WeChat would (``data.thing1.value``) and carries WeChat's errcode.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from wxapush.config import MINIPROGRAM_STATES
from wxapush.errors import InvalidArgument
from wxapush.store.base import TemplateInfo
from wxapush.wechat.keywords import check_data

if TYPE_CHECKING:
    from wxapush.services.send import SendRequest

LANGS = frozenset({"zh_CN", "en_US", "zh_HK", "zh_TW"})
#: A page path of the mini program, optionally with a query: no spaces or control characters.
PAGE = re.compile(r"[^\s\x00-\x1f\x7f]+")


def validate_send(req: SendRequest, template: Optional[TemplateInfo]) -> None:
    """Raise ``InvalidArgument`` for the first rule ``req`` breaks."""
    if req.miniprogram_state not in MINIPROGRAM_STATES:
        raise InvalidArgument(
            "argument invalid! miniprogram_state invalid", field="miniprogram_state"
        )
    if req.lang not in LANGS:
        raise InvalidArgument("argument invalid! lang invalid", field="lang")
    if req.page is not None and not PAGE.fullmatch(req.page):
        raise InvalidArgument("invalid page", errcode=41030, field="page")
    keywords = template.keywords if template else None
    enums = template.enum_values if template else {}
    if template is not None and isinstance(req.data, dict):
        # Checked first: a misspelt key (thing9 for thing1) is the cause, thing1 being empty
        # only its consequence.
        codes = [code for code, _ in template.keywords]
        unknown = [key for key in req.data if key not in codes]
        if unknown:
            raise InvalidArgument(
                f"argument invalid! data.{unknown[0]}.value invalid: "
                f"template {template.template_id} has no keyword {unknown[0]}",
                field=f"data.{unknown[0]}.value",
                hint=f"{unknown[0]} is not in this template; it has {', '.join(codes)}",
            )
    problem = check_data(req.data, keywords, enums)
    if problem is not None:
        # Imported here: only a refusal needs the hints.
        from wxapush.wechat.keyword_hints import explain, explain_data

        if isinstance(req.data, dict):
            kind = dict(keywords or ()).get(problem.key, "")
            item = req.data.get(problem.key)
            hint = explain(problem.key, kind, problem.reason, item, enums.get(problem.key))
        else:
            hint = explain_data(req.data)
        raise InvalidArgument(problem.errmsg(), field=problem.field, hint=hint)
