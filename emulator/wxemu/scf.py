"""A fake of Tencent SCF's ``Invoke`` (Cloud API v3, version 2018-04-16), beside the SSM fake.

``Invoke`` (https://cloud.tencent.com/document/api/583/17243) runs a function with
``ClientContext`` (a JSON string) as its event: ``InvocationType=Event`` queues it and answers
at once; ``RequestResponse`` answers with its result. wxemu runs the functions registered in
``Emulator.scf_functions`` (the local stack registers its own; a test registers a handler) —
an ``Event`` run in a thread of its own, as a separate instance would — and keeps every
invocation in ``Emulator.scf_invocations``. The wire format (signature check, errors) is
:mod:`wxemu.ssm`'s.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any, Mapping

from . import ssm
from .state import Emulator

API_VERSION = "2018-04-16"
INVOCATION_TYPES = ("Event", "RequestResponse")


def invoke(emulator: Emulator, params: Mapping[str, Any]) -> dict[str, Any]:
    """``Invoke``: ``FunctionName`` (required), ``InvocationType``, ``ClientContext``,
    ``Namespace``, ``Qualifier``."""
    name = params.get("FunctionName")
    if not isinstance(name, str) or not name:
        raise ssm.CloudApiError("MissingParameter", "The request is missing FunctionName.")
    kind = params.get("InvocationType") or "RequestResponse"
    if kind not in INVOCATION_TYPES:
        raise ssm.CloudApiError("InvalidParameterValue.InvocationType", f"{kind!r} is unknown.")
    try:
        event = json.loads(params.get("ClientContext") or "{}")
    except ValueError:
        raise ssm.CloudApiError(
            "InvalidParameterValue.ClientContext", "ClientContext is not JSON."
        ) from None
    namespace = params.get("Namespace") or "default"
    with emulator.lock:
        function = emulator.scf_functions.get(name)
        emulator.scf_invocations.append(
            {"function": name, "namespace": namespace, "type": kind, "event": event}
        )
    if function is None:
        raise ssm.CloudApiError(
            "ResourceNotFound.Function", f"The function {name!r} does not exist."
        )
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    if kind == "Event":
        threading.Thread(target=function, args=(event,), name=f"scf-{name}", daemon=True).start()
        ret = ""
    else:
        ret = json.dumps(function(event), ensure_ascii=False)
    return {
        "Result": {
            "FunctionRequestId": request_id,
            "InvokeResult": 0,
            "RetMsg": ret,
            "Duration": round((time.monotonic() - started) * 1000, 3),
            "BillDuration": 0,
            "MemUsage": 0,
            "Log": "",
            "ErrMsg": "",
        }
    }


def register() -> None:
    """Make ``Invoke`` one of the Cloud API actions wxemu answers."""
    ssm.ACTIONS["Invoke"] = invoke
    ssm.VERSIONS["Invoke"] = API_VERSION


register()
