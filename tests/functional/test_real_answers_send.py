"""WeChat's real subscribe/send answers (tests/fixtures/real) replayed through the layer's send.

What WeChat refused, the layer refuses: locally before the call (a cheaper refusal: its own
checks run in a different order from WeChat's, e.g. keyword rules before the grant) or by
relaying WeChat's errcode from wxemu. What WeChat accepted, the layer sends. The summary test
prints how often the layer's errcode is WeChat's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.real_corpus import decidable, load
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke

SEND = "/cgi-bin/message/subscribe/send"
ROOT = Path(__file__).resolve().parents[2]
#: Token cases are about WeChat's token rules; the layer fetches and renews its own tokens.
CASES = [
    case
    for case in load("subscribe_send")
    if decidable(case) and "token" not in case.get("setup", {})
]


def _content(keywords: list[str]) -> str:
    return "".join(f"{code}:{{{{{code}.DATA}}}}\n" for code in keywords)


def replay(invoke: Invoke, server: RunningServer, case: dict[str, Any]) -> dict[str, Any]:
    """The case's template and grant on the demo app, synced by refresh_code, then send."""
    setup = case.get("setup", {})
    keywords = setup.get("keywords", ["thing1"])
    template = server.add_template(
        demo.APPID, "通知", _content(keywords), type=setup.get("type", 2)
    )
    if setup.get("grant", 1):
        server.grant(demo.APPID, demo.OPENID, template, setup.get("grant", 1))
    assert invoke("refresh_code", {})["errcode"] == 0
    if "daily_limit" in setup:
        server.set_daily_limit(demo.APPID, SEND, setup["daily_limit"])
    names = {
        "openid": "oUnknownUser-0000000000000000" if setup.get("touser") else demo.OPENID,
        "template_id": "UnknownTemplate-00000000000000000000000000"
        if setup.get("template")
        else template,
    }
    request = case["request"]
    if "raw" in request:
        event: Any = request["raw"]
    else:
        text = json.dumps(request["body"], ensure_ascii=False)
        for name, value in names.items():
            text = text.replace("{" + name + "}", value)
        event = json.loads(text)
    result: dict[str, Any] = invoke("send", event)
    return result


def judge(case: dict[str, Any], result: dict[str, Any]) -> tuple[bool, bool]:
    """(the layer accepted or refused as WeChat did, its errcode is WeChat's).

    A case marked ``layer: {"outcome": "sent"}`` is one where the layer deliberately sends
    something else than the posted request (a number as text): there it must send.
    """
    want = case["answer"].get("errcode", 0)
    got = result.get("errcode")
    if case.get("layer", {}).get("outcome") == "sent":
        return got == 0, got == want
    return (got == 0) == (want == 0), got == want


def sends(case: dict[str, Any]) -> bool:
    deliberate = case.get("layer", {}).get("outcome") == "sent"
    return bool(deliberate or case["answer"].get("errcode", 0) == 0)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_the_layer_refuses_what_wechat_refused_and_sends_what_it_accepted(
    invoke: Invoke, wxemu: RunningServer, case: dict[str, Any]
) -> None:
    result = replay(invoke, wxemu, case)
    same_outcome, _ = judge(case, result)
    assert same_outcome, f"{case['id']}: WeChat {case['answer']}, the layer {result}"
    sent = wxemu.messages(demo.APPID)
    assert len(sent) == (1 if sends(case) else 0)
    if sent:
        assert all(isinstance(item["value"], str) for item in sent[0]["data"].values())


def test_layer_agreement_figures(
    invoke: Invoke, wxemu: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = same_errcode = 0
    local: list[str] = []
    by_id = {case["id"]: case for case in CASES}
    for case in CASES:
        wxemu.reset()
        result = replay(invoke, wxemu, case)
        same_outcome, same_code = judge(case, result)
        outcome += same_outcome
        same_errcode += same_code
        if not same_code:
            local.append(f"{case['id']} ({result.get('errcode')})")
    with capsys.disabled():
        print(
            f"\nlayer send: {outcome}/{len(CASES)} subscribe/send cases accepted or refused as "
            f"WeChat did; WeChat's own errcode on {same_errcode}/{len(CASES)}; another errcode "
            f"(deliberate, each case says why): {', '.join(local) or 'none'}"
        )
    assert outcome == len(CASES)
    unexplained = [entry for entry in local if "layer" not in by_id[entry.split(" ")[0]]]
    assert not unexplained, f"another errcode with no explanation in the corpus: {unexplained}"
    # The README quotes these figures: keep them the same.
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    quoted = (
        f"all {len(CASES)} `subscribe/send` cases as WeChat did "
        f"({same_errcode} with WeChat's own errcode)"
    )
    assert quoted in readme, "update the README's Fidelity figures"
