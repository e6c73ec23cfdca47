"""Property-based fuzzing of every function's ``main_handler``, in every shape, with hypothesis.

Each event is a direct call (a service, or a mini-program user), an API-gateway request (with
the admin key, a bad key, no key, or WeChat's signature for receive_event, some of them properly
signed and encrypted around a fuzzed document) or a timer event, built from the function's own
field names, plausible values and hostile ones: lone surrogates, NULs, non-finite and huge
numbers, deep nesting, oversized strings and a dict that holds itself. The property: the
handler returns (never raises), the answer is the result envelope of its shape, and it is never
``internal`` (990500). ``run_fuzz`` counts the events and the three kinds of failure.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from wxapush.app import reset_app
from wxapush.config import reset_settings
from wxapush.errors import ERROR_CLASSES, INTERNAL
from wxapush.wechat.callback import encrypt, sign
from wxemu import demo
from wxemu.gateway import load_handler
from wxemu.testing import RunningServer, running_server

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ("get_token", "send", "send_log", "refresh_code", "receive_event")
ADMIN_KEY = "fuzz-admin-key-0123456789"
CALLBACK_TOKEN = "fuzz-callback-token"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
SLUGS = frozenset(ERROR_CLASSES)
OTHER_OPENID = "oOther-000000000000000000000"

FIELDS = {
    "send": [
        "touser", "toUser", "template_id", "templateId", "page", "data", "miniprogram_state",
        "miniprogramState", "lang", "idempotency_key", "idempotencyKey", "action", "result",
        "formId", "emphasisKeyword",
    ],
    "send_log": [
        "begin_date", "end_date", "beginDate", "endDate", "offset", "count", "touser",
        "template_id", "status",
    ],
    "get_token": ["force_refresh"],
    "refresh_code": ["TriggerName", "Time", "Message"],
    "receive_event": [
        "signature", "timestamp", "nonce", "echostr", "encrypt_type", "msg_signature",
    ],
}  # fmt: skip
KEYWORDS = ["thing1", "character_string2", "date3", "amount6", "number1", "phrase1", "time1"]
PLAUSIBLE = [
    demo.OPENID, demo.TEMPLATE_ID, demo.LONG_TERM_TEMPLATE_ID, "2026-11-27", "2099-12-31",
    "2026-11-27 10:30", "¥128.00", "SF1234567890", "formal", "developer", "zh_CN", "en_US",
    "pages/index/index?id=1", "sent", "pending", "unknown", "record_subscription", "accept",
    "true", "100", "0", "-1", "", " ", "a ", "٣", "²", "9" * 40, "\ud800", "\x00", "null",
]  # fmt: skip


#: Values that pass the checks of some field: they carry a fuzzed request past the first refusal.
SAFE = ["2026-11-27", "2020-01-01", "2099-12-31", "0", "20", 5, 100, "sent", demo.OPENID, True]


def _hostile_text() -> st.SearchStrategy[str]:
    # Every code point, lone surrogates (category Cs) included.
    return st.text(st.characters(codec=None, categories=None), max_size=40)


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.floats(allow_nan=True, allow_infinity=True),
        _hostile_text(),
        st.sampled_from(PLAUSIBLE),
    )


def _json(keys: list[str]) -> st.SearchStrategy[Any]:
    key = st.one_of(st.sampled_from(keys or ["k"]), _hostile_text())
    return st.recursive(
        _scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(key, inner, max_size=4)
        ),
        max_leaves=12,
    )


def _data() -> st.SearchStrategy[Any]:
    value = st.one_of(_scalars(), st.sampled_from(PLAUSIBLE))
    item = st.one_of(value, st.fixed_dictionaries({"value": value}), _json(["value", "color"]))
    return st.one_of(st.dictionaries(st.sampled_from(KEYWORDS), item, max_size=5), _json([]))


def _self_holding() -> dict[str, Any]:
    data: dict[str, Any] = {"thing1": {"value": "x"}}
    data["thing1"]["again"] = data
    return {"touser": demo.OPENID, "template_id": demo.TEMPLATE_ID, "data": data}


def _deep() -> dict[str, Any]:
    value: Any = "x"
    for _ in range(3000):
        value = {"value": value}
    return {"data": {"thing1": value}, "begin_date": value}


SPECIALS: list[Callable[[], dict[str, Any]]] = [
    _self_holding,
    _deep,
    lambda: {"touser": "x" * 400_000},
    lambda: {"data": {f"thing{i}": "y" * 300 for i in range(1000)}},
    lambda: {"begin_date": "9999-12-31", "end_date": "9999-12-31", "count": "9" * 5000},
]


def _plausible(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """A request that passes the first checks, so that fuzzing reaches the deeper paths."""
    safe = st.sampled_from(SAFE)
    value = st.one_of(safe, safe, safe, st.sampled_from(PLAUSIBLE), _scalars())
    if name == "send":
        fine = {
            "thing1": st.sampled_from(["手机保护壳", "x"]) | value,
            "character_string2": st.sampled_from(["SF1234567890"]) | value,
            "date3": st.sampled_from(["2026-11-27 10:30"]),
            "amount6": st.sampled_from(["¥128.00"]) | value,
        }
        required = {
            "touser": st.just(demo.OPENID),
            "template_id": st.sampled_from([demo.TEMPLATE_ID, demo.LONG_TERM_TEMPLATE_ID]),
            "data": st.fixed_dictionaries(fine),
        }
        optional = {
            "page": st.sampled_from(["pages/index/index?id=1"]) | value,
            "lang": st.sampled_from(["zh_CN", "en_US"]) | value,
            "miniprogram_state": st.sampled_from(["formal", "trial"]) | value,
            "idempotency_key": st.sampled_from(["k1", "k2", "k1 "]) | value,
        }
        return st.fixed_dictionaries(required, optional=optional)
    if name == "send_log":
        dates = st.sampled_from(["2026-11-27", "2020-01-01", "2099-12-31"]) | value
        required = {"begin_date": dates, "end_date": dates}
        optional = {k: value for k in ("offset", "count", "touser", "template_id", "status")}
        return st.fixed_dictionaries(required, optional=optional)
    return st.fixed_dictionaries({}, optional={k: value for k in FIELDS[name]})


def _request(name: str) -> st.SearchStrategy[dict[str, Any]]:
    keys = FIELDS[name]
    values = st.one_of(_scalars(), _json(keys), _data() if name == "send" else st.none())
    fuzzed = st.dictionaries(st.one_of(st.sampled_from(keys), _hostile_text()), values, max_size=8)
    specials = st.sampled_from(SPECIALS).map(lambda make: make())
    return st.one_of(fuzzed, _plausible(name), _plausible(name), specials)


def _context(user: bool, openid: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {"request_id": "fuzz", "time_limit_in_ms": 3000}
    if user:
        ctx["environment"] = json.dumps({"WX_OPENID": openid, "WX_APPID": demo.APPID})
    return ctx


@st.composite
def _direct(draw: st.DrawFn, name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    user = draw(st.booleans())
    openid = draw(st.sampled_from([demo.OPENID, demo.OPENID, OTHER_OPENID]))
    openid = draw(st.one_of(st.just(openid), st.just(openid), _hostile_text()))
    return "direct", draw(_request(name)), _context(user, openid)


@st.composite
def _gateway(draw: st.DrawFn, name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    request = draw(_request(name))
    method = draw(st.sampled_from(["GET", "POST", "PUT", "HEAD"]) | _hostile_text())
    query = draw(st.dictionaries(st.sampled_from(FIELDS[name]) | _hostile_text(), _scalars()))
    auth = draw(
        st.sampled_from([f"Bearer {ADMIN_KEY}", "Bearer nope", "Session x.y", None])
        | _hostile_text()
    )
    try:
        body: Any = json.dumps(request, allow_nan=True)
    except (ValueError, RecursionError):
        body = "{"
    body = draw(st.sampled_from([body, body, None, "", "<xml><a>1</a></xml>"]) | _hostile_text())
    encoded = draw(st.booleans())
    if encoded and isinstance(body, str):
        body = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
    headers: dict[str, Any] = {"content-type": "application/json"}
    if auth is not None:
        headers["authorization"] = auth
    event = {
        "httpMethod": method,
        "path": f"/{name}",
        "headers": headers,
        "queryString": query,
        "body": body,
        "isBase64Encoded": encoded,
        "requestContext": {"path": f"/{name}", "httpMethod": method, "requestId": "f"},
    }
    return "gateway", event, {"request_id": "fuzz", "time_limit_in_ms": 3000}


@st.composite
def _signed_push(draw: st.DrawFn) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A push signed and encrypted as WeChat does, around a fuzzed document."""
    document = draw(_json(["ToUserName", "FromUserName", "MsgType", "Event", "CreateTime"]))
    inner = json.dumps(document, allow_nan=True).encode("utf-8", "surrogatepass")
    cipher = encrypt(inner, AES_KEY, demo.APPID)
    stamp, nonce = str(int(time.time())), draw(st.sampled_from(["1", "22", "333"]))
    query = {
        "timestamp": stamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sign(CALLBACK_TOKEN, stamp, nonce, cipher),
    }
    event = {
        "httpMethod": "POST",
        "path": "/receive_event",
        "headers": {"content-type": "application/json"},
        "queryString": query,
        "body": json.dumps({"Encrypt": cipher}),
        "isBase64Encoded": False,
    }
    return "gateway", event, {"request_id": "fuzz", "time_limit_in_ms": 3000}


@st.composite
def _timer(draw: st.DrawFn, name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    event = {"Type": draw(st.sampled_from(["Timer", "timer"]))}
    for key in ("TriggerName", "Time", "Message"):
        event[key] = draw(_scalars())
    return "timer", event, {"request_id": "fuzz"}


def events(name: str) -> st.SearchStrategy[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every shape an invocation of ``name`` can take."""
    shapes = [_direct(name), _gateway(name), _timer(name)]
    if name == "receive_event":
        shapes.append(_signed_push())
    return st.one_of(*shapes)


@dataclass
class FuzzReport:
    function: str
    events: int = 0
    uncaught: int = 0
    outside_envelope: int = 0
    internal: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.uncaught or self.outside_envelope or self.internal)

    def line(self) -> str:
        figures = asdict(self)
        figures["answers"] = dict(self.answers.most_common(8))
        return json.dumps(figures, ensure_ascii=False)

    def check(self, shape: str, answer: Any) -> None:
        self.events += 1
        problem = _envelope_problem(shape, answer)
        if problem is None:
            return
        if problem == "internal":
            self.internal += 1
        else:
            self.outside_envelope += 1
        if len(self.examples) < 5:
            self.examples.append(f"{problem}: {str(answer)[:300]}")


def _envelope_problem(shape: str, answer: Any) -> str | None:
    if shape == "gateway" and isinstance(answer, dict) and "statusCode" in answer:
        if set(answer) - {"statusCode", "headers", "body", "isBase64Encoded"}:
            return "gateway answer with extra keys"
        body, headers = answer.get("body"), answer.get("headers")
        if not isinstance(body, str) or not isinstance(headers, dict):
            return "gateway answer without a string body or headers"
        if not str(headers.get("Content-Type", "")).startswith("application/json"):
            return None if answer["statusCode"] == 200 else "a non-JSON failure"
        try:
            answer = json.loads(body)
        except ValueError:
            return "gateway body is not JSON"
    if not isinstance(answer, dict):
        return f"answer is a {type(answer).__name__}"
    try:
        json.dumps(answer, allow_nan=False)
    except (TypeError, ValueError):
        return "answer is not JSON"
    errcode, errmsg = answer.get("errcode"), answer.get("errmsg")
    if not isinstance(errcode, int) or not isinstance(errmsg, str):
        return "no errcode/errmsg"
    if errcode == 0:
        return None
    if answer.get("error") not in SLUGS or not isinstance(answer.get("retryable"), bool):
        return "failure without a known slug and retryable"
    return "internal" if errcode == INTERNAL or answer["error"] == "internal" else None


@contextmanager
def fuzz_environment() -> Iterator[RunningServer]:
    """wxemu, a fresh sqlite store and a deployment's settings, restored afterwards."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp, running_server() as wxemu:
        for name in list(os.environ):
            if name.startswith("WXAPUSH_"):
                del os.environ[name]
        os.environ.update(
            WXAPUSH_APPID=demo.APPID,
            WXAPUSH_APPSECRET=demo.SECRET,
            WXAPUSH_API_BASE=wxemu.base_url,
            WXAPUSH_STORE=f"sqlite:///{tmp}/fuzz.db",
            WXAPUSH_ADMIN_KEY=ADMIN_KEY,
            WXAPUSH_CALLBACK_TOKEN=CALLBACK_TOKEN,
            WXAPUSH_ENCODING_AES_KEY=AES_KEY,
        )
        reset_settings()
        reset_app()
        try:
            yield wxemu
        finally:
            reset_app()
            os.environ.clear()
            os.environ.update(saved)
            reset_settings()


def secrets_used(wxemu: RunningServer) -> list[str]:
    """What must never reach a log line in a fuzz run: credentials, tokens issued, openids."""
    openids = [demo.OPENID, OTHER_OPENID]
    return [demo.SECRET, ADMIN_KEY, CALLBACK_TOKEN, AES_KEY, *openids, *wxemu.emulator.tokens]


def run_fuzz(name: str, examples: int, seed: int = 11) -> FuzzReport:
    """Fuzz ``functions/<name>``'s main_handler with ``examples`` events (inside
    :func:`fuzz_environment`)."""
    handler = load_handler(ROOT / "functions" / name / "index.py")
    report = FuzzReport(name)

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(events(name))
    def invoke(case: tuple[str, dict[str, Any], dict[str, Any]]) -> None:
        shape, event, context = case
        try:
            answer = handler(event, context)
        except Exception as exc:  # the property's first clause: never raises
            report.events += 1
            report.uncaught += 1
            if len(report.examples) < 5:
                report.examples.append(f"raised {exc!r}")
            return
        report.check(shape, answer)
        if isinstance(answer, dict):
            report.answers[str(answer.get("error", answer.get("statusCode", "ok")))] += 1

    invoke()
    return report
