"""The control plane under ``/__wxemu__/``: set-up and inspection for tests and demos.

Plain JSON in and out; mistakes answer HTTP 400 (404 for an unknown app) with ``{"error": …}``.
Every action is documented, with examples, in docs/wxemu.md.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from .. import callbacks, demo, ssm
from ..call import Call, ControlError
from ..errors import WeChatError
from ..hostile import KINDS
from ..models import Fault
from ..quota import daily_limit, used_today


def _body(call: Call) -> dict[str, Any]:
    if not call.body.strip():
        return {}
    try:
        parsed = json.loads(call.body)
    except ValueError:
        raise ControlError(400, "the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise ControlError(400, "the body must be a JSON object")
    return parsed


def _str(body: dict[str, Any], name: str, required: bool = True) -> Optional[str]:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ControlError(400, f"{name} must be a non-empty string")
    return value


def _int(body: dict[str, Any], name: str, default: Optional[int] = None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlError(400, f"{name} must be an integer")
    return value


def _appid(call: Call, body: dict[str, Any]) -> str:
    appid = _str(body, "appid")
    assert appid is not None
    if appid not in call.emulator.apps:
        raise ControlError(404, f"no app {appid}")
    return appid


def reset(call: Call) -> dict[str, Any]:
    """Forget all state, rewind the clock, re-seed the demo app."""
    call.emulator.reset()
    return {"ok": True, "demo": demo.describe() if call.emulator.seed_demo else None}


def get_demo(call: Call) -> dict[str, Any]:
    """The demo app seeded at start: appid, secret, openid, template ids."""
    return {"demo": demo.describe() if call.emulator.seed_demo else None}


def add_app(call: Call) -> dict[str, Any]:
    """``{appid?, secret?}`` -> the app's credentials (values left out are generated)."""
    body = _body(call)
    app = call.emulator.add_app(_str(body, "appid", False), _str(body, "secret", False))
    return {"appid": app.appid, "secret": app.secret}


def list_apps(call: Call) -> dict[str, Any]:
    """Every app: its appid, secret and template ids."""
    with call.emulator.lock:
        apps = [
            {"appid": a.appid, "secret": a.secret, "templates": sorted(a.templates)}
            for a in call.emulator.apps.values()
        ]
    return {"apps": apps}


def add_template(call: Call) -> dict[str, Any]:
    """``{appid, title, content, type, keywordEnumValueList?, example?, priTmplId?}``.

    Answers ``{priTmplId}``.
    """
    body = _body(call)
    appid = _appid(call, body)
    enums: dict[str, list[str]] = {}
    raw_enums = body.get("keywordEnumValueList") or []
    if not isinstance(raw_enums, list):
        raise ControlError(400, "keywordEnumValueList must be a list")
    for item in raw_enums:
        code = item.get("keywordCode") if isinstance(item, dict) else None
        values = item.get("enumValueList") if isinstance(item, dict) else None
        if not isinstance(code, str) or not isinstance(values, list):
            raise ControlError(
                400, "each keywordEnumValueList item needs keywordCode and enumValueList"
            )
        enums[code] = [str(v) for v in values]
    try:
        template = call.emulator.add_template(
            appid,
            _str(body, "title") or "",
            _str(body, "content") or "",
            _int(body, "type", 2),
            enum_values=enums,
            example=str(body.get("example") or ""),
            pri_tmpl_id=_str(body, "priTmplId", False),
        )
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None
    return {"priTmplId": template.pri_tmpl_id}


def add_subscription(call: Call) -> dict[str, Any]:
    """``{appid, openid, template_id, count?, push?}``: grant sends (and make the openid known).

    ``push: true`` plays the user's accept in a popup: one grant, and a
    ``subscribe_msg_popup_event`` pushed to the app's callback (``pushed`` says whether one is
    configured).
    """
    body = _body(call)
    appid = _appid(call, body)
    openid = _str(body, "openid") or ""
    template_id = _str(body, "template_id") or ""
    count = _int(body, "count", 1)
    if count < 0:
        raise ControlError(400, "count must be ≥ 0")
    push = body.get("push", False)
    if not isinstance(push, bool):
        raise ControlError(400, "push must be true or false")
    if push and count != 1:
        raise ControlError(400, "a pushed popup grants exactly one send: count must be 1")
    try:
        left = call.emulator.grant(appid, openid, template_id, count)
    except WeChatError:
        raise ControlError(404, f"app {appid} has no template {template_id}") from None
    answer = {"appid": appid, "openid": openid, "template_id": template_id, "remaining": left}
    if push:
        answer["pushed"] = call.emulator.pusher.popup(appid, openid, template_id)
    return answer


def set_callback(call: Call) -> dict[str, Any]:
    """``{appid, url, token, encoding_aes_key?, mode?, format?, failures?, repeat?}``.

    The app's message push. ``mode``: plaintext | compatible | secure (default); ``format``:
    json (default) | xml; the key (43 characters) is required unless plaintext. ``failures``:
    ``{openid: {"ErrorCode": n, "ErrorStatus": text}}`` for the sent events of that user's
    messages; ``repeat`` (1..5): deliver each event that many times, as WeChat's re-pushes do.
    """
    body = _body(call)
    appid = _appid(call, body)
    url = _str(body, "url") or ""
    if not url.startswith(("http://", "https://")):
        raise ControlError(400, "url must start with http:// or https://")
    mode = body.get("mode", "secure")
    if mode not in callbacks.MODES:
        raise ControlError(400, f"mode must be one of {', '.join(callbacks.MODES)}")
    fmt = body.get("format", "json")
    if fmt not in callbacks.FORMATS:
        raise ControlError(400, f"format must be one of {', '.join(callbacks.FORMATS)}")
    key = _str(body, "encoding_aes_key", mode != "plaintext")
    if key is not None and not (len(key) == 43 and key.isascii() and key.isalnum()):
        raise ControlError(400, "encoding_aes_key must be 43 characters of a-z, A-Z, 0-9")
    repeat = _int(body, "repeat", 1)
    if not 1 <= repeat <= 5:
        raise ControlError(400, "repeat must be between 1 and 5")
    token = _str(body, "token") or ""
    try:
        failures = callbacks.parse_failures(body.get("failures"))
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None
    config = callbacks.CallbackConfig(appid, url, token, key, mode, fmt, failures, repeat)
    with call.emulator.lock:
        call.emulator.callbacks[appid] = config
    return config.describe()


def get_callback(call: Call) -> dict[str, Any]:
    """``?appid=`` -> the app's push settings (no Token, no key) and the pushes made so far."""
    config = call.emulator.callbacks.get(call.query.get("appid", ""))
    pushes = call.emulator.pusher.pushes()
    return {"callback": config.describe() if config else None, "pushes": pushes}


def list_messages(call: Call) -> dict[str, Any]:
    """``?appid=&openid=`` -> accepted messages, oldest first."""
    appid = call.query.get("appid") or None
    if appid and appid not in call.emulator.apps:
        raise ControlError(404, f"no app {appid}")
    found = call.emulator.messages(appid, call.query.get("openid") or None)
    return {"messages": [m.to_dict() for m in found]}


def add_fault(call: Call) -> dict[str, Any]:
    """``{path, errcode?, errmsg?, status?, delay_ms?, drop?, hostile?, interval_ms?, times?}``:
    the next calls to path fail so (``drop``: carried out, then the connection closes with no
    answer; ``hostile``: carried out, then answered as a hostile upstream would)."""
    body = _body(call)
    hostile = body.get("hostile")
    if hostile is not None and hostile not in KINDS:
        raise ControlError(400, f"hostile must be one of {', '.join(KINDS)}")
    interval_ms = _int(body, "interval_ms", 500)
    if interval_ms < 1:
        raise ControlError(400, "interval_ms must be ≥ 1")
    path = _str(body, "path") or ""
    errcode = body.get("errcode")
    status = body.get("status")
    delay_ms = _int(body, "delay_ms", 0)
    drop = body.get("drop", False)
    if not isinstance(drop, bool):
        raise ControlError(400, "drop must be true or false")
    if errcode is None and status is None and delay_ms <= 0 and not drop and hostile is None:
        raise ControlError(400, "a fault needs errcode, status, delay_ms, drop or hostile")
    if errcode is not None and (isinstance(errcode, bool) or not isinstance(errcode, int)):
        raise ControlError(400, "errcode must be an integer")
    if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
        raise ControlError(400, "status must be an HTTP status code")
    times = _int(body, "times", 1)
    if times < 1:
        raise ControlError(400, "times must be ≥ 1")
    errmsg = body.get("errmsg")
    fault = Fault(
        path,
        times,
        errcode,
        errmsg if isinstance(errmsg, str) else None,
        status,
        delay_ms,
        drop,
        hostile,
        interval_ms,
    )
    call.emulator.add_fault(fault)
    return list_faults(call)


def list_faults(call: Call) -> dict[str, Any]:
    """The faults still queued, per path."""
    with call.emulator.lock:
        faults = [f.to_dict() for queue in call.emulator.faults.values() for f in queue]
    return {"faults": faults}


def clear_faults(call: Call) -> dict[str, Any]:
    """Forget every queued fault."""
    with call.emulator.lock:
        call.emulator.faults.clear()
    return {"faults": []}


def get_clock(call: Call) -> dict[str, Any]:
    """The emulator's time (unix seconds) and how far it was advanced."""
    clock = call.emulator.clock
    return {"now": clock.now(), "offset": clock.offset}


def advance_clock(call: Call) -> dict[str, Any]:
    """``{advance: seconds}`` -> the emulator's new time."""
    advance = _body(call).get("advance")
    if isinstance(advance, bool) or not isinstance(advance, (int, float)) or advance < 0:
        raise ControlError(400, "advance must be a number of seconds ≥ 0")
    with call.emulator.lock:
        call.emulator.clock.advance(float(advance))
    return get_clock(call)


def add_login_code(call: Call) -> dict[str, Any]:
    """``{appid, openid?}`` -> a ``wx.login`` code for ``/sns/jscode2session`` (5 min, one use)."""
    body = _body(call)
    appid = _appid(call, body)
    login = call.emulator.mint_login_code(appid, _str(body, "openid", False))
    return {"code": login.code, "openid": login.openid, "expires_in": 300}


def set_quota(call: Call) -> dict[str, Any]:
    """``{appid, cgi_path, daily_limit}``: change one API's daily limit for one app."""
    from ..routes import WECHAT_ROUTES  # the route table imports this module

    body = _body(call)
    appid = _appid(call, body)
    cgi_path = _str(body, "cgi_path") or ""
    if cgi_path not in WECHAT_ROUTES:
        raise ControlError(400, f"{cgi_path} is not an API wxemu serves")
    limit = _int(body, "daily_limit")
    if limit < 0:
        raise ControlError(400, "daily_limit must be ≥ 0")
    with call.emulator.lock:
        app = call.emulator.apps[appid]
        app.daily_limits[cgi_path] = limit
        used = used_today(app, cgi_path, call.emulator.clock)
        return {
            "appid": appid,
            "cgi_path": cgi_path,
            "daily_limit": daily_limit(app, cgi_path),
            "used": used,
        }


def put_secret(call: Call) -> dict[str, Any]:
    """``{name, version?, value | binary}``: store a Tencent SSM secret (wxemu.ssm).

    ``version`` defaults to ``v1``; ``binary`` is base64. The version set last is the one
    ``VersionId: SSM_Current`` reads. Answers ``{name, version}``, never the value.
    """
    body = _body(call)
    name = _str(body, "name") or ""
    version = _str(body, "version", False) or "v1"
    value = body.get("value")
    if value is not None and not isinstance(value, str):
        raise ControlError(400, "value must be a string")
    try:
        binary = ssm.decode_binary(_str(body, "binary", False))
        secret = ssm.put_secret(call.emulator, name, version, value or "", binary)
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None
    return {"name": secret.name, "version": secret.version}


def list_secrets(call: Call) -> dict[str, Any]:
    """``{secrets: [{name, versions}]}``: the SSM fake's secrets, newest version last."""
    with call.emulator.lock:
        found = [
            {"name": name, "versions": list(versions)}
            for name, versions in sorted(call.emulator.secrets.items())
        ]
    return {"secrets": found}
