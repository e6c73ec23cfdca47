"""Group robots: which one a webhook URL is, a message in its own format, and the post.

* WeCom (企业微信群机器人): ``POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY``
  with ``{"msgtype": "markdown", "markdown": {"content": …}}`` (content ≤ 4096 bytes); answers
  ``{"errcode": 0, "errmsg": "ok"}``, ``93000`` for an invalid key
  (https://developer.work.weixin.qq.com/document/path/91770).
* DingTalk (钉钉自定义机器人): ``POST https://oapi.dingtalk.com/robot/send?access_token=T`` with
  ``{"msgtype": "markdown", "markdown": {"title", "text"}}``; answers ``{"errcode": 0}``
  (https://open.dingtalk.com/document/robots/custom-robot-access).
* Feishu / Lark (飞书自定义机器人): ``POST https://open.feishu.cn/open-apis/bot/v2/hook/T`` with
  ``{"msg_type": "text", "content": {"text": …}}``; answers ``{"code": 0, "msg": "success"}``
  (https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot).
* anything else (``json``): ``{"title", "text", "condition", "state"}`` posted as is; any 2xx
  answer is success.

The URL's key or token is a secret: nothing here ever logs or returns the URL, only the kind and
the host. Posting is the standard library's HTTP (the WeChat client's connection class: proxies
and CA bundles as configured), with short timeouts, and never raises.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

KINDS = ("wecom", "dingtalk", "feishu", "json")
#: WeCom refuses a markdown content longer than this (bytes of UTF-8).
WECOM_MAX_BYTES = 4096
CONNECT_TIMEOUT, READ_TIMEOUT = 3.0, 5.0


@dataclass(frozen=True)
class Outcome:
    """What the robot answered: ``ok``, and the robot's code and message (or why no answer)."""

    ok: bool
    code: Optional[int] = None
    detail: str = ""


def kind_of(url: str, declared: Optional[str] = None) -> str:
    """The robot a URL belongs to: ``declared`` (WXAPUSH_ALERT_KIND) if set, else by its path
    (which the emulator keeps) or host, else ``json``."""
    if declared:
        return declared
    parts = urlsplit(url)
    host, path = (parts.hostname or "").lower(), parts.path
    if path.endswith("/cgi-bin/webhook/send") or host == "qyapi.weixin.qq.com":
        return "wecom"
    if path.endswith("/robot/send") or host.endswith("dingtalk.com"):
        return "dingtalk"
    if "/open-apis/bot/v2/hook/" in path or host.endswith(("feishu.cn", "larksuite.com")):
        return "feishu"
    return "json"


def where(url: str) -> str:
    """The part of the URL that may be logged: its host (the key lives in the path or query)."""
    return urlsplit(url).hostname or "?"


def message(kind: str, title: str, text: str, condition: str, state: str) -> dict[str, Any]:
    """``title`` and ``text`` (markdown, Chinese first) in the robot's own format."""
    if kind == "wecom":
        content = f"### {title}\n{text}"
        while len(content.encode("utf-8")) > WECOM_MAX_BYTES:
            content = content[: len(content) * 9 // 10]
        return {"msgtype": "markdown", "markdown": {"content": content}}
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": f"### {title}\n{text}"}}
    if kind == "feishu":
        return {"msg_type": "text", "content": {"text": f"{title}\n{text}"}}
    return {"title": title, "text": text, "condition": condition, "state": state}


def post(url: str, kind: str, body: dict[str, Any]) -> Outcome:
    """Post ``body``; never raises, never logs the URL."""
    from wxapush.wechat.connection import OriginConnections
    from wxapush.wechat.exchange_errors import ExchangeFailed

    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    try:
        origin = OriginConnections(f"{parts.scheme}://{parts.netloc}")
        try:
            status, answer = origin.exchange(
                "POST", target, data, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT
            )
        finally:
            origin.close()
    except ExchangeFailed as exc:
        return Outcome(False, None, f"no answer from {where(url)}: {type(exc).__name__}")
    except (ValueError, OSError) as exc:
        return Outcome(False, None, f"cannot post to {where(url)}: {type(exc).__name__}")
    outcome = judge(kind, status, answer)
    from wxapush.redaction import redact

    # A robot's message may quote the request: never let the URL's key through.
    secrets = [v for _, v in parse_qsl(parts.query)]
    if "/hook/" in parts.path:  # Feishu's token is the path's last segment
        secrets.append(parts.path.rpartition("/")[2])
    secrets = [v for v in secrets if len(v) >= 8]
    return Outcome(outcome.ok, outcome.code, redact(outcome.detail, *secrets))


def judge(kind: str, status: int, answer: bytes) -> Outcome:
    """Whether the robot took the message, from its HTTP status and JSON answer."""
    if not 200 <= status < 300:
        return Outcome(False, status, f"HTTP {status}")
    if kind == "json":
        return Outcome(True, 0)
    try:
        parsed = json.loads(answer)
    except ValueError:
        return Outcome(False, None, "the answer is not JSON")
    if not isinstance(parsed, dict):
        return Outcome(False, None, "the answer is not a JSON object")
    # WeCom and DingTalk answer errcode/errmsg; Feishu code/msg (older hooks StatusCode).
    code = parsed.get("errcode", parsed.get("code", parsed.get("StatusCode", 0)))
    text = parsed.get("errmsg", parsed.get("msg", parsed.get("StatusMessage", "")))
    if not isinstance(code, int) or isinstance(code, bool):
        return Outcome(False, None, "the answer has no numeric code")
    detail = str(text)[:200]
    return Outcome(code == 0, code, detail)
