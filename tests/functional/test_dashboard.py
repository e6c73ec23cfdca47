"""The dashboard function through its real entry point: pages, sign-in, sessions, the figures."""

from __future__ import annotations

import json
import re
import time
from functools import partial
from typing import Any, Dict, Optional

import pytest

from tests.functional.conftest import ADMIN_KEY, context, gateway_event, handler
from wxapush.app import current_app
from wxapush.services import dashboard_data
from wxapush.store import LogQuery, LogRecord, new_log_id
from wxemu import demo

HOST = "service-x.gz.apigw.tencentcs.com"


def call(
    method: str,
    path: str,
    body: Any = None,
    *,
    cookie: Optional[str] = None,
    headers: Optional[Dict[str, str]] = None,
    query: Optional[Dict[str, str]] = None,
    ip: Optional[str] = "10.0.0.1",
) -> Dict[str, Any]:
    event = gateway_event(method, path, body, key=None, query=query)
    if ip is None:  # a Function URL event: no requestContext, so no source address
        del event["requestContext"]
    else:
        event["requestContext"]["sourceIp"] = ip
    if cookie:
        event["headers"]["cookie"] = cookie
    event["headers"].update(headers or {})
    return handler("dashboard")(event, context())  # type: ignore[no-any-return]


def envelope(answer: Dict[str, Any]) -> Dict[str, Any]:
    return json.loads(answer["body"])  # type: ignore[no-any-return]


def sign_in(key: str = ADMIN_KEY, **kw: Any) -> Dict[str, Any]:
    return call("POST", "/dashboard/login", {"key": key}, **kw)


def session_cookie(answer: Dict[str, Any]) -> str:
    return str(answer["headers"]["Set-Cookie"]).split(";")[0]


@pytest.fixture
def cookie(env: Dict[str, str]) -> str:
    answer = sign_in()
    assert answer["statusCode"] == 200, answer
    return session_cookie(answer)


def seed(
    status: str,
    *,
    template_id: str = demo.TEMPLATE_ID,
    errcode: Any = None,
    touser: str = demo.OPENID,
    value: str = "手机保护壳",
    ago: float = 60,
) -> LogRecord:
    now = time.time() - ago
    record = LogRecord(
        log_id=new_log_id(),
        appid=demo.APPID,
        touser=touser,
        template_id=template_id,
        page=None,
        data={"thing1": {"value": value}},
        miniprogram_state="formal",
        lang="zh_CN",
        status=status,
        created_at=now,
        updated_at=now,
        errcode=errcode,
    )
    current_app().store.log.claim(record)
    return record


# -- pages -----------------------------------------------------------------------------------


def test_the_page_is_served_with_a_strict_csp_and_no_inline_script(env: Dict[str, str]) -> None:
    answer = call("GET", "/dashboard/")
    assert answer["statusCode"] == 200
    headers = answer["headers"]
    assert headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    html = answer["body"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert "//" not in re.sub(r"<!--.*?-->", "", html).replace("http://www.w3.org", "")


def test_the_folder_without_a_slash_redirects_relatively(env: Dict[str, str]) -> None:
    answer = call("GET", "/release/dashboard")
    assert answer["statusCode"] == 308
    assert answer["headers"]["Location"] == "dashboard/"


def test_static_files_and_unknown_ones(env: Dict[str, str]) -> None:
    js = call("GET", "/dashboard/static/app.js")
    assert js["statusCode"] == 200 and js["headers"]["Content-Type"].startswith("text/javascript")
    assert "textContent" in js["body"] and "innerHTML" not in js["body"]
    chart = call("GET", "/dashboard/static/chart.js")
    assert "createElementNS" in chart["body"] and "innerHTML" not in chart["body"]
    for path in ("/dashboard/static/nope.js", "/dashboard/static/../index.py"):
        answer = call("GET", path)
        assert answer["statusCode"] == 404, path
        assert envelope(answer)["error"] == "invalid_request"
        assert envelope(answer)["errcode"] == 990400


def test_a_wrong_method_is_405_with_allow(cookie: str) -> None:
    answer = call("POST", "/dashboard/api/summary", {}, cookie=cookie)
    assert answer["statusCode"] == 405
    assert answer["headers"]["Allow"] == "GET, HEAD"
    assert (envelope(answer)["error"], envelope(answer)["errcode"]) == ("invalid_request", 990405)
    assert call("GET", "/dashboard/login")["headers"]["Allow"] == "POST"
    unknown = call("GET", "/dashboard/api/x", cookie=cookie)
    assert unknown["statusCode"] == 404 and envelope(unknown)["errcode"] == 990400


def test_a_direct_invocation_is_refused_plainly(env: Dict[str, str]) -> None:
    result = handler("dashboard")({"action": "summary"}, context())
    assert (result["error"], result["errcode"]) == ("invalid_request", 990400)
    assert "HTTP" in result["errmsg"]


# -- sign-in -----------------------------------------------------------------------------------


def test_sign_in_sets_a_safe_cookie_and_never_echoes_the_key(env: Dict[str, str]) -> None:
    answer = sign_in()
    assert answer["statusCode"] == 200
    cookie = answer["headers"]["Set-Cookie"]
    assert cookie.startswith("wxapush_dashboard=")
    for part in ("HttpOnly", "SameSite=Strict", "Secure", "Max-Age=28800"):
        assert part in cookie.split("; "), part
    assert ADMIN_KEY not in json.dumps(answer)
    assert answer["headers"]["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "where",
    [{"origin": f"https://{HOST}"}, {"sec-fetch-site": "same-origin"}],
)
def test_the_pages_form_signs_in_without_script(env: Dict[str, str], where: Dict[str, str]) -> None:
    """The sign-in form posted by a browser with script off: back to the page, signed in."""
    headers = {"content-type": "application/x-www-form-urlencoded", **where}
    answer = call(
        "POST", "/dashboard/login", "key=" + ADMIN_KEY.replace("-", "%2D"), headers=headers
    )
    assert answer["statusCode"] == 303, answer
    assert answer["headers"]["Location"] == "./"
    assert answer["headers"]["Content-Security-Policy"]
    assert ADMIN_KEY not in json.dumps(answer)
    session = session_cookie(answer)
    assert envelope(call("GET", "/dashboard/api/session", cookie=session))["errcode"] == 0


def test_no_secure_flag_on_plain_http_to_this_machine(env: Dict[str, str]) -> None:
    answer = sign_in(headers={"host": "127.0.0.1:8700"})
    assert "Secure" not in answer["headers"]["Set-Cookie"]
    forwarded = sign_in(headers={"host": "127.0.0.1:8700", "x-forwarded-proto": "https"})
    assert "Secure" in forwarded["headers"]["Set-Cookie"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "error", "errcode"),
    [
        ({"key": "wrong"}, {}, 401, "unauthorized", 990401),
        ({"key": ""}, {}, 400, "invalid_request", 990400),
        ({"key": 42}, {}, 400, "invalid_request", 990400),
        (  # a form from another site (or one that does not say where it comes from)
            "key=" + ADMIN_KEY,
            {"content-type": "application/x-www-form-urlencoded"},
            403,
            "forbidden",
            990403,
        ),
        (
            "key=" + ADMIN_KEY,
            {
                "content-type": "application/x-www-form-urlencoded",
                "origin": "https://evil.example",
                "sec-fetch-site": "cross-site",
            },
            403,
            "forbidden",
            990403,
        ),
        (
            "key=",
            {"content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin"},
            400,
            "invalid_request",
            990400,
        ),
        ("{not json", {}, 400, "invalid_request", 990400),
    ],
)
def test_bad_sign_ins_are_refused_precisely(
    env: Dict[str, str],
    body: Any,
    headers: Dict[str, str],
    status: int,
    error: str,
    errcode: int,
) -> None:
    answer = call("POST", "/dashboard/login", body, headers=headers)
    assert answer["statusCode"] == status
    result = envelope(answer)
    assert (result["error"], result["errcode"]) == (error, errcode)
    assert "Set-Cookie" not in answer["headers"]
    assert ADMIN_KEY not in answer["body"]


def test_wrong_keys_are_throttled_per_source(env: Dict[str, str]) -> None:
    for _ in range(5):  # the burst of failures a source is allowed
        assert sign_in("wrong")["statusCode"] == 401
    assert sign_in("wrong")["statusCode"] == 429  # one too many: the source is locked
    throttled = sign_in()  # even the right key waits now
    assert throttled["statusCode"] == 429
    result = envelope(throttled)
    assert (result["error"], result["errcode"]) == ("rate_limited", 990429)
    assert result["retry_after"] > 0
    assert sign_in(ip="10.0.0.2")["statusCode"] == 200  # another source is not held up


def test_without_a_source_address_only_the_app_wide_limit_applies(env: Dict[str, str]) -> None:
    """Behind a Function URL everyone shares one bucket: a few bad attempts (fewer than the
    app-wide burst) must not lock the operator out as a per-source bucket of 5 would."""
    for _ in range(8):
        assert sign_in("wrong", ip=None)["statusCode"] == 401
    assert sign_in(ip=None)["statusCode"] == 200


def test_sign_in_is_refused_when_no_admin_key_is_set(
    env: Dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wxapush.app import reset_app
    from wxapush.config import reset_settings

    monkeypatch.delenv("WXAPUSH_ADMIN_KEY")
    reset_settings()
    reset_app()
    answer = sign_in()
    assert (envelope(answer)["error"], envelope(answer)["errcode"]) == ("unauthorized", 990401)


@pytest.mark.parametrize(
    "bad",
    ["", "wxapush_dashboard=1.2.3", "wxapush_dashboard=abc", "other=1"],
)
def test_the_api_needs_a_valid_session(env: Dict[str, str], bad: str) -> None:
    answer = call("GET", "/dashboard/api/summary", cookie=bad)
    assert answer["statusCode"] == 401
    assert (envelope(answer)["error"], envelope(answer)["errcode"]) == ("unauthorized", 990401)


def test_a_tampered_or_expired_session_is_refused(cookie: str) -> None:
    issued, expires, mac = cookie.split("=", 1)[1].split(".")
    longer = f"wxapush_dashboard={issued}.{int(expires) + 3600}.{mac}"
    assert call("GET", "/dashboard/api/session", cookie=longer)["statusCode"] == 401
    assert call("GET", "/dashboard/api/session", cookie=cookie)["statusCode"] == 200


def test_sign_out_needs_the_csrf_token_and_ends_the_session(cookie: str) -> None:
    session = envelope(call("GET", "/dashboard/api/session", cookie=cookie))
    token = session["csrf_token"]
    refused = call("POST", "/dashboard/logout", {}, cookie=cookie)
    assert (envelope(refused)["error"], envelope(refused)["errcode"]) == ("unauthorized", 990401)
    wrong = call("POST", "/dashboard/logout", {}, cookie=cookie, headers={"x-csrf-token": "x"})
    assert wrong["statusCode"] == 401
    out = call("POST", "/dashboard/logout", {}, cookie=cookie, headers={"x-csrf-token": token})
    assert out["statusCode"] == 200
    assert out["headers"]["Set-Cookie"].startswith("wxapush_dashboard=; Max-Age=0")
    after = call("GET", "/dashboard/api/summary", cookie=cookie)
    assert after["statusCode"] == 401 and "signed out" in envelope(after)["errmsg"]


# -- figures and tables ------------------------------------------------------------------------


def test_summary_counts_per_status_day_template_and_errcode(cookie: str) -> None:
    for _ in range(3):
        seed("delivered", errcode=0)
    seed("sent", errcode=0)
    seed("failed", errcode=43101)
    seed("failed", errcode=43101, template_id="TPL_OTHER")
    seed("rejected", errcode=47003)
    answer = call("GET", "/dashboard/api/summary", cookie=cookie)
    assert answer["statusCode"] == 200
    s = envelope(answer)
    assert s["totals"]["delivered"] == 3 and s["totals"]["failed"] == 2
    assert s["totals"]["rejected"] == 1 and s["totals"]["pending"] == 0
    assert len(s["days"]) == 7 and s["tz"] == "Asia/Shanghai"
    # the records are a minute old: today's, or (just after midnight) yesterday's
    busy = [day for day in s["days"] if day["counts"]]
    assert len(busy) == 1 or (len(busy) == 2 and busy[1] == s["days"][-1])
    merged: Dict[str, int] = {}
    for day in busy:
        for status, n in day["counts"].items():
            merged[status] = merged.get(status, 0) + n
    assert merged == {"delivered": 3, "sent": 1, "failed": 2, "rejected": 1}
    assert s["rate"] == {"sent": 4, "delivered": 3, "delivery_rate": 0.75}
    if len(busy) == 1:
        assert (busy[0]["sent"], busy[0]["delivered"], busy[0]["delivery_rate"]) == (4, 3, 0.75)
    assert s["errcodes"][0]["errcode"] == 43101 and s["errcodes"][0]["count"] == 2
    assert "subscribed" in s["errcodes"][0]["meaning"]
    tpl = next(t for t in s["templates"] if t["template_id"] == demo.TEMPLATE_ID)
    assert (tpl["sent"], tpl["delivered"], tpl["refused"]) == (4, 3, 2)
    assert tpl["top_refusal"]["errcode"] in (43101, 47003)


def test_the_period_is_chosen_and_checked(cookie: str) -> None:
    ok = call(
        "GET",
        "/dashboard/api/summary",
        cookie=cookie,
        query={"begin_date": "2026-01-01", "end_date": "2026-01-31"},
    )
    assert len(envelope(ok)["days"]) == 31
    for query in (
        {"begin_date": "2026-02-01", "end_date": "2026-01-01"},
        {"begin_date": "2026-13-01"},
        {"begin_date": "2020-01-01", "end_date": "2026-01-01"},
    ):
        answer = call("GET", "/dashboard/api/summary", cookie=cookie, query=query)
        assert answer["statusCode"] == 400, query
        assert (envelope(answer)["error"], envelope(answer)["errcode"]) == (
            "invalid_request",
            990400,
        )


def test_the_log_filters_and_pages_and_keeps_values_as_data(cookie: str) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    seed("failed", errcode=43101, touser="oOther", value=hostile, ago=30)
    for i in range(3):
        seed("delivered", errcode=0, ago=100 + i)
    page = envelope(call("GET", "/dashboard/api/log", cookie=cookie, query={"count": "2"}))
    assert page["total"] == 4 and len(page["list"]) == 2
    assert page["list"][0]["data"] == {"thing1": {"value": hostile}}
    failed = envelope(
        call(
            "GET",
            "/dashboard/api/log",
            cookie=cookie,
            query={"status": "failed", "touser": "oOther"},
        )
    )
    assert failed["total"] == 1 and failed["list"][0]["errcode"] == 43101
    bad = call("GET", "/dashboard/api/log", cookie=cookie, query={"status": "lost"})
    assert (envelope(bad)["error"], envelope(bad)["errcode"]) == ("invalid_request", 990400)
    by_code = envelope(call("GET", "/dashboard/api/log", cookie=cookie, query={"errcode": "0"}))
    assert by_code["total"] == 3 and {m["errcode"] for m in by_code["list"]} == {0}
    bad = call("GET", "/dashboard/api/log", cookie=cookie, query={"errcode": "4x"})
    assert (envelope(bad)["error"], envelope(bad)["errcode"]) == ("invalid_request", 990400)


def test_the_log_flags_an_estimated_total(cookie: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(4):
        seed("delivered", errcode=0, ago=10 + i)
    exact = envelope(call("GET", "/dashboard/api/log", cookie=cookie, query={"count": "2"}))
    assert (exact["total"], exact["total_exact"]) == (4, True)
    # The bound is 500 (LogQuery.exact_up_to); 2 here stands in for it.
    monkeypatch.setattr(dashboard_data, "LogQuery", partial(LogQuery, exact_up_to=2))
    page = envelope(call("GET", "/dashboard/api/log", cookie=cookie, query={"count": "2"}))
    assert (page["total"], page["total_exact"], len(page["list"])) == (3, False, 2)


def test_a_users_history_with_grants(cookie: str) -> None:
    seed("delivered", errcode=0)
    seed("sent", errcode=0, touser="oSomeoneElse")
    answer = envelope(
        call("GET", "/dashboard/api/user", cookie=cookie, query={"openid": demo.OPENID})
    )
    assert answer["total"] == 1 and answer["list"][0]["touser"] == demo.OPENID
    assert isinstance(answer["grants"], list)
    missing = call("GET", "/dashboard/api/user", cookie=cookie)
    assert (envelope(missing)["error"], envelope(missing)["errcode"]) == ("invalid_request", 990400)


def test_behind_a_function_url_at_the_root(env: Dict[str, str]) -> None:
    """SCF's Function URL event: no requestContext, the function at the URL's root."""

    def event(method: str, path: str, body: str = "", **headers: str) -> Dict[str, Any]:
        return {
            "httpMethod": method,
            "path": path,
            "headers": {"host": "1250000000-abc-ap-guangzhou.scf.tencentcs.com", **headers},
            "queryString": {},
            "body": body,
        }

    run = handler("dashboard")
    page = run(event("GET", "/"), context())
    assert page["statusCode"] == 200 and 'src="static/app.js"' in page["body"]
    login = run(event("POST", "/login", json.dumps({"key": ADMIN_KEY}),
                      **{"content-type": "application/json"}), context())  # fmt: skip
    assert login["statusCode"] == 200
    assert "Secure" in login["headers"]["Set-Cookie"]
    summary = run(event("GET", "/api/summary", cookie=session_cookie(login)), context())
    assert summary["statusCode"] == 200 and envelope(summary)["errcode"] == 0
