"""Pushes in XML and JSON, parsed into typed events; hostile XML refused."""

from __future__ import annotations

import json

import pytest

from wxapush.wechat.events import (
    CHANGE,
    POPUP,
    SENT,
    Delivery,
    EventParseError,
    SubscriptionChoice,
    parse_document,
    parse_push,
)

# The samples of the subscribe-message page, the JSON ones without their trailing commas.
POPUP_XML = """<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName><FromUserName><![CDATA[otFpruAK8D-E6EfStSYonYSBZ8_4]]></FromUserName>
<CreateTime>1610969440</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event>
<SubscribeMsgPopupEvent>
 <List><TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>2</PopupScene></List>
 <List><TemplateId><![CDATA[9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>2</PopupScene></List>
</SubscribeMsgPopupEvent></xml>"""  # noqa: E501
POPUP_JSON = '{"ToUserName":"gh_123456789abc","FromUserName":"o7esq5OI1Uej6Xixw1lA2H7XDVbc","CreateTime":"1620973045","MsgType":"event","Event":"subscribe_msg_popup_event","List":[{"TemplateId":"hD-ixGOhYmUfjOnI8MCzQMPshzGVeux_2vzyvQu7O68","SubscribeStatusString":"accept","PopupScene":"0"}]}'  # noqa: E501
CHANGE_JSON = '{"ToUserName":"gh_123456789abc","FromUserName":"o7esq5OI1Uej6Xixw1lA2H7XDVbc","CreateTime":"1610968440","MsgType":"event","Event":"subscribe_msg_change_event","List":[{"TemplateId":"BEwX0BOT3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8","SubscribeStatusString":"reject"}]}'  # noqa: E501
SENT_XML = """<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName><FromUserName><![CDATA[otFpruAK8D-E6EfStSYonYSBZ8_4]]></FromUserName>
<CreateTime>1610969468</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_sent_event]]></Event>
<SubscribeMsgSentEvent><List><TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>
<MsgID>1700827132819554304</MsgID><ErrorCode>0</ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List></SubscribeMsgSentEvent></xml>"""  # noqa: E501
SENT_JSON = '{"ToUserName":"gh_123456789abc","FromUserName":"o7esq5PHRGBQYmeNyfG064wEFVpQ","CreateTime":"1620963428","MsgType":"event","Event":"subscribe_msg_sent_event","List":{"TemplateId":"BEwX0BO-T3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8","MsgID":"1864323726461255680","ErrorCode":"0","ErrorStatus":"success"}}'  # noqa: E501


def push(text: str):  # type: ignore[no-untyped-def]
    return parse_push(parse_document(text.encode()))


def test_popup_xml_with_two_list_elements() -> None:
    event = push(POPUP_XML)
    assert (event.event, event.from_user, event.create_time) == (
        POPUP,
        "otFpruAK8D-E6EfStSYonYSBZ8_4",
        1610969440,
    )
    assert event.choices == (
        SubscriptionChoice("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", "accept", "2"),
        SubscriptionChoice("9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI", "reject", "2"),
    )


def test_popup_json_with_a_list_array_and_string_create_time() -> None:
    event = push(POPUP_JSON)
    assert event.create_time == 1620973045
    assert event.choices == (
        SubscriptionChoice("hD-ixGOhYmUfjOnI8MCzQMPshzGVeux_2vzyvQu7O68", "accept", "0"),
    )


def test_change_event() -> None:
    event = push(CHANGE_JSON)
    assert event.event == CHANGE
    assert [(c.template_id, c.status) for c in event.choices] == [
        ("BEwX0BOT3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8", "reject")
    ]


def test_sent_event_xml_single_list() -> None:
    event = push(SENT_XML)
    assert event.event == SENT
    assert event.deliveries == (
        Delivery("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", 1700827132819554304, 0, "success"),
    )


def test_sent_event_json_list_as_a_bare_object() -> None:
    event = push(SENT_JSON)
    assert event.deliveries[0].msgid == 1864323726461255680
    assert event.deliveries[0].error_code == 0


def test_sent_event_failure_and_a_list_of_several() -> None:
    doc = json.loads(SENT_JSON)
    doc["List"] = [
        {"TemplateId": "t1", "MsgID": 1, "ErrorCode": "-1", "ErrorStatus": "system error"},
        {"TemplateId": "t2", "MsgID": str(2**64 - 1), "ErrorCode": 0, "ErrorStatus": "success"},
    ]
    event = parse_push(doc)
    assert event.deliveries == (
        Delivery("t1", 1, -1, "system error"),
        Delivery("t2", 2**64 - 1, 0, "success"),
    )


def test_other_pushes_parse_without_items() -> None:
    event = push(
        '{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY",'
        '"CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}'
    )
    assert (event.event, event.choices, event.deliveries) == ("debug_demo", (), ())


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<xml><ToUserName>&lol2;</ToUserName></xml>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><ToUserName>&xxe;</ToUserName></xml>"""


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (BILLION_LAUGHS.encode(), "DTD"),
        (EXTERNAL.encode(), "DTD"),
        (b"<xml><ToUserName>&undefined;</ToUserName></xml>", "well-formed"),
        (b"<xml><a>" * 20 + b"x" + b"</a>" * 20 + b"</xml>", "nested too deeply"),
        (b"<xml>" + b"<a>1</a>" * 2000 + b"</xml>", "too large"),
        (b"<xml><ToUserName>unclosed</xml>", "well-formed"),
        (b"<xml>just text</xml>", "no fields"),
        (b"\xff\xfe<xml/>", "not UTF-8"),
        ("<xml><a>中</a></xml>".encode("gbk"), "not UTF-8"),
        (b"", "neither JSON nor XML"),
        (b"hello", "neither JSON nor XML"),
        (b"{not json", "not valid JSON"),
        (b'{"a": NaN}', "not valid JSON"),
        (b"[" * 100000 + b"]" * 100000, "neither"),
        (b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}", "not valid JSON"),
    ],
)
def test_unreadable_documents_are_refused(body: bytes, problem: str) -> None:
    with pytest.raises(EventParseError, match=problem):
        parse_document(body)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"FromUserName": ""}, "FromUserName"),
        ({"CreateTime": "soon"}, "CreateTime"),
        ({"CreateTime": True}, "CreateTime"),
        ({"List": None}, "no List"),
        ({"List": []}, "1 to 50"),
        ({"List": [{"TemplateId": "t"}] * 51}, "1 to 50"),
        ({"List": ["text"]}, "object"),
        ({"List": {"TemplateId": "t", "MsgID": "x", "ErrorCode": 0}}, "MsgID"),
        ({"List": {"TemplateId": "t", "MsgID": str(2**64), "ErrorCode": 0}}, "out of range"),
        ({"List": {"TemplateId": "t", "MsgID": "-1", "ErrorCode": 0}}, "MsgID"),
        ({"List": {"MsgID": "1", "ErrorCode": 0}}, "TemplateId"),
        ({"List": {"TemplateId": "t", "MsgID": "1", "ErrorCode": "0", "ErrorStatus": 1}}, "Error"),
        ({"Event": 5}, "Event"),
    ],
)
def test_malformed_sent_events_name_the_field(change: dict, problem: str) -> None:  # type: ignore[type-arg]
    doc = {**json.loads(SENT_JSON), **change}
    with pytest.raises(EventParseError, match=problem):
        parse_push(doc)
