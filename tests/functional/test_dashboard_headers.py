"""The dashboard's error answers carry its security headers, whichever layer refuses; JSON
answers of every function carry ``no-store``; redirects never come from the request's text."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from tests.functional.conftest import context, gateway_event, handler
from tests.functional.test_dashboard import call

SECURITY = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
)


def has_security_headers(answer: Dict[str, Any]) -> None:
    headers = answer["headers"]
    assert [name for name in SECURITY if name not in headers] == []
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [
        ("GET", "/dashboard/api/summary", None, {}, 401),  # not signed in
        ("POST", "/dashboard/login", "key=x", {"content-type": "text/plain"}, 400),
        ("PUT", "/dashboard/", None, {}, 405),
        ("DELETE", "/dashboard/api/log", None, {}, 405),
        ("GET", "/dashboard/api/nothing", None, {}, 401),
        ("GET", "/dashboard/static/nothing.js", None, {}, 404),
    ],
)
def test_every_dashboard_error_carries_the_security_headers(
    env: Dict[str, str],
    method: str,
    path: str,
    body: Any,
    headers: Dict[str, str],
    status: int,
) -> None:
    answer = call(method, path, body, headers=headers)
    assert answer["statusCode"] == status
    has_security_headers(answer)
    if answer["headers"]["Content-Type"].startswith("application/json"):
        assert answer["headers"]["Cache-Control"] == "no-store"


def test_a_request_refused_before_the_dashboard_reads_it_carries_them_too(
    env: Dict[str, str],
) -> None:
    event = gateway_event("POST", "/dashboard/login", None, key=None)
    event.update(body="%%% not base64", isBase64Encoded=True)
    answer = handler("dashboard")(event, context())
    assert answer["statusCode"] == 400
    has_security_headers(answer)
    assert answer["headers"]["Cache-Control"] == "no-store"


@pytest.mark.parametrize("function", ["get_token", "send", "send_log"])
def test_api_errors_and_answers_are_not_cached(env: Dict[str, str], function: str) -> None:
    refused = handler(function)(gateway_event("POST", f"/{function}", {}, key="wrong"), context())
    assert refused["statusCode"] == 401
    assert refused["headers"]["Cache-Control"] == "no-store"
    answer = handler("get_token")(gateway_event("POST", "/get_token", {}), context())
    assert answer["statusCode"] == 200 and answer["headers"]["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/dashboard/\\evil.com", "/dashboard/\\\\evil.com", "/dashboard/%5Cevil.com", "/x"]
)
def test_no_redirect_is_built_from_the_request_s_path(env: Dict[str, str], path: str) -> None:
    answer = call("GET", path)
    assert answer["statusCode"] == 404
    assert "Location" not in answer["headers"]
    has_security_headers(answer)


def test_the_dashboard_folder_still_redirects_to_itself(env: Dict[str, str]) -> None:
    answer = call("GET", "/release/dashboard")
    assert (answer["statusCode"], answer["headers"]["Location"]) == (308, "dashboard/")
    has_security_headers(answer)
