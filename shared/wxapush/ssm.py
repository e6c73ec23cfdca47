"""The AppSecret from Tencent SSM (Secrets Manager), read with the function's own role.

``GetSecretValue`` (https://cloud.tencent.com/document/api/1140/40522) through
``tencentcloud-sdk-python`` (the ``tencentcloud-sdk-python-ssm`` split package), imported only
when a secret is first read, so that a function configured with a plain AppSecret never loads it.

* **Credentials**: SCF hands the execution role's temporary keys to the function as
  ``TENCENTCLOUD_SECRETID`` / ``TENCENTCLOUD_SECRETKEY`` / ``TENCENTCLOUD_SESSIONTOKEN``
  (https://www.tencentcloud.com/document/product/583/32748), names none of the SDK's credential
  providers reads, so the credential is built from them here.
* **Version**: ``WXAPUSH_APPSECRET_SSM=name@version`` reads that version; a bare ``name`` reads
  ``SSM_Current``, the alias Tencent documents for the version in use.
* **Region and endpoint**: ``WXAPUSH_SSM_REGION`` (else ``TENCENTCLOUD_REGION``);
  ``WXAPUSH_SSM_ENDPOINT`` (``http(s)://host[:port]``) replaces ``ssm.tencentcloudapi.com``,
  e.g. to reach wxemu's SSM fake locally.
* **Cache**: a value read is kept by the instance for :data:`CACHE_SECONDS`; when SSM cannot be
  reached after that, the last value read is used rather than failing a send.

A missing or unreadable secret raises :class:`Misconfigured` naming the secret (never its
value); SSM being unreachable with nothing cached raises a retryable :class:`UpstreamError`.
The SDK logs whole responses at DEBUG, so its logger is held at INFO: the secret never reaches
a log.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
import time
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from wxapush.errors import Misconfigured, UpstreamError

__all__ = ["CACHE_SECONDS", "CURRENT_VERSION", "cached_values", "read_secret", "reset_cache"]

SETTING = "WXAPUSH_APPSECRET_SSM"
#: How long an instance trusts a value it read (a changed secret reaches it within this).
CACHE_SECONDS = 300.0
#: The VersionId Tencent documents for "the version in use".
CURRENT_VERSION = "SSM_Current"
#: Seconds to wait for SSM: well inside the functions' 10-15 s timeouts.
TIMEOUT_SECONDS = 5
#: The SDK's logger (``tencentcloud.common.abstract_client.LOGGER_NAME``).
SDK_LOGGER = "tencentcloud_sdk_common"

# SDK error codes after which asking again later may work; any other code means this secret
# cannot be read with this configuration (name, version, region, role), which a retry won't fix.
_TRANSIENT = frozenset({"ClientNetworkError", "ServerNetworkError", "InternalError"})

_Key = Tuple[str, str, str, str]
_cache: Dict[_Key, Tuple[float, str]] = {}
_lock = threading.Lock()


def read_secret(ref: str, env: Optional[Mapping[str, str]] = None, setting: str = SETTING) -> str:
    """The text of the SSM secret ``ref`` (``name`` or ``name@version``), cached per instance.

    ``env`` defaults to ``os.environ``, read at each call: the role's keys belong to the
    instance, not to the configuration read once at start. ``setting`` is the variable that
    named the secret, for errors (the AppSecret's by default).
    """
    env = os.environ if env is None else env
    name, _, version = ref.partition("@")
    version = version or CURRENT_VERSION
    raw_endpoint = _setting(env, "WXAPUSH_SSM_ENDPOINT")
    endpoint = _endpoint(raw_endpoint) if raw_endpoint else None
    region = _setting(env, "WXAPUSH_SSM_REGION") or _setting(env, "TENCENTCLOUD_REGION")
    if region is None:
        raise Misconfigured(
            f"reading SSM secret {name!r} needs a region: set WXAPUSH_SSM_REGION",
            setting="WXAPUSH_SSM_REGION",
        )
    key = (name, version, region, raw_endpoint or "")
    # One lock for all: an instance asks SSM once per CACHE_SECONDS however many threads wait.
    with _lock:
        now = time.monotonic()
        cached = _cache.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            value = _fetch(name, version, region, endpoint, env, setting)
        except UpstreamError:
            if cached is not None:
                return cached[1]  # an SSM hiccup must not fail a send the old value can serve
            raise
        _cache[key] = (now, value)
        return value


def cached_values() -> Tuple[str, ...]:
    """Every secret value this instance holds, for :func:`wxapush.errors.redact`."""
    with _lock:
        return tuple(value for _, value in _cache.values())


def reset_cache() -> None:
    """Forget every value read (tests, or a rotated secret that must be read at once)."""
    with _lock:
        _cache.clear()


def _setting(env: Mapping[str, str], name: str) -> Optional[str]:
    value = (env.get(name) or "").strip()
    return value or None


def _fetch(
    name: str,
    version: str,
    region: str,
    endpoint: Optional[Tuple[str, str]],
    env: Mapping[str, str],
    setting: str = SETTING,
) -> str:
    secret_id = _setting(env, "TENCENTCLOUD_SECRETID")
    secret_key = _setting(env, "TENCENTCLOUD_SECRETKEY")
    if secret_id is None or secret_key is None:
        raise Misconfigured(
            f"reading SSM secret {name!r} needs the function's role credentials "
            "(TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY are not set): give the "
            "function an execution role allowed to read the secret",
            setting=setting,
        )
    try:
        from tencentcloud.common.credential import Credential
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.ssm.v20190923 import models, ssm_client
    except ImportError:
        raise Misconfigured(
            f"{setting} is set, but tencentcloud-sdk-python-ssm is not installed: build the "
            "layer with it (wxapush package --extras tencent)",
            setting=setting,
        ) from None
    # The SDK logs each response whole at DEBUG: the secret must never get there.
    logging.getLogger(SDK_LOGGER).setLevel(logging.INFO)

    scheme, host = endpoint or ("https", None)  # None: the SDK's ssm.tencentcloudapi.com
    http = HttpProfile(protocol=scheme, endpoint=host, reqTimeout=TIMEOUT_SECONDS)
    token = _setting(env, "TENCENTCLOUD_SESSIONTOKEN")
    client = ssm_client.SsmClient(
        Credential(secret_id, secret_key, token), region, ClientProfile(httpProfile=http)
    )
    request = models.GetSecretValueRequest()
    request.SecretName = name
    request.VersionId = version
    try:
        response = client.GetSecretValue(request)
    except TencentCloudSDKException as exc:
        raise _error(name, version, exc, setting) from None
    return _text(name, version, response, setting)


def _endpoint(url: str) -> Tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise Misconfigured(
            "WXAPUSH_SSM_ENDPOINT must be http(s)://host[:port]", setting="WXAPUSH_SSM_ENDPOINT"
        )
    return parts.scheme, parts.netloc


def _error(name: str, version: str, exc: Any, setting: str) -> Exception:
    code = str(exc.get_code() or "")
    where = f"SSM secret {name!r} (version {version!r})"
    if code in _TRANSIENT or code.startswith("RequestLimitExceeded"):
        return UpstreamError(f"Tencent SSM could not be asked for {where}: {code}", retryable=True)
    # Tencent's messages name the secret and the problem, never a value: kept for the operator.
    message = str(exc.get_message() or "")[:200]
    return Misconfigured(f"{where} cannot be read: {code}: {message}", setting=setting)


def _text(name: str, version: str, response: Any, setting: str) -> str:
    text = response.SecretString or ""
    if not text and response.SecretBinary:
        try:
            text = base64.b64decode(response.SecretBinary, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            text = ""
    text = text.strip()
    if not text:
        raise Misconfigured(
            f"SSM secret {name!r} (version {version!r}) holds no text", setting=setting
        )
    return text
