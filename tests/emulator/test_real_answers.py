"""WeChat's real answers (tests/fixtures/real) replayed against wxemu over HTTP.

Every decidable case must agree on the errcode, and today's errmsgs (rid folded) on the text;
the summary test prints the agreement figures that docs/wxemu.md and the README quote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.real_corpus import Tally, decidable, errmsg_agrees, expected_errmsg, load
from wxemu.testing import RunningServer

HTTP_FILES = ("subscribe_send", "token", "stable_token", "jscode2session", "newtmpl")
CASES = [case for name in HTTP_FILES for case in load(name) if decidable(case)]
SEND = "/cgi-bin/message/subscribe/send"
MIN_ERRMSG_PERCENT = 95.0
ROOT = Path(__file__).resolve().parents[2]


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, filled in names.items():
            value = value.replace("{" + name + "}", filled)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


def _content(keywords: list[str]) -> str:
    return "".join(f"{code}:{{{{{code}.DATA}}}}\n" for code in keywords)


def _token(server: RunningServer, app: dict[str, str], kind: str) -> str:
    if kind == "missing":
        return ""
    token = server.token(app["appid"], app["secret"])
    if kind == "superseded":
        server.token(app["appid"], app["secret"])  # a newer one; the old lives 5 more minutes
        server.advance(301)
    elif kind == "expired":
        server.advance(7201)
    return token


def replay(server: RunningServer, case: dict[str, Any]) -> requests.Response:
    """Arrange the case's setup on a fresh app, then send its request over HTTP."""
    server.reset()
    setup = case.get("setup", {})
    app = server.add_app()
    openid = server.login_code(app["appid"])["openid"]
    names = {"appid": app["appid"], "secret": app["secret"], "openid": openid}
    request = case["request"]
    http = server.http
    if case["file"] == "subscribe_send":
        keywords = setup.get("keywords", ["thing1"])
        template = server.add_template(
            app["appid"], "通知", _content(keywords), type=setup.get("type", 2)
        )
        grant = setup.get("grant", 1)
        if grant:
            server.grant(app["appid"], openid, template, grant)
        names["template_id"] = template
        if setup.get("touser") == "unknown":
            names["openid"] = "oUnknownUser-0000000000000000"
        if setup.get("template") == "unknown":
            names["template_id"] = "UnknownTemplate-00000000000000000000000000"
        if "daily_limit" in setup:
            server.set_daily_limit(app["appid"], SEND, setup["daily_limit"])
        token = _token(server, app, setup.get("token", "valid"))
        params = {"access_token": token} if token else {}
        if "raw" in request:
            data = _fill(request["raw"], names).encode("utf-8")
            return http.post(server.url(SEND), params=params, data=data)
        body = json.dumps(_fill(request["body"], names), ensure_ascii=False).encode("utf-8")
        return http.post(server.url(SEND), params=params, data=body)
    if "template_content" in setup:
        server.add_template(
            app["appid"], "提醒", setup["template_content"], setup.get("type", 2), setup["enums"]
        )
        names["token"] = server.token(app["appid"], app["secret"])
    if "{used_code}" in json.dumps(request):
        used = server.login_code(app["appid"])["code"]
        query = {"appid": app["appid"], "secret": app["secret"], "js_code": used}
        http.get(
            server.url("/sns/jscode2session"), params={**query, "grant_type": "authorization_code"}
        )
        names["used_code"] = used
    names["code"] = server.login_code(app["appid"])["code"]
    query = _fill(request.get("query", {}), names)
    if request["path"].startswith("/wxaapi/"):
        query["access_token"] = names.get("token") or server.token(app["appid"], app["secret"])
    if "form" in request:
        return http.post(server.url(request["path"]), data=_fill(request["form"], names))
    return http.request(request["method"], server.url(request["path"]), params=query)


def judge(case: dict[str, Any], response: requests.Response) -> tuple[bool, bool | None, str]:
    """(errcode agrees, errmsg agrees or None when not compared, what wxemu answered)."""
    answer = json.loads(response.text)
    want = case["answer"]
    errcode_ok = answer.get("errcode", 0) == want.get("errcode", 0)
    if case["file"] == "newtmpl" and errcode_ok and "data" in want:
        errcode_ok = _enum_lists(answer) == _enum_lists(want)
    expected = expected_errmsg(case)
    errmsg_ok = None
    if expected is not None:
        errmsg_ok = errmsg_agrees(expected, str(answer.get("errmsg", "")))
    return errcode_ok, errmsg_ok, response.text


def _enum_lists(answer: dict[str, Any]) -> list[Any]:
    return sorted(
        (item["keywordCode"], item["enumValueList"])
        for template in answer.get("data", [])
        for item in template.get("keywordEnumValueList", [])
    )


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_wxemu_answers_as_wechat_did(wxemu: RunningServer, case: dict[str, Any]) -> None:
    response = replay(wxemu, case)
    assert response.status_code == 200
    errcode_ok, errmsg_ok, text = judge(case, response)
    assert errcode_ok, f"{case['id']}: WeChat {case['answer']}, wxemu {text}"
    assert errmsg_ok is not False, f"{case['id']}: WeChat {case['answer']}, wxemu {text}"


def test_agreement_figures(wxemu: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    tally = Tally("wxemu")
    for case in CASES:
        errcode_ok, errmsg_ok, _ = judge(case, replay(wxemu, case))
        tally.add(case["id"], errcode_ok, errmsg_ok)
    total = len(load())
    header = f"real-answer corpus: {total} cases, {len(CASES)} replayed against wxemu"
    with capsys.disabled():
        print(f"\n{header}\n{tally.line()}")
    assert tally.errcode_agree == tally.errcode_total, tally.disagreements
    assert tally.errmsg_percent >= MIN_ERRMSG_PERCENT, tally.disagreements
    # docs/wxemu.md quotes these two lines and the README their figures: keep them the same.
    docs = (ROOT / "docs" / "wxemu.md").read_text(encoding="utf-8")
    assert f"{header}\n{tally.line()}" in docs, "update the Fidelity section of docs/wxemu.md"
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    figures = (
        f"{total} real requests and answers",
        f"errcode on {tally.errcode_agree}/{tally.errcode_total} decidable cases",
        f"today's errmsgs on {tally.errmsg_agree}/{tally.errmsg_total}",
    )
    assert all(figure in readme for figure in figures), "update the README's Fidelity figures"


def test_jscode2session_errors_are_plain_text(wxemu: RunningServer) -> None:
    case = next(c for c in CASES if c["id"] == "wxjava-458-40029")
    response = replay(wxemu, case)
    assert response.headers["Content-Type"] == "text/plain"
    assert json.loads(response.text)["errmsg"].startswith("invalid code, rid: ")
