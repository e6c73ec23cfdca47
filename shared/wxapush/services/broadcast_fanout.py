"""broadcast's fan-out: more workers than the timer, by invoking the function itself.

SCF's ``Invoke`` (https://cloud.tencent.com/document/api/583/17243) with
``InvocationType=Event`` queues an asynchronous run of a function and answers at once; each run
is a worker draining the shared queue (``{"action": "work"}``). A create, and each timer tick,
start ``WXAPUSH_BROADCAST_FANOUT`` of them; the runs they start do not fan out again. Fan-out
is best effort: a failed ``Invoke`` is logged, and the timer's own worker still drains.

Settings (read at each call, as the role's keys belong to the instance):
``WXAPUSH_BROADCAST_FANOUT`` (workers to start; default 0: the timer's worker alone),
``WXAPUSH_BROADCAST_FUNCTION`` (the function to invoke; default ``SCF_FUNCTIONNAME``, which SCF
sets), ``SCF_NAMESPACE``, ``WXAPUSH_SCF_REGION`` (else ``TENCENTCLOUD_REGION``) and
``WXAPUSH_SCF_ENDPOINT`` (``http(s)://host[:port]``: wxemu's fake of SCF, locally); the
credentials are the execution role's ``TENCENTCLOUD_SECRETID``/``SECRETKEY``/``SESSIONTOKEN``.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from wxapush.config import env_value
from wxapush.errors import Misconfigured, redact

if TYPE_CHECKING:
    from wxapush.runtime import Invocation

log = logging.getLogger("wxapush.broadcast")

#: The event a fanned-out worker receives; ``fanned_out`` keeps it from fanning out again.
WORK_EVENT = {"action": "work", "fanned_out": True}
MAX_FANOUT = 100
TIMEOUT_SECONDS = 5


_setting = env_value  # the configuration's rule of what counts as unset


def fanout_count(env: Mapping[str, str]) -> int:
    raw = _setting(env, "WXAPUSH_BROADCAST_FANOUT")
    if raw is None:
        return 0
    if not raw.isdigit() or int(raw) > MAX_FANOUT:
        raise Misconfigured(
            f"WXAPUSH_BROADCAST_FANOUT must be a whole number from 0 to {MAX_FANOUT}",
            setting="WXAPUSH_BROADCAST_FANOUT",
        )
    return int(raw)


def prepare(inv: Invocation, env: Optional[Mapping[str, str]] = None) -> Callable[[], int]:
    """Check the fan-out settings now (before anything is written); returns what starts the
    ``WXAPUSH_BROADCAST_FANOUT`` workers and says how many went."""
    env = os.environ if env is None else env
    count = fanout_count(env)
    if count == 0 or inv.request.get("fanned_out") is True:
        return lambda: 0
    function = _setting(env, "WXAPUSH_BROADCAST_FUNCTION") or _setting(env, "SCF_FUNCTIONNAME")
    region = _setting(env, "WXAPUSH_SCF_REGION") or _setting(env, "TENCENTCLOUD_REGION")
    if function is None or region is None:
        raise Misconfigured(
            "WXAPUSH_BROADCAST_FANOUT needs the function's name (SCF_FUNCTIONNAME or "
            "WXAPUSH_BROADCAST_FUNCTION) and a region (WXAPUSH_SCF_REGION)",
            setting="WXAPUSH_BROADCAST_FANOUT",
        )
    client = _client(env, region)
    namespace = _setting(env, "SCF_NAMESPACE") or "default"

    def start() -> int:
        started = 0
        for _ in range(count):
            try:
                _invoke(client, function, namespace)
            except Exception as exc:  # best effort: the timer's worker drains anyway
                log.warning("fan-out Invoke failed: %s", redact(str(exc)[:300]))
                break
            started += 1
        return started

    return start


def _client(env: Mapping[str, str], region: str) -> Any:
    try:
        from tencentcloud.common.credential import Credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.scf.v20180416 import scf_client
    except ImportError:
        raise Misconfigured(
            "WXAPUSH_BROADCAST_FANOUT is set, but tencentcloud-sdk-python-scf is not installed: "
            "build the layer with it (wxapush package --extras tencent)",
            setting="WXAPUSH_BROADCAST_FANOUT",
        ) from None
    secret_id = _setting(env, "TENCENTCLOUD_SECRETID")
    secret_key = _setting(env, "TENCENTCLOUD_SECRETKEY")
    if secret_id is None or secret_key is None:
        raise Misconfigured(
            "WXAPUSH_BROADCAST_FANOUT needs the function's role credentials "
            "(TENCENTCLOUD_SECRETID, TENCENTCLOUD_SECRETKEY): give it an execution role "
            "allowed scf:Invoke on itself",
            setting="WXAPUSH_BROADCAST_FANOUT",
        )
    logging.getLogger("tencentcloud_sdk_common").setLevel(logging.INFO)
    endpoint = _setting(env, "WXAPUSH_SCF_ENDPOINT")
    scheme, host = "https", None
    if endpoint is not None:
        scheme, _, host = endpoint.partition("://")
        if scheme not in ("http", "https") or not host or "/" in host.rstrip("/"):
            raise Misconfigured(
                "WXAPUSH_SCF_ENDPOINT must be http(s)://host[:port]",
                setting="WXAPUSH_SCF_ENDPOINT",
            )
        host = host.rstrip("/")
    http = HttpProfile(protocol=scheme, endpoint=host, reqTimeout=TIMEOUT_SECONDS)
    token = _setting(env, "TENCENTCLOUD_SESSIONTOKEN")
    credential = Credential(secret_id, secret_key, token)
    return scf_client.ScfClient(credential, region, ClientProfile(httpProfile=http))


def _invoke(client: Any, function: str, namespace: str) -> None:
    from tencentcloud.scf.v20180416 import models

    request = models.InvokeRequest()
    request.FunctionName = function
    request.InvocationType = "Event"
    request.Namespace = namespace
    request.ClientContext = json.dumps(WORK_EVENT)
    client.Invoke(request)
