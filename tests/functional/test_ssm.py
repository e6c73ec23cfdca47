"""The AppSecret from Tencent SSM: the real tencentcloud SDK against wxemu's SSM fake.

The functions run as on SCF: ``WXAPUSH_APPSECRET_SSM`` instead of the secret, the role's keys
under SCF's names, and ``WXAPUSH_SSM_ENDPOINT`` pointing the SDK at wxemu.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from wxapush import ssm
from wxapush.app import reset_app
from wxapush.config import reset_settings
from wxapush.errors import Misconfigured, UpstreamError
from wxemu import demo
from wxemu.testing import RunningServer, running_server

from .conftest import Invoke, gateway_event, send_event

SECRET_NAME = "wxapush-appsecret"
ROLE = {
    "TENCENTCLOUD_SECRETID": "AKIDtestrole0000000000000000000000",
    "TENCENTCLOUD_SECRETKEY": "test-role-secret-key",
    "TENCENTCLOUD_SESSIONTOKEN": "test-role-session-token",
}


@pytest.fixture
def scf_env(
    env: dict[str, str], wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The functions' environment with the AppSecret in SSM (version v1 of SECRET_NAME)."""
    monkeypatch.delenv("WXAPUSH_APPSECRET")
    values = {
        "WXAPUSH_APPSECRET_SSM": f"{SECRET_NAME}@v1",
        "WXAPUSH_SSM_ENDPOINT": wxemu.base_url,
        "WXAPUSH_SSM_REGION": "ap-guangzhou",
        **ROLE,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    wxemu.put_secret(SECRET_NAME, demo.SECRET, version="v1")
    reset_settings()
    reset_app()
    ssm.reset_cache()
    yield values
    ssm.reset_cache()


def use(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Change the environment of a fresh instance."""
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_app()
    ssm.reset_cache()


def assert_failure(result: dict[str, Any], slug: str, errcode: int) -> None:
    assert result["error"] == slug and result["errcode"] == errcode, result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- the functions read the AppSecret from SSM ---------------------------------------------------


def test_send_reads_the_appsecret_through_the_sdk(
    scf_env: dict[str, str], invoke: Invoke, wxemu: RunningServer
) -> None:
    result = invoke("send", send_event())
    assert result["errcode"] == 0 and result["status"] == "sent", result
    assert len(wxemu.messages(demo.APPID)) == 1
    [request] = wxemu.emulator.ssm_requests
    # SCF's names for the role's keys reached the SDK, the session token included.
    assert request.action == "GetSecretValue"
    assert request.secret_id == ROLE["TENCENTCLOUD_SECRETID"]
    assert request.token == ROLE["TENCENTCLOUD_SESSIONTOKEN"]
    assert request.region == "ap-guangzhou"
    assert request.params == {"SecretName": SECRET_NAME, "VersionId": "v1"}
    assert demo.SECRET not in json.dumps(result)


def test_a_bare_name_reads_the_current_version(
    scf_env: dict[str, str], invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wxemu.put_secret(SECRET_NAME, "0" * 32, version="v0-rotated-out")
    wxemu.put_secret(SECRET_NAME, demo.SECRET, version="v2")  # set last: the current one
    use(monkeypatch, WXAPUSH_APPSECRET_SSM=SECRET_NAME)
    assert invoke("get_token", {})["errcode"] == 0
    assert wxemu.emulator.ssm_requests[-1].params["VersionId"] == "SSM_Current"


def test_the_secret_is_read_once_per_instance(
    scf_env: dict[str, str], invoke: Invoke, wxemu: RunningServer
) -> None:
    assert invoke("get_token", {})["errcode"] == 0
    assert invoke("get_token", {"force_refresh": True})["errcode"] == 0
    assert len(wxemu.emulator.ssm_requests) == 1


def test_a_binary_secret_is_decoded(
    scf_env: dict[str, str], invoke: Invoke, wxemu: RunningServer
) -> None:
    binary = base64.b64encode(demo.SECRET.encode()).decode()
    wxemu.control("POST", "secrets", json={"name": SECRET_NAME, "version": "v1", "binary": binary})
    assert invoke("get_token", {})["errcode"] == 0


# -- a secret that cannot be read is a named misconfiguration ------------------------------------


def test_a_wrong_secret_name_is_misconfigured_and_named(
    scf_env: dict[str, str], invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, WXAPUSH_APPSECRET_SSM="no-such-secret@v1")
    result = invoke("send", send_event())
    assert_failure(result, "misconfigured", 990501)
    assert "'no-such-secret'" in result["errmsg"] and "ResourceNotFound" in result["errmsg"]
    assert result["setting"] == "WXAPUSH_APPSECRET_SSM" and result["retryable"] is False
    assert wxemu.messages(demo.APPID) == []

    response = invoke("send", gateway_event("POST", "/send", send_event()))
    assert response["statusCode"] == 500
    assert_failure(json.loads(response["body"]), "misconfigured", 990501)


def test_a_wrong_version_is_misconfigured(
    scf_env: dict[str, str], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, WXAPUSH_APPSECRET_SSM=f"{SECRET_NAME}@v9")
    result = invoke("get_token", {})
    assert_failure(result, "misconfigured", 990501)
    assert f"'{SECRET_NAME}'" in result["errmsg"] and "'v9'" in result["errmsg"]


def test_no_role_credentials_is_misconfigured(
    scf_env: dict[str, str], invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TENCENTCLOUD_SECRETKEY")
    use(monkeypatch)
    result = invoke("get_token", {})
    assert_failure(result, "misconfigured", 990501)
    assert "TENCENTCLOUD_SECRETKEY" in result["errmsg"] and f"'{SECRET_NAME}'" in result["errmsg"]
    assert wxemu.emulator.ssm_requests == []


def test_no_region_is_misconfigured(
    scf_env: dict[str, str], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WXAPUSH_SSM_REGION")
    monkeypatch.delenv("TENCENTCLOUD_REGION", raising=False)
    use(monkeypatch)
    result = invoke("get_token", {})
    assert_failure(result, "misconfigured", 990501)
    assert result["setting"] == "WXAPUSH_SSM_REGION"


def test_a_malformed_endpoint_is_misconfigured(
    scf_env: dict[str, str], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, WXAPUSH_SSM_ENDPOINT="ssm.example:8080/path")
    result = invoke("get_token", {})
    assert_failure(result, "misconfigured", 990501)
    assert result["setting"] == "WXAPUSH_SSM_ENDPOINT"


def test_a_layer_without_the_sdk_is_misconfigured(
    scf_env: dict[str, str], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None entry makes `import tencentcloud…` fail as in a layer built without the extra.
    for name in [m for m in sys.modules if m.startswith("tencentcloud")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tencentcloud", None)
    result = invoke("get_token", {})
    assert_failure(result, "misconfigured", 990501)
    assert "tencentcloud-sdk-python-ssm" in result["errmsg"]


# -- SSM unreachable: retryable, and a value already read keeps serving --------------------------


def test_ssm_unreachable_with_nothing_read_is_a_retryable_upstream_error(
    scf_env: dict[str, str], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, WXAPUSH_SSM_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    result = invoke("get_token", {})
    assert_failure(result, "upstream_error", 990502)
    assert result["retryable"] is True and f"'{SECRET_NAME}'" in result["errmsg"]


def test_a_value_read_before_serves_while_ssm_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"WXAPUSH_SSM_REGION": "ap-guangzhou", **ROLE}
    ssm.reset_cache()
    with running_server() as fake:
        fake.put_secret(SECRET_NAME, "first-value")
        env["WXAPUSH_SSM_ENDPOINT"] = fake.base_url
        assert ssm.read_secret(SECRET_NAME, env) == "first-value"
    monkeypatch.setattr(ssm, "CACHE_SECONDS", 0.0)  # the cached value is now stale
    try:
        assert ssm.read_secret(SECRET_NAME, env) == "first-value"
        assert ssm.cached_values() == ("first-value",)
        ssm.reset_cache()
        with pytest.raises(UpstreamError):
            ssm.read_secret(SECRET_NAME, env)
    finally:
        ssm.reset_cache()


def test_an_empty_secret_is_misconfigured(wxemu: RunningServer) -> None:
    env = {"WXAPUSH_SSM_REGION": "ap-guangzhou", "WXAPUSH_SSM_ENDPOINT": wxemu.base_url, **ROLE}
    wxemu.put_secret("blank", "   ")
    ssm.reset_cache()
    with pytest.raises(Misconfigured) as caught:
        ssm.read_secret("blank@v1", env)
    assert "'blank'" in caught.value.errmsg


# -- the secret never reaches a log or a result --------------------------------------------------


def test_the_secret_stays_out_of_logs_even_at_debug(
    scf_env: dict[str, str],
    invoke: Invoke,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger(ssm.SDK_LOGGER).setLevel(logging.DEBUG)  # as a debugging operator might
    results = [invoke("get_token", {}), invoke("send", send_event())]
    assert all(r["errcode"] == 0 for r in results), results
    captured = capsys.readouterr()
    for text in (caplog.text, captured.out, captured.err, json.dumps(results[1])):
        assert demo.SECRET not in text


def test_an_unexpected_failure_log_is_redacted_of_the_ssm_secret(
    scf_env: dict[str, str], invoke: Invoke, caplog: pytest.LogCaptureFixture
) -> None:
    from wxapush import runtime

    assert invoke("get_token", {})["errcode"] == 0  # the secret is now held by the instance

    def leaky(inv: Any) -> Any:
        raise RuntimeError(f"boom near {demo.SECRET}")

    result = runtime.invoke(leaky, {}, {})
    assert_failure(result, "internal", 990500)
    assert "boom near ***" in caplog.text and demo.SECRET not in caplog.text


# -- the fake speaks Tencent Cloud API v3 --------------------------------------------------------


def cloud_api(wxemu: RunningServer, body: Any, **headers: str) -> requests.Response:
    base = {
        "X-TC-Action": "GetSecretValue",
        "X-TC-Version": "2019-09-23",
        "X-TC-Timestamp": "1700000000",
        "X-TC-Region": "ap-guangzhou",
        "Content-Type": "application/json",
        "Authorization": "TC3-HMAC-SHA256 Credential=AKIDx/2023-11-14/ssm/tc3_request, "
        "SignedHeaders=content-type;host, Signature=" + "0" * 64,
    }
    base.update(headers)
    return requests.post(wxemu.url("/"), data=json.dumps(body), headers=base, timeout=5)


@pytest.mark.parametrize(
    ("body", "headers", "code"),
    [
        ({"SecretName": "x", "VersionId": "v1"}, {}, "ResourceNotFound"),
        ({"SecretName": "x"}, {}, "MissingParameter"),
        ({"SecretName": "x", "VersionId": "v1"}, {"Authorization": "Bearer x"}, None),
        ({"SecretName": "x", "VersionId": "v1"}, {"X-TC-Version": "2017-03-12"}, "NoSuchVersion"),
        ({"SecretName": "x", "VersionId": "v1"}, {"X-TC-Action": "ListSecrets"}, "InvalidAction"),
    ],
)
def test_fake_errors_have_the_v3_shape(
    wxemu: RunningServer, body: Any, headers: dict[str, str], code: Any
) -> None:
    response = cloud_api(wxemu, body, **headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"  # exactly: the SDK needs it
    answer = response.json()["Response"]
    assert set(answer) == {"Error", "RequestId"} and answer["RequestId"]
    assert answer["Error"]["Code"] == (code or "AuthFailure.InvalidAuthorization")
    assert answer["Error"]["Message"]


def test_fake_answers_a_secret(wxemu: RunningServer) -> None:
    wxemu.put_secret("plain", "value-1", version="v1")
    answer = cloud_api(wxemu, {"SecretName": "plain", "VersionId": "SSM_Current"}).json()
    response = answer["Response"]
    assert response["SecretString"] == "value-1" and response["VersionId"] == "v1"
    assert response["SecretBinary"] == "" and response["RequestId"]
    listed = wxemu.control("GET", "secrets")["secrets"]
    assert listed == [{"name": "plain", "versions": ["v1"]}]


def test_fake_control_refuses_bad_secrets(wxemu: RunningServer) -> None:
    for body in ({"name": "x"}, {"name": "x", "value": "a", "binary": "YQ=="}, {"value": "a"}):
        response = wxemu.http.post(wxemu.url("/__wxemu__/secrets"), json=body, timeout=5)
        assert response.status_code == 400, body
        assert response.json()["error"]


def test_the_session_secret_from_ssm_signs_and_verifies_sessions(
    scf_env: dict[str, str], wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wxapush import session

    from .conftest import handler

    secret_value = "session-secret-held-in-ssm-0001"
    wxemu.put_secret("wxapush-session", secret_value, version="v1")
    monkeypatch.delenv("WXAPUSH_SESSION_SECRET", raising=False)
    use(monkeypatch, WXAPUSH_SESSION_SECRET_SSM="wxapush-session@v1")
    code = wxemu.login_code(demo.APPID, demo.OPENID)["code"]
    event = {"body": json.dumps({"code": code}), "headers": {}, "httpMethod": "POST",
             "path": "/", "queryString": {}}  # fmt: skip
    answer = handler("login")(event, {"request_id": "r"})
    assert answer["statusCode"] == 200, answer
    token = json.loads(answer["body"])["session"]
    assert session.verify(token, demo.APPID, [secret_value]).openid == demo.OPENID
    assert secret_value not in answer["body"]
