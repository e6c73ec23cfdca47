"""Fake group robots: WeCom's, DingTalk's and Feishu's webhooks, recording what was posted.

Paths as the real ones (so a webhook URL keeps its shape with wxemu's base in front):

* WeCom ``POST /cgi-bin/webhook/send?key=KEY``: ``{"errcode": 0, "errmsg": "ok"}``; a refused
  (or missing) key answers ``93000 invalid webhook url``; a body without a known ``msgtype``
  ``40008``; a markdown content over 4096 bytes ``40058``.
* DingTalk ``POST /robot/send?access_token=T``: ``{"errcode": 0, "errmsg": "ok"}``; a refused
  token ``300001 token is not exist``; a bad body ``40035``.
* Feishu ``POST /open-apis/bot/v2/hook/T``: ``{"code": 0, "msg": "success", "data": {}}``; a
  refused token ``19001 param invalid: incoming webhook access token invalid``; a bad body
  ``9499 Bad Request``.

Every key is taken unless refused through the control plane (``POST /__wxemu__/robots
{"refuse": KEY}``), which also queues a given error for the next posts of a kind
(``{"kind": "wecom", "errcode": 45009, "times": 1}``). ``GET /__wxemu__/robots`` lists the posts.
The codes are the robots' documented ones where known; the emulator does not check signatures.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .call import Call, ControlError

WECOM_PATH = "/cgi-bin/webhook/send"
DINGTALK_PATH = "/robot/send"
FEISHU_PREFIX = "/open-apis/bot/v2/hook/"
KINDS = ("wecom", "dingtalk", "feishu")
WECOM_MAX_BYTES = 4096

#: (invalid key, bad body) answers of each robot.
INVALID_KEY = {
    "wecom": (93000, "invalid webhook url"),
    "dingtalk": (300001, "token is not exist"),
    "feishu": (19001, "param invalid: incoming webhook access token invalid"),
}
BAD_BODY = {
    "wecom": (40008, "invalid message type"),
    "dingtalk": (40035, "缺少参数 json"),
    "feishu": (9499, "Bad Request"),
}
MESSAGE_TYPES = {
    "wecom": ("text", "markdown", "markdown_v2", "image", "news", "file", "template_card"),
    "dingtalk": ("text", "markdown", "link", "actionCard", "feedCard"),
    "feishu": ("text", "post", "image", "share_chat", "interactive"),
}


@dataclass
class RobotBook:
    """What the fake robots were sent, the keys they refuse and the errors queued per kind."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    queued: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.posts.clear()
            self.refused.clear()
            self.queued.clear()


def book(emulator: Any) -> RobotBook:
    """The emulator's robot book, kept on it (``Emulator.reset`` clears it)."""
    found = getattr(emulator, "robot_book", None)
    if not isinstance(found, RobotBook):
        with emulator.lock:
            found = getattr(emulator, "robot_book", None)
            if not isinstance(found, RobotBook):
                found = RobotBook()
                emulator.robot_book = found
    return found


def robot_of(path: str) -> Optional[tuple[str, Optional[str]]]:
    """``(kind, None)`` when ``path`` is a robot's (the key is read from the query), or
    ``("feishu", token)``; None otherwise."""
    if path == WECOM_PATH:
        return "wecom", None
    if path == DINGTALK_PATH:
        return "dingtalk", None
    if path.startswith(FEISHU_PREFIX):
        return "feishu", path[len(FEISHU_PREFIX) :]
    return None


def answer(
    emulator: Any, kind: str, token: Optional[str], params: Mapping[str, str], body: bytes
) -> tuple[int, dict[str, Any]]:
    """A robot's answer to one post: (HTTP status, JSON)."""
    if token is None:
        token = params.get("key" if kind == "wecom" else "access_token") or ""
    robots = book(emulator)
    try:
        parsed = json.loads(body) if body.strip() else None
    except ValueError:
        parsed = None
    with robots.lock:
        queued = robots.queued.get(kind) or []
        if not token or token in robots.refused:
            code, text = INVALID_KEY[kind]
        elif queued:
            code, text = queued.pop(0)
        else:
            code, text = _check_body(kind, parsed)
        robots.posts.append({"kind": kind, "key": token, "body": parsed, "errcode": code})
    if kind == "feishu":
        return 200, {"code": code, "msg": text if code else "success", "data": {}}
    return 200, {"errcode": code, "errmsg": text if code else "ok"}


def _check_body(kind: str, body: Any) -> tuple[int, str]:
    if not isinstance(body, dict):
        return BAD_BODY[kind]
    msgtype = body.get("msg_type" if kind == "feishu" else "msgtype")
    if msgtype not in MESSAGE_TYPES[kind]:
        return BAD_BODY[kind]
    if kind == "wecom" and msgtype == "markdown":
        content = (body.get("markdown") or {}).get("content")
        if not isinstance(content, str) or not content:
            return BAD_BODY[kind]
        if len(content.encode("utf-8")) > WECOM_MAX_BYTES:
            return 40058, "markdown.content exceed max length 4096"
    return 0, "ok"


# -- the control plane ---------------------------------------------------------------------------


def list_posts(call: Call) -> dict[str, Any]:
    """What the fake robots were posted (kind, key, body, the errcode answered), oldest first."""
    kind = call.query.get("kind")
    robots = book(call.emulator)
    with robots.lock:
        posts = [dict(p) for p in robots.posts if kind in (None, p["kind"])]
    return {"posts": posts}


def configure(call: Call) -> dict[str, Any]:
    """``{"refuse": KEY}`` makes a key invalid; ``{"kind", "errcode", "errmsg"?, "times"?}``
    queues an error for the kind's next posts."""
    try:
        body = json.loads(call.body) if call.body.strip() else {}
    except ValueError:
        raise ControlError(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object")
    robots = book(call.emulator)
    refuse = body.get("refuse")
    if refuse is not None:
        if not isinstance(refuse, str) or not refuse:
            raise ControlError(400, "refuse must be a non-empty key")
        with robots.lock:
            robots.refused.add(refuse)
        return {"refused": refuse}
    kind, errcode, times = body.get("kind"), body.get("errcode"), body.get("times", 1)
    if kind not in KINDS:
        raise ControlError(400, f"kind must be one of {', '.join(KINDS)}")
    if isinstance(errcode, bool) or not isinstance(errcode, int) or errcode == 0:
        raise ControlError(400, "errcode must be a non-zero integer")
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise ControlError(400, "times must be a positive integer")
    errmsg = str(body.get("errmsg") or "error")
    with robots.lock:
        robots.queued.setdefault(kind, []).extend([(errcode, errmsg)] * times)
    return {"kind": kind, "queued": times}


def clear(call: Call) -> dict[str, Any]:
    """Forget the posts, the refused keys and the queued errors."""
    book(call.emulator).clear()
    return {"ok": True}
