"""WeChat's pushes, XML or JSON, parsed into typed events.

The subscribe-message events: https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/subscribe-message.html
(section 订阅消息事件推送). In JSON their items sit under ``List``, a bare object when there is
one and an array when there are several; in XML under a ``SubscribeMsg…Event`` wrapper holding
one ``<List>`` per item. Both shapes become the same :class:`Push`.

XML is read with expat directly, refusing any DTD (and so every entity declaration) outright: a
push never carries one, and entity expansion is the classic XML attack. Depth and element count
are bounded too.
"""

from __future__ import annotations

import json
import xml.parsers.expat
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = [
    "CHANGE",
    "POPUP",
    "SENT",
    "Delivery",
    "EventParseError",
    "Push",
    "SubscriptionChoice",
    "parse_document",
    "parse_push",
]

POPUP = "subscribe_msg_popup_event"
CHANGE = "subscribe_msg_change_event"
SENT = "subscribe_msg_sent_event"
_WRAPPERS = {
    POPUP: "SubscribeMsgPopupEvent",
    CHANGE: "SubscribeMsgChangeEvent",
    SENT: "SubscribeMsgSentEvent",
}
#: A popup carries at most 5 templates; anything near this bound is not WeChat's.
MAX_ITEMS = 50
_MAX_DEPTH = 8
_MAX_ELEMENTS = 1000
_MSGID_MAX = 2**64 - 1


class EventParseError(ValueError):
    """A body that is not a well-formed push (the message names what is wrong)."""


@dataclass(frozen=True)
class SubscriptionChoice:
    """One template of a popup or change event: ``accept`` or ``reject`` (``ban`` is read too)."""

    template_id: str
    status: str
    popup_scene: Optional[str] = None


@dataclass(frozen=True)
class Delivery:
    """One item of ``subscribe_msg_sent_event``: the final outcome of the message ``msgid``."""

    template_id: str
    msgid: int
    error_code: int
    error_status: str


@dataclass(frozen=True)
class Push:
    """A push: the common fields, and the items of a subscribe-message event if it is one."""

    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    event: Optional[str]
    choices: Tuple[SubscriptionChoice, ...] = ()
    deliveries: Tuple[Delivery, ...] = ()


# -- documents ---------------------------------------------------------------------------------


def parse_document(body: bytes) -> Dict[str, Any]:
    """A JSON or XML push body as a dict (XML: the children of ``<xml>``; ``<List>`` repeated
    becomes a list). The format is told by the first character, as WeChat sends either."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EventParseError("the body is not UTF-8") from None
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise EventParseError("the body is not valid JSON") from None
        if not isinstance(value, dict):
            raise EventParseError("the JSON body is not an object")
        return value
    if stripped.startswith("<"):
        return _parse_xml(stripped.encode("utf-8"))
    raise EventParseError("the body is neither JSON nor XML")


def _no_constant(name: str) -> Any:
    raise ValueError(name)


class _XmlTree:
    """Builds ``{tag: text | dict | [..]}`` from expat callbacks, refusing DTDs and entities."""

    def __init__(self) -> None:
        self.stack: List[Tuple[str, Dict[str, Any], List[str]]] = []
        self.root: Optional[Dict[str, Any]] = None
        self.count = 0

    def start(self, tag: str, attrs: Mapping[str, str]) -> None:
        self.count += 1
        if len(self.stack) >= _MAX_DEPTH or self.count > _MAX_ELEMENTS:
            raise EventParseError("the XML is nested too deeply or too large")
        self.stack.append((tag, {}, []))

    def end(self, tag: str) -> None:
        _, children, texts = self.stack.pop()
        value: Any = children if children else "".join(texts)
        if not self.stack:
            if not isinstance(value, dict):
                raise EventParseError("the XML root holds no fields")
            self.root = value
            return
        siblings = self.stack[-1][1]
        if tag in siblings:
            previous = siblings[tag]
            siblings[tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            siblings[tag] = value

    def text(self, data: str) -> None:
        if self.stack:
            self.stack[-1][2].append(data)

    def refuse(self, *args: Any) -> None:
        raise EventParseError("the XML declares a DTD or entities; pushes never do")


def _parse_xml(data: bytes) -> Dict[str, Any]:
    tree = _XmlTree()
    parser = xml.parsers.expat.ParserCreate("UTF-8")
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True  # one text callback per run of text, CDATA sections included
    parser.StartDoctypeDeclHandler = tree.refuse
    parser.EntityDeclHandler = tree.refuse
    parser.StartElementHandler = tree.start
    parser.EndElementHandler = tree.end
    parser.CharacterDataHandler = tree.text
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError:
        raise EventParseError("the body is not well-formed XML") from None
    if tree.root is None:
        raise EventParseError("the XML has no root element")
    return tree.root


# -- typed events ------------------------------------------------------------------------------


def parse_push(document: Mapping[str, Any]) -> Push:
    """The typed push of a parsed document; :class:`EventParseError` names a bad field."""
    msg_type = _text(document, "MsgType")
    event = document.get("Event")
    if event is not None and not isinstance(event, str):
        raise EventParseError("Event must be text")
    push = Push(
        to_user=_text(document, "ToUserName"),
        from_user=_text(document, "FromUserName"),
        create_time=_integer(document, "CreateTime", 2**63 - 1),
        msg_type=msg_type,
        event=event,
    )
    if msg_type != "event" or event not in _WRAPPERS:
        return push
    items = _items(document, _WRAPPERS[event])
    if event == SENT:
        return replace(push, deliveries=tuple(_delivery(item) for item in items))
    return replace(push, choices=tuple(_choice(item) for item in items))


def _items(document: Mapping[str, Any], wrapper: str) -> List[Mapping[str, Any]]:
    # JSON: List at the top; XML: List inside the wrapper element. A single item is a bare
    # object in JSON and a lone element in XML; several are an array either way.
    holder = document.get(wrapper)
    raw = holder.get("List") if isinstance(holder, Mapping) else document.get("List")
    if raw is None:
        raise EventParseError("the event has no List")
    items = raw if isinstance(raw, list) else [raw]
    if not items or len(items) > MAX_ITEMS:
        raise EventParseError(f"List must hold 1 to {MAX_ITEMS} items")
    for item in items:
        if not isinstance(item, Mapping):
            raise EventParseError("each List item must be an object")
    return items


def _choice(item: Mapping[str, Any]) -> SubscriptionChoice:
    scene = item.get("PopupScene")
    if scene is not None and not isinstance(scene, (str, int)):
        raise EventParseError("PopupScene must be text or a number")
    return SubscriptionChoice(
        template_id=_text(item, "TemplateId"),
        status=_text(item, "SubscribeStatusString"),
        popup_scene=None if scene is None else str(scene),
    )


def _delivery(item: Mapping[str, Any]) -> Delivery:
    status = item.get("ErrorStatus", "")
    if not isinstance(status, str):
        raise EventParseError("ErrorStatus must be text")
    return Delivery(
        template_id=_text(item, "TemplateId"),
        msgid=_integer(item, "MsgID", _MSGID_MAX),
        error_code=_integer(item, "ErrorCode", 2**31 - 1, signed=True),
        error_status=status,
    )


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value.strip():
        raise EventParseError(f"{name} must be non-empty text")
    return value.strip()


def _integer(fields: Mapping[str, Any], name: str, high: int, signed: bool = False) -> int:
    # The samples write numbers both as JSON numbers and as strings ("CreateTime": "1620973045").
    value = fields.get(name)
    if isinstance(value, str):
        digits = value.strip()
        body = digits[1:] if signed and digits.startswith("-") else digits
        if body.isdigit() and body.isascii() and len(body) <= 20:
            value = int(digits)
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventParseError(f"{name} must be an integer")
    if not (-high - 1 if signed else 0) <= value <= high:
        raise EventParseError(f"{name} is out of range")
    return value
