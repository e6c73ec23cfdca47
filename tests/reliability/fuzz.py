"""Property-based fuzzing of every function's ``main_handler``, in every shape, with hypothesis.

The events come from ``fuzz_events``. The property: the handler returns (never raises), the
answer is the result envelope of its shape, and it is never ``internal`` (990500). ``run_fuzz``
counts the events and the three kinds of failure instead of stopping at the first, so that the
full-scale run prints its figures.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from wxapush.app import reset_app
from wxapush.config import reset_settings
from wxapush.errors import ERROR_CLASSES, INTERNAL
from wxemu import demo
from wxemu.gateway import load_handler
from wxemu.testing import RunningServer, running_server

from .fuzz_events import (
    ADMIN_KEY,
    AES_KEY,
    CALLBACK_TOKEN,
    DASHBOARD_COOKIES,
    OTHER_OPENID,
    SESSION_SECRET,
    Case,
    events,
    user_session,
)

ROOT = Path(__file__).resolve().parents[2]
#: Every function of the bundle.
FUNCTIONS = (
    "get_token",
    "send",
    "send_log",
    "refresh_code",
    "receive_event",
    "login",
    "broadcast",
    "dashboard",
)
SLUGS = frozenset(ERROR_CLASSES)


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
        if problem is None and self.function == "dashboard" and shape == "gateway":
            problem = _dashboard_problem(answer)
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
            # a page, a file, a plain-text answer of WeChat's, the dashboard's redirect
            return None if answer["statusCode"] in (200, 308) else "a non-JSON failure"
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


#: What every answer of the dashboard carries, its errors included.
DASHBOARD_HEADERS = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
)


def _dashboard_problem(answer: Any) -> str | None:
    headers = answer.get("headers") if isinstance(answer, dict) else None
    if not isinstance(headers, dict):
        return None  # reported by the envelope check
    missing = [name for name in DASHBOARD_HEADERS if name not in headers]
    if missing:
        return f"a dashboard answer ({answer.get('statusCode')}) without {missing[0]}"
    location = headers.get("Location")
    if location is not None and location != "dashboard/":
        return f"a redirect built from the request: {location!r}"
    is_json = str(headers.get("Content-Type", "")).startswith("application/json")
    if is_json and headers.get("Cache-Control") != "no-store":
        return "a dashboard JSON answer without Cache-Control: no-store"
    return None


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
            WXAPUSH_SESSION_SECRET=SESSION_SECRET,
        )
        reset_settings()
        reset_app()
        DASHBOARD_COOKIES[:] = [_sign_in()]
        try:
            yield wxemu
        finally:
            DASHBOARD_COOKIES.clear()
            reset_app()
            os.environ.clear()
            os.environ.update(saved)
            reset_settings()


def _sign_in() -> str:
    """A dashboard session of the run's admin key, as a browser would get it."""
    handler = load_handler(ROOT / "functions" / "dashboard" / "index.py")
    event = {
        "httpMethod": "POST",
        "path": "/dashboard/login",
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"key": ADMIN_KEY}),
        "queryString": {},
        "isBase64Encoded": False,
        "requestContext": {"sourceIp": "10.255.255.255", "requestId": "sign-in"},
    }
    answer = handler(event, {"request_id": "sign-in"})
    assert answer["statusCode"] == 200, answer
    cookie: str = answer["headers"]["Set-Cookie"].split(";")[0].partition("=")[2]
    return cookie


def secrets_used(wxemu: RunningServer) -> list[str]:
    """What must never reach a log line in a fuzz run: credentials, tokens issued, openids."""
    openids = [demo.OPENID, OTHER_OPENID]
    return [
        demo.SECRET,
        ADMIN_KEY,
        CALLBACK_TOKEN,
        AES_KEY,
        SESSION_SECRET,
        user_session(),
        *openids,
        *wxemu.emulator.tokens,
    ]


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
    def invoke(case: Case) -> None:
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
