"""wxemu's message push: the subscribe-message events WeChat sends to a configured server URL.

Configured per app with ``POST /__wxemu__/callback``. After each accepted send wxemu pushes a
``subscribe_msg_sent_event`` for its msgid; ``POST /__wxemu__/subscriptions {"push": true}``
pushes a ``subscribe_msg_popup_event``. Pushes are signed and (in compatible / secure mode)
encrypted exactly as WeChat does
(https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html), in
JSON or XML, with the event shapes of
https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/subscribe-message.html.

They go over real HTTP from a background thread, after the send's answer and never under the
emulator's lock; each attempt waits at most WeChat's 5 s, a failed one is retried (3 tries in
all, as WeChat does), and failures are logged, never raised.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional

from wxapush.wechat.callback import encrypt, sign

from .models import App, Message
from .plain_http import PostFailed, post

if TYPE_CHECKING:
    from .state import Emulator

log = logging.getLogger("wxemu.callbacks")

MODES = ("plaintext", "compatible", "secure")
FORMATS = ("json", "xml")
#: WeChat drops the connection after 5 s and tries again, 3 tries in all.
TIMEOUT = 5.0
TRIES = 3
RETRY_PAUSE = 0.5
#: The hooks run just before the send's answer is written; WeChat's push follows its answer.
FIRST_DELAY = 0.05


@dataclass(frozen=True)
class CallbackConfig:
    """An app's message-push settings, as entered in the console's 消息推送配置.

    ``failures`` maps an openid to the ``(ErrorCode, ErrorStatus)`` its sent events report, to
    play an asynchronous delivery failure. ``repeat`` delivers every event that many times, each
    freshly signed, as WeChat re-pushes an event whose answer it did not get in time.
    """

    appid: str
    url: str
    token: str
    encoding_aes_key: Optional[str]
    mode: str = "secure"
    format: str = "json"
    failures: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    repeat: int = 1

    def describe(self) -> dict[str, Any]:
        """The settings without the Token and key."""
        failures = {k: {"ErrorCode": c, "ErrorStatus": s} for k, (c, s) in self.failures.items()}
        return {
            "appid": self.appid,
            "url": self.url,
            "mode": self.mode,
            "format": self.format,
            "failures": failures,
            "repeat": self.repeat,
        }


def parse_failures(raw: Any) -> dict[str, tuple[int, str]]:
    """``{openid: {"ErrorCode": n, "ErrorStatus"?: text}}`` -> ``{openid: (n, text)}``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("failures must be an object of openid -> {ErrorCode, ErrorStatus}")
    failures: dict[str, tuple[int, str]] = {}
    for openid, item in raw.items():
        code = item.get("ErrorCode") if isinstance(item, dict) else None
        status = item.get("ErrorStatus", "failed") if isinstance(item, dict) else None
        if isinstance(code, bool) or not isinstance(code, int) or not isinstance(status, str):
            raise ValueError(f"failures.{openid} needs an integer ErrorCode and a text ErrorStatus")
        failures[openid] = (code, status)
    return failures


def original_id(appid: str) -> str:
    """The app's original id (``gh_`` + 12 hex), stable per AppID: pushes' ``ToUserName``."""
    return "gh_" + hashlib.sha1(appid.encode()).hexdigest()[:12]


class Pusher:
    """Sends pushes for an :class:`Emulator`; one background thread per push."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._history: list[dict[str, Any]] = []
        self._busy = 0
        self._idle = threading.Condition()

    # what triggers a push ----------------------------------------------------------------------

    def message_sent(self, app: App, message: Message) -> None:
        """A message hook: push the delivery result of an accepted message."""
        config = self.emulator.callbacks.get(app.appid)
        if config is None:
            return
        code, status = config.failures.get(message.touser, (0, "success"))
        item = {
            "TemplateId": message.template_id,
            "MsgID": str(message.msgid),
            "ErrorCode": str(code),
            "ErrorStatus": status,
        }
        self._start(config, _event("subscribe_msg_sent_event", config, message.touser, [item]))

    def popup(self, appid: str, openid: str, template_id: str, status: str = "accept") -> bool:
        """Push the user's choice in a subscription popup; False when no callback is set."""
        config = self.emulator.callbacks.get(appid)
        if config is None:
            return False
        item = {"TemplateId": template_id, "SubscribeStatusString": status, "PopupScene": "0"}
        self._start(config, _event("subscribe_msg_popup_event", config, openid, [item]))
        return True

    def pushes(self) -> list[dict[str, Any]]:
        """One entry per finished push, oldest first: ``{event, url, status, body, tries}``."""
        with self._idle:
            return list(self._history)

    def forget(self) -> None:
        """Clear the push history (the emulator's reset)."""
        with self._idle:
            self._history.clear()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no push is in flight (tests); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    # delivery ----------------------------------------------------------------------------------

    def _start(self, config: CallbackConfig, event: dict[str, Any]) -> None:
        now = int(self.emulator.clock.now())
        with self._idle:
            self._busy += 1
        thread = threading.Thread(
            target=self._run, args=(config, event, now), name="wxemu-push", daemon=True
        )
        thread.start()

    def _run(self, config: CallbackConfig, event: dict[str, Any], now: int) -> None:
        try:
            for _ in range(config.repeat):
                self._deliver(config, event, now)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _deliver(self, config: CallbackConfig, event: dict[str, Any], now: int) -> None:
        outcome: dict[str, Any] = {"event": event["Event"], "url": config.url, "tries": 0}
        try:
            for attempt in range(TRIES):
                time.sleep(RETRY_PAUSE * attempt if attempt else FIRST_DELAY)
                # Each try is a new request: WeChat signs every delivery afresh.
                query, body, content_type = render(config, event, now)
                outcome["tries"] = attempt + 1
                try:
                    status, text = post(
                        config.url,
                        body,
                        {"Content-Type": content_type},
                        params=query,
                        timeout=TIMEOUT,
                    )
                except PostFailed as error:
                    outcome.update(status=None, body=str(error))
                    continue
                outcome.update(status=status, body=text[:200])
                if status == 200:
                    break
            if outcome.get("status") != 200:
                log.warning("push of %s to %s failed: %s", event["Event"], config.url, outcome)
        except Exception:  # a push failure must never escape the thread
            log.exception("push of %s to %s crashed", event["Event"], config.url)
        with self._idle:
            self._history.append(outcome)


def _event(name: str, config: CallbackConfig, openid: str, items: list[dict[str, str]]) -> Any:
    return {
        "ToUserName": original_id(config.appid),
        "FromUserName": openid,
        "MsgType": "event",
        "Event": name,
        "List": items,
    }


def render(
    config: CallbackConfig, event: Mapping[str, Any], now: int
) -> tuple[dict[str, str], bytes, str]:
    """``(query, body, content type)`` of one push of ``event``, as WeChat sends it at ``now``."""
    timestamp, nonce = str(now), str(secrets.randbelow(10**10))
    message = dict(event, CreateTime=now)  # an integer, as real pushes carry it
    items = message.pop("List")
    xml = config.format == "xml"
    plain = _xml(message, items) if xml else _json(message, items)
    query = {
        "signature": sign(config.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    content_type = "text/xml" if xml else "application/json"
    if config.mode == "plaintext":
        return query, plain.encode("utf-8"), content_type
    assert config.encoding_aes_key is not None
    encrypted = encrypt(plain.encode("utf-8"), config.encoding_aes_key, config.appid)
    query.update(
        openid=str(event["FromUserName"]),
        encrypt_type="aes",
        msg_signature=sign(config.token, timestamp, nonce, encrypted),
    )
    if config.mode == "compatible":  # the plaintext fields and the ciphertext side by side
        if xml:
            body = plain.replace("</xml>", f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
        else:
            body = json.dumps({**json.loads(plain), "Encrypt": encrypted}, ensure_ascii=False)
    elif xml:
        body = (
            f"<xml><ToUserName><![CDATA[{message['ToUserName']}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
    else:
        body = json.dumps({"ToUserName": message["ToUserName"], "Encrypt": encrypted})
    return query, body.encode("utf-8"), content_type


def _json(message: Mapping[str, Any], items: list[dict[str, str]]) -> str:
    # "若 List 只有一个对象，则只返回对象本身": one item is a bare object, several an array.
    listed: Any = items[0] if len(items) == 1 else items
    return json.dumps({**message, "List": listed}, ensure_ascii=False)


def _xml(message: Mapping[str, Any], items: list[dict[str, str]]) -> str:
    wrapper = "".join(part.title() for part in str(message["Event"]).split("_"))
    fields = "".join(_element(k, v) for k, v in message.items())
    lists = "".join(
        "<List>" + "".join(_element(k, v) for k, v in item.items()) + "</List>" for item in items
    )
    return f"<xml>{fields}<{wrapper}>{lists}</{wrapper}></xml>"


def _element(name: str, value: Any) -> str:
    # WeChat writes numbers bare and text in CDATA (the values here never contain "]]>").
    text = str(value)
    if text.isdigit():
        return f"<{name}>{text}</{name}>"
    return f"<{name}><![CDATA[{text}]]></{name}>"
