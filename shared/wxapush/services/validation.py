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
    """Raise ``InvalidArgument`` for the first rule ``req`` breaks.

    Keys the synced template lacks are left out of ``req.data`` with a warning: WeChat judges the
    template's own keywords (a misspelt key is answered as the missing keyword, observed) and no
    real answer shows it refusing a key outside the template, so such a key is never what stops
    a send, and WeChat never has to see it.
    """
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
    unknown: list[str] = []
    if template is not None and isinstance(req.data, dict):
        codes = [code for code, _ in template.keywords]
        unknown = [key for key in req.data if key not in codes]
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
        if unknown and template is not None:
            known = ", ".join(code for code, _ in template.keywords)
            hint += f"; {unknown[0]} is not in this template (it has {known})"
        raise InvalidArgument(problem.errmsg(), field=problem.field, hint=hint)
    if unknown and template is not None:
        req.data = {key: item for key, item in req.data.items() if key not in unknown}
        req.warnings.append(
            f"data.{unknown[0]} is not a keyword of template {template.template_id} "
            f"and was left out" + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
        )
