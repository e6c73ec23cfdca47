"""The emulated WeChat backend: every app's state, the clock, faults and login codes.

No HTTP here (the moto rule): handlers in :mod:`wxemu.api` turn requests into calls of these
methods, and tests may call them directly for set-up. One re-entrant lock serialises changes, so
the threaded server and in-process callers can share an :class:`Emulator`.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional, Sequence

from wxapush.wechat.keywords import parse_template_content

from . import demo, ids
from .callbacks import CallbackConfig, Pusher
from .clock import Clock
from .errors import WeChatError
from .models import App, Fault, LoginCode, Message, Template, Token

if TYPE_CHECKING:  # wxemu.ssm imports this module
    from .ssm import SecretVersion, SsmRequest

#: Called after each accepted subscribe message (e.g. to push ``subscribe_msg_sent_event``).
MessageHook = Callable[[App, Message], None]

LOGIN_CODE_SECONDS = 300
#: How many exchanged codes are remembered for the 40163 answer (oldest forgotten first).
USED_CODES_KEPT = 10_000


class Emulator:
    """The state of an emulated WeChat: apps keyed by appid, tokens, faults, a clock.

    ``message_hooks`` observe accepted messages; they run in the request's thread after the
    message is recorded and must not raise (their errors are swallowed, as a push failure never
    changes WeChat's answer to the send).
    """

    def __init__(self, seed_demo: bool = True) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.seed_demo = seed_demo
        #: Message-push settings by appid (``POST /__wxemu__/callback``); cleared by reset.
        self.callbacks: dict[str, CallbackConfig] = {}
        self.pusher = Pusher(self)
        self.message_hooks: list[MessageHook] = [self.pusher.message_sent]
        self.apps: dict[str, App] = {}
        self.tokens: dict[str, Token] = {}
        self.faults: dict[str, deque[Fault]] = {}
        self.login_codes: dict[str, LoginCode] = {}
        #: Codes already exchanged (code -> appid): WeChat answers them 40163, not 40029.
        self.used_login_codes: dict[str, str] = {}
        #: Tencent SSM fake (wxemu.ssm): name -> version -> value, newest last; and who asked.
        self.secrets: dict[str, dict[str, SecretVersion]] = {}
        self.ssm_requests: list[SsmRequest] = []
        #: Tencent SCF Invoke fake (wxemu.scf): the functions it can run (registered by the
        #: local stack or a test; kept across resets) and the invocations asked for.
        self.scf_functions: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self.scf_invocations: list[dict[str, Any]] = []
        self.reset()

    def reset(self) -> None:
        """Forget everything (hooks stay), rewind the clock and re-seed the demo app."""
        with self.lock:
            self.clock.reset()
            self.apps.clear()
            self.tokens.clear()
            self.faults.clear()
            self.login_codes.clear()
            self.used_login_codes.clear()
            self.callbacks.clear()
            self.pusher.forget()
            self.secrets.clear()
            self.ssm_requests.clear()
            self.scf_invocations.clear()
            robot_book = getattr(self, "robot_book", None)  # wxemu.robots' posts, if any
            if robot_book is not None:
                robot_book.clear()
            if self.seed_demo:
                demo.seed(self)

    # apps -------------------------------------------------------------------------------------

    def add_app(self, appid: Optional[str] = None, secret: Optional[str] = None) -> App:
        """Create an app (or change an existing app's secret); missing values are generated."""
        with self.lock:
            appid = appid or ids.appid()
            app = self.apps.get(appid)
            if app is None:
                app = self.apps[appid] = App(appid, secret or ids.secret())
            elif secret:
                app.secret = secret
            return app

    def app(self, appid: str) -> App:
        """The app with this AppID, else WeChat's 40013 ``invalid appid``."""
        app = self.apps.get(appid)
        if app is None:
            raise WeChatError(40013)
        return app

    # templates and grants ---------------------------------------------------------------------

    def add_template(
        self,
        appid: str,
        title: str,
        content: str,
        type: int = 2,
        enum_values: Optional[Mapping[str, Sequence[str]]] = None,
        example: str = "",
        pri_tmpl_id: Optional[str] = None,
        tid: Optional[int] = None,
        kids: Iterable[int] = (),
    ) -> Template:
        """Give an app a private template; keyword codes and types come from ``content``."""
        if type not in (2, 3):
            raise ValueError("type must be 2 (one-time) or 3 (long-term)")
        keywords = parse_template_content(content)
        if not keywords:
            raise ValueError("content names no keyword ({{code.DATA}})")
        enums = {code.split(".", 1)[0]: list(vals) for code, vals in (enum_values or {}).items()}
        with self.lock:
            app = self.app(appid)
            template = Template(
                pri_tmpl_id or ids.template_id(),
                title,
                content,
                type,
                list(keywords),
                enums,
                example,
                tid,
                tuple(kids),
            )
            app.templates[template.pri_tmpl_id] = template
            return template

    def grant(self, appid: str, openid: str, template_id: str, count: int = 1) -> int:
        """Record ``count`` accepted subscriptions; returns the sends now left.

        One-time grants accumulate (one send each); for a long-term template one grant is enough
        for any number of sends. Either way the openid becomes known to the app.
        """
        if count < 0:
            raise ValueError("count must be ≥ 0")
        with self.lock:
            app = self.app(appid)
            if template_id not in app.templates:
                raise WeChatError(40037)
            app.openids.add(openid)
            key = (openid, template_id)
            app.grants[key] = app.grants.get(key, 0) + count
            return app.grants[key]

    # access tokens ----------------------------------------------------------------------------

    def authenticate(self, value: Optional[str]) -> App:
        """The app an ``access_token`` belongs to, or the errcode WeChat answers for it.

        41001 when absent; 40014 when it cannot be a token at all (not ``<digits>_<base64url>``);
        40001 when it has the shape but was never issued, was replaced more than 5 minutes ago or
        was revoked; 42001 when its 7200 s are over.
        """
        if not value:
            raise WeChatError(41001)
        token = self.tokens.get(value)
        if token is None:
            raise WeChatError(40001 if _looks_like_token(value) else 40014)
        problem = token.problem(self.clock.now())
        if problem is not None:
            raise WeChatError(problem)
        return self.apps[token.appid]

    def remember(self, token: Token) -> None:
        self.tokens[token.value] = token

    # login codes ------------------------------------------------------------------------------

    def mint_login_code(self, appid: str, openid: Optional[str] = None) -> LoginCode:
        """A ``wx.login`` code for ``openid`` (a new openid when absent), valid 5 minutes."""
        with self.lock:
            app = self.app(appid)
            openid = openid or ids.openid()
            app.openids.add(openid)
            code = LoginCode(ids.login_code(), appid, openid, self.clock.now() + LOGIN_CODE_SECONDS)
            self.login_codes[code.code] = code
            return code

    def redeem_login_code(self, appid: str, code: str) -> LoginCode:
        """Use a login code up: 40163 when this app already used it; 40029 when it is unknown,
        expired or another app's (a code is good for one exchange, for about 5 minutes)."""
        with self.lock:
            if self.used_login_codes.get(code) == appid:
                raise WeChatError(40163)
            login = self.login_codes.get(code)
            if login is None or login.appid != appid:
                raise WeChatError(40029)
            del self.login_codes[code]
            if self.clock.now() >= login.expires_at:
                raise WeChatError(40029)
            if len(self.used_login_codes) >= USED_CODES_KEPT:
                self.used_login_codes.pop(next(iter(self.used_login_codes)))
            self.used_login_codes[code] = appid
            return login

    # faults -----------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault for the next ``fault.times`` calls to ``fault.path``."""
        if fault.times < 1:
            raise ValueError("times must be ≥ 1")
        with self.lock:
            self.faults.setdefault(fault.path, deque()).append(fault)

    def take_fault(self, path: str) -> Optional[Fault]:
        """The fault this call to ``path`` must suffer, if any (consumes one of its times)."""
        if not self.faults:
            return None
        with self.lock:
            queue = self.faults.get(path)
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.popleft()
                if not queue:
                    del self.faults[path]
            return fault

    # messages ---------------------------------------------------------------------------------

    def accept(self, app: App, message: Message) -> None:
        """Record an accepted message (observers are told separately, by :meth:`notify`)."""
        with self.lock:
            app.messages.append(message)

    def notify(self, app: App, message: Message) -> None:
        """Tell the observers about an accepted message; called outside the state lock."""
        for hook in list(self.message_hooks):
            try:
                hook(app, message)
            except Exception:  # an observer's failure must never change the send's answer
                traceback.print_exc(file=sys.stderr)

    def messages(self, appid: Optional[str] = None, openid: Optional[str] = None) -> list[Message]:
        """Accepted messages, oldest first, optionally of one app and/or one user."""
        with self.lock:
            apps = [self.app(appid)] if appid else list(self.apps.values())
            found = [m for app in apps for m in app.messages]
        if openid:
            found = [m for m in found if m.touser == openid]
        found.sort(key=lambda m: m.msgid)
        return found


def _looks_like_token(value: str) -> bool:
    prefix, sep, rest = value.partition("_")
    return bool(sep) and prefix.isdigit() and len(rest) >= 32 and all(c in _B64URL for c in rest)


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
