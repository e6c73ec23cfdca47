"""A fake of Tencent SSM (Secrets Manager) speaking Tencent Cloud API v3's wire format.

Enough of SSM for ``tencentcloud-sdk-python`` pointed at wxemu by endpoint
(``HttpProfile(protocol="http", endpoint="127.0.0.1:PORT")``) to read a secret with
``GetSecretValue`` (https://cloud.tencent.com/document/api/1140/40522):

* ``POST /`` with ``X-TC-Action``, ``X-TC-Version: 2019-09-23``, ``X-TC-Timestamp``,
  ``X-TC-Region``, optional ``X-TC-Token`` and a ``TC3-HMAC-SHA256`` ``Authorization`` header.
  The signature is checked for shape, not recomputed: the fake knows no SecretKey, and the
  layer under test builds its credential from whatever SCF hands it.
* Answers are HTTP 200 with ``{"Response": {..., "RequestId"}}``; errors are
  ``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}``. ``Content-Type`` is exactly
  ``application/json``: the SDK raises an ``Error`` only for that type (or ``text/plain``) and
  otherwise reads an error as an empty answer.

Secrets are set through the control plane (``POST /__wxemu__/secrets``, see
:mod:`wxemu.api.control`). ``VersionId: SSM_Current`` names the version set last.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from .state import Emulator

Response = tuple[int, dict[str, str], bytes]

API_VERSION = "2019-09-23"
#: The alias Tencent documents for "the version in use" (GetSecretValue's VersionId).
CURRENT = "SSM_Current"
CONTENT_TYPE = "application/json"
_HEADERS = {"Content-Type": CONTENT_TYPE}
# TC3-HMAC-SHA256 Credential=<SecretId>/<date>/<service>/tc3_request, SignedHeaders=…, Signature=…
_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/\s]+)/\d{4}-\d{2}-\d{2}/[a-z]+/tc3_request, "
    r"SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$"
)


@dataclass(frozen=True)
class SecretVersion:
    """One version of a secret: text (``SecretString``) or bytes (``SecretBinary``)."""

    name: str
    version: str
    text: str = ""
    binary: bytes = b""


@dataclass(frozen=True)
class SsmRequest:
    """What a client sent (for tests: which credentials and region the layer used)."""

    action: str
    secret_id: str
    token: Optional[str]
    region: str
    params: dict[str, Any]


class CloudApiError(Exception):
    """A Tencent Cloud API error: answered as ``Response.Error``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def put_secret(
    emulator: Emulator,
    name: str,
    version: str = "v1",
    text: str = "",
    binary: bytes = b"",
) -> SecretVersion:
    """Store (or replace) one version of a secret; it becomes the ``SSM_Current`` one."""
    if not name or not version or version == CURRENT:
        raise ValueError(f"a secret needs a name and a version other than {CURRENT}")
    if bool(text) == bool(binary):
        raise ValueError("a secret holds either text or binary, not both, not neither")
    secret = SecretVersion(name, version, text, binary)
    with emulator.lock:
        versions = emulator.secrets.setdefault(name, {})
        versions.pop(version, None)  # re-inserted last: the newest is the current one
        versions[version] = secret
    return secret


def get_secret_value(emulator: Emulator, params: Mapping[str, Any]) -> dict[str, Any]:
    """``GetSecretValue``: ``SecretName`` and ``VersionId`` (both required) -> the value."""
    name, version = params.get("SecretName"), params.get("VersionId")
    for field, value in (("SecretName", name), ("VersionId", version)):
        if not isinstance(value, str) or not value:
            raise CloudApiError("MissingParameter", f"The request is missing {field}.")
    with emulator.lock:
        versions = emulator.secrets.get(str(name), {})
        secret = versions.get(str(version))
        if version == CURRENT and versions:
            secret = list(versions.values())[-1]
    if secret is None:
        raise CloudApiError("ResourceNotFound", f"The secret {name!r} has no version {version!r}.")
    return {
        "SecretName": secret.name,
        "VersionId": secret.version,
        "SecretString": secret.text,
        "SecretBinary": base64.b64encode(secret.binary).decode("ascii"),
    }


ACTIONS: dict[str, Callable[[Emulator, Mapping[str, Any]], dict[str, Any]]] = {
    "GetSecretValue": get_secret_value,
}
#: action -> the API version it speaks (other Cloud API fakes register theirs: wxemu.scf).
VERSIONS: dict[str, str] = {"GetSecretValue": API_VERSION}


def is_cloud_api_call(path: str, headers: Mapping[str, str]) -> bool:
    """Does this request speak Tencent Cloud API v3 (``POST /`` with ``X-TC-Action``)?"""
    return path == "/" and any(name.lower() == "x-tc-action" for name in headers)


def answer(emulator: Emulator, method: str, headers: Mapping[str, str], body: bytes) -> Response:
    """Answer one Cloud API request: ``(200, headers, {"Response": …})``."""
    lowered = {name.lower(): value for name, value in headers.items()}
    request_id = str(uuid.uuid4())
    try:
        request = _parse(method, lowered, body)
        handler = ACTIONS.get(request.action)
        if handler is None:
            raise CloudApiError("InvalidAction", f"The action {request.action!r} is unknown.")
        with emulator.lock:
            emulator.ssm_requests.append(request)
        payload: dict[str, Any] = handler(emulator, request.params)
    except CloudApiError as exc:
        payload = {"Error": {"Code": exc.code, "Message": exc.message}}
    payload["RequestId"] = request_id
    text = json.dumps({"Response": payload}, ensure_ascii=False, separators=(",", ":"))
    return 200, dict(_HEADERS), text.encode("utf-8")


def _parse(method: str, headers: Mapping[str, str], body: bytes) -> SsmRequest:
    if method != "POST":
        raise CloudApiError("UnsupportedProtocol", "wxemu's Cloud API accepts POST only.")
    signature = _AUTHORIZATION.match(headers.get("authorization", ""))
    if signature is None:
        raise CloudApiError(
            "AuthFailure.InvalidAuthorization",
            "The Authorization header is not a TC3-HMAC-SHA256 signature.",
        )
    for name in ("x-tc-timestamp", "x-tc-region"):
        if not headers.get(name):
            raise CloudApiError("MissingParameter", f"The request is missing {name}.")
    version = VERSIONS.get(headers.get("x-tc-action", ""), API_VERSION)
    if headers.get("x-tc-version") != version:
        raise CloudApiError("NoSuchVersion", f"wxemu speaks version {version} of this API only.")
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        raise CloudApiError("InvalidParameter", "The body is not JSON.") from None
    if not isinstance(params, dict):
        raise CloudApiError("InvalidParameter", "The body must be a JSON object.")
    token = headers.get("x-tc-token") or None
    return SsmRequest(
        headers["x-tc-action"], signature["id"], token, headers["x-tc-region"], params
    )


def decode_binary(value: Optional[str]) -> bytes:
    """A control-plane ``binary`` field (base64) as bytes; ValueError when malformed."""
    if not value:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("binary must be base64") from None
