"""The things wxemu keeps: apps, tokens, templates, grants, messages, faults, login codes.

Plain data, no HTTP and no behaviour beyond small questions about itself; the rules live in
:mod:`wxemu.state` and :mod:`wxemu.tokens`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

#: How long an old token stays usable after a new one replaces it.
OVERLAP_SECONDS = 300
TOKEN_LIFETIME = 7200

#: Template ``type``: 2 = one-time (一次性), 3 = long-term (长期).
ONE_TIME, LONG_TERM = 2, 3


@dataclass
class Token:
    """An access token; ``kind`` is ``classic`` (/cgi-bin/token) or ``stable`` (stable_token)."""

    value: str
    appid: str
    kind: str
    issued_at: float
    expires_at: float
    #: When a newer token replaced this one; it stays usable OVERLAP_SECONDS longer.
    superseded_at: Optional[float] = None
    #: Set when a token must stop working at once (a second force refresh: WeChat's advice for a
    #: leaked token).
    revoked: bool = False

    def problem(self, now: float) -> Optional[int]:
        """The errcode a call made with this token gets at ``now``, or None when it is good."""
        if self.revoked:
            return 40001
        if now >= self.expires_at:
            return 42001
        if self.superseded_at is not None and now >= self.superseded_at + OVERLAP_SECONDS:
            return 40001
        return None


@dataclass
class Template:
    """A private template of an app (what ``gettemplate`` lists and ``subscribe/send`` uses)."""

    pri_tmpl_id: str
    title: str
    content: str
    type: int
    #: (code, type) in template order, e.g. ("thing1", "thing"); parsed from ``content``.
    keywords: list[tuple[str, str]]
    #: Allowed values per bare keyword code ("enum_string2"), from ``keywordEnumValueList``.
    enum_values: dict[str, list[str]] = field(default_factory=dict)
    example: str = ""
    #: The public template and keywords it was chosen from (addtemplate), for 200022.
    tid: Optional[int] = None
    kids: tuple[int, ...] = ()

    def to_wechat(self) -> dict[str, Any]:
        """The template as ``/wxaapi/newtmpl/gettemplate`` lists it."""
        item: dict[str, Any] = {
            "priTmplId": self.pri_tmpl_id,
            "title": self.title,
            "content": self.content,
            "example": self.example,
            "type": self.type,
        }
        if self.enum_values:
            item["keywordEnumValueList"] = [
                {"keywordCode": f"{code}.DATA", "enumValueList": list(values)}
                for code, values in self.enum_values.items()
            ]
        return item


@dataclass
class Message:
    """A subscribe message WeChat accepted (the answer carried ``msgid``)."""

    appid: str
    touser: str
    template_id: str
    page: Optional[str]
    data: Any
    miniprogram_state: str
    lang: str
    msgid: int
    accepted_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "appid": self.appid,
            "touser": self.touser,
            "template_id": self.template_id,
            "page": self.page,
            "data": self.data,
            "miniprogram_state": self.miniprogram_state,
            "lang": self.lang,
            "msgid": self.msgid,
            "accepted_at": self.accepted_at,
        }


@dataclass
class LoginCode:
    """A ``wx.login`` code: single use, valid for 5 minutes."""

    code: str
    appid: str
    openid: str
    expires_at: float


@dataclass
class Fault:
    """The next ``times`` calls to ``path`` answer with an errcode, an HTTP status, or a delay;
    or (``drop``) are carried out and then get no answer at all: the connection is closed."""

    path: str
    times: int = 1
    errcode: Optional[int] = None
    errmsg: Optional[str] = None
    status: Optional[int] = None
    delay_ms: int = 0
    drop: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "times": self.times,
            "errcode": self.errcode,
            "errmsg": self.errmsg,
            "status": self.status,
            "delay_ms": self.delay_ms,
            "drop": self.drop,
        }


@dataclass
class App:
    """One mini program: credentials and everything WeChat keeps about it."""

    appid: str
    secret: str
    templates: dict[str, Template] = field(default_factory=dict)
    #: Sends left per (openid, priTmplId); for a long-term template any count > 0 means subscribed.
    grants: dict[tuple[str, str], int] = field(default_factory=dict)
    openids: set[str] = field(default_factory=set)
    messages: list[Message] = field(default_factory=list)
    classic_token: Optional[Token] = None
    stable_token: Optional[Token] = None
    #: Times of today's force refreshes of the stable token (at most 20 a day, ≥ 30 s apart).
    force_refreshes: list[float] = field(default_factory=list)
    #: Daily counters per API path: path -> (day, used).
    counters: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Calls counted per API path since the app was made: no day boundary or quota clearing
    #: resets these, so a test counts what it did whatever the hour it runs at.
    calls: dict[str, int] = field(default_factory=dict)
    #: Per-path daily limits that override :data:`wxemu.quota.DAILY_LIMITS`.
    daily_limits: dict[str, int] = field(default_factory=dict)
    #: clear_quota calls so far (WeChat allows 10 a month; wxemu never resets this count).
    quota_clears: int = 0
