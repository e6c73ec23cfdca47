"""send: one subscribe message, validated, idempotent and logged before and after the call.

WeChat's API: https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_sendmessage.html
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, NoReturn, Optional

from wxapush import limits
from wxapush.app import SEND_TIME, App, current_app
from wxapush.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NoTimeLeft,
    NotSubscribed,
    OutcomeUnknown,
    RateLimited,
    WxapushError,
    ok,
)
from wxapush.runtime import Invocation
from wxapush.services import grants, respect, send_claim, user_rate
from wxapush.services.fields import flag, pick, text, wechat_items
from wxapush.services.validation import validate_send
from wxapush.store.base import GrantKey, LogRecord, TemplateInfo, new_log_id
from wxapush.wechat.errcodes import error_for_errcode, quota_retry

SEND_PATH = "/cgi-bin/message/subscribe/send"
post_accept_log = logging.getLogger("wxapush.send")
#: The pause before writing WeChat's accepted answer down a second time.
RECORD_RETRY_PAUSE = 0.05
#: A page path with its query; longer is refused before it reaches WeChat or the store.
MAX_PAGE = 1024
#: Accepted for compatibility with the retired template-message API, and ignored.
_RETIRED = "is ignored: WeChat retired form-id template messages on 2020-01-10"
_NO_EMPHASIS = "is ignored: subscribe messages have no emphasised keyword"
LEGACY_FIELDS = {
    "formId": _RETIRED,
    "form_id": _RETIRED,
    "emphasisKeyword": _NO_EMPHASIS,
    "emphasis_keyword": _NO_EMPHASIS,
}


@dataclass
class SendRequest:
    """A send request, normalised: snake_case, data items wrapped as ``{"value": …}``."""

    touser: str
    template_id: str
    page: str | None
    data: Any
    miniprogram_state: str
    lang: str
    idempotency_key: str | None
    warnings: list[str] = field(default_factory=list)
    #: Bypass the cap and quiet hours (a service's single send only).
    urgent: bool = False
    #: The campaign this message belongs to (set by broadcast's workers, never by a request).
    broadcast_id: str | None = None

    def __post_init__(self) -> None:
        # Every path (send, broadcast's create and workers) builds one: values become text here.
        if isinstance(self.data, dict):
            self.data = wechat_items(self.data)

    def payload(self) -> dict[str, Any]:
        """The body WeChat receives."""
        body: dict[str, Any] = {"touser": self.touser, "template_id": self.template_id}
        if self.page is not None:
            body["page"] = self.page
        body.update(data=self.data, miniprogram_state=self.miniprogram_state, lang=self.lang)
        return body

    def payload_hash(self) -> str:
        canonical = json.dumps(self.payload(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def run(inv: Invocation) -> dict[str, Any]:
    """Send one message for ``inv.caller`` (a user may send only to itself).

    ``{"action": "record_subscription", "result": {...}}`` records the caller's subscription
    choices instead (see :mod:`wxapush.services.subscriptions`).
    """
    action = inv.request.get("action")
    if action is not None:
        if action != "record_subscription":
            raise InvalidRequest("action must be record_subscription (or absent, to send)")
        # Imported here: a plain send need not load the event parser behind it.
        from wxapush.services import subscriptions

        return subscriptions.record(inv)
    app = current_app()
    req = parse(inv.request, app.settings.miniprogram_state)
    caller = inv.caller
    if caller.kind == "user":
        if req.touser and req.touser != caller.openid:
            raise Forbidden("a mini-program user may send only to itself")
        req.touser = caller.openid or ""
        if req.urgent:
            raise Forbidden("urgent is for services")
        if req.idempotency_key is not None:
            req.idempotency_key = user_key(req.touser, req.idempotency_key)
    elif caller.kind != "service":
        raise Forbidden("send is for services and mini-program users")
    elif req.idempotency_key is not None and req.idempotency_key.startswith(RESERVED_PREFIXES):
        # Reserved for users' scoped keys and campaigns' derived keys: a service must not
        # reach into either scope.
        raise InvalidRequest(
            f"a service's idempotency_key may not start with {' or '.join(RESERVED_PREFIXES)}"
        )
    if not req.touser:
        raise InvalidRequest("touser is required")
    if caller.kind == "user":
        user_rate.take_user_slot(app, req.touser)  # before anything is claimed or sent
    return Sender(app, inv.deadline).send(req)


USER_KEY_PREFIX = "u:"
#: broadcast's per-recipient keys: ``b:<broadcast_id>:<seq>``.
BROADCAST_KEY_PREFIX = "b:"
RESERVED_PREFIXES = (USER_KEY_PREFIX, BROADCAST_KEY_PREFIX)


def user_key(openid: str, key: str) -> str:
    """The stored form of a mini-program user's idempotency key: scoped to that user.

    Keys are unique per app; unscoped, a user could take (or probe for) a key a service or
    another user is about to use. A service's keys are stored as given. send_log shows the
    stored form, so a record's key always names the scope it is unique in.
    """
    return f"{USER_KEY_PREFIX}{openid}:{key}"


def parse(request: dict[str, Any], default_state: str) -> SendRequest:
    """Read a send request in either spelling; the data shorthand ``{"thing1": "…"}`` is wrapped."""
    key = text(request, "idempotency_key", "idempotencyKey")
    data = pick(request, "data")
    if data is None:
        raise InvalidRequest("data is required")
    limits.check_send_data(data)  # an object of bounded {"value": scalar} items, or scalars
    return SendRequest(
        touser=text(request, "touser", "toUser") or "",
        template_id=text(request, "template_id", "templateId", required=True) or "",
        page=text(request, "page", limit=MAX_PAGE),
        data=data,
        miniprogram_state=text(request, "miniprogram_state", "miniprogramState") or default_state,
        lang=text(request, "lang") or "zh_CN",
        idempotency_key=key,
        warnings=[f"{name} {note}" for name, note in LEGACY_FIELDS.items() if name in request],
        urgent=flag(request, "urgent"),
    )


class Sender:
    """The send path: validate, claim the idempotency key, log, call WeChat, log the outcome."""

    def __init__(
        self,
        app: App,
        deadline: float,
        start_by: float | None = None,
        door: send_claim.Door | None = None,
    ) -> None:
        self.app = app
        self.log = app.store.log
        self.deadline = deadline
        #: The latest time the call to WeChat may start (a broadcast worker's lease), if any.
        self.start_by = start_by
        #: The mark at WeChat's door, if not the log's own (see ``send_claim.dispatch``): a
        #: broadcast worker's also checks, in the same write, that its campaign is not
        #: cancelled; a refusal it raises sends nothing.
        self.door = door
        self.held: str | None = None  # the per-user cap's counter taken for this send

    def send(self, req: SendRequest) -> dict[str, Any]:
        self.held = None
        template = self.app.template(req.template_id)
        refusal: WxapushError | None = None
        try:
            validate_send(req, template)
        except WxapushError as error:
            refusal = error
        record, created = send_claim.claim(self.log, self._record(req, refusal), self.deadline)
        if not created:
            return self._replay(record, req)
        if refusal is None:
            try:
                broadcast = req.broadcast_id is not None
                self.held = respect.before_send(self.app, req.touser, broadcast, req.urgent)
                grants.before_send(self.app, req.touser, req.template_id, template)
            except WxapushError as error:
                refusal = error
                respect.give_back(self.app, self.held)
                self._update(record, status="rejected", **_outcome(error))
        if refusal is not None:
            raise _with(refusal, log_id=record.log_id)
        return self._deliver(req, record, template)

    def _record(self, req: SendRequest, refusal: WxapushError | None) -> LogRecord:
        now = time.time()
        return LogRecord(
            log_id=new_log_id(),
            appid=self.app.settings.appid,
            touser=req.touser,
            template_id=req.template_id,
            page=req.page,
            data=req.data if isinstance(req.data, dict) else {"data": req.data},
            miniprogram_state=req.miniprogram_state,
            lang=req.lang,
            status="pending" if refusal is None else "rejected",
            created_at=now,
            updated_at=now,
            errcode=None if refusal is None else refusal.errcode,
            errmsg=None if refusal is None else refusal.errmsg,
            attempts=0,  # 1 once the call to WeChat starts (send_claim.dispatch)
            idempotency_key=req.idempotency_key,
            payload_hash=req.payload_hash() if req.idempotency_key else None,
            broadcast_id=req.broadcast_id,
        )

    def _replay(self, record: LogRecord, req: SendRequest) -> dict[str, Any]:
        """A repeated idempotency key: the first outcome again, and nothing sent."""
        if record.payload_hash != req.payload_hash():
            raise Conflict(
                "idempotency_key was already used with another payload: the first request "
                f"(log {record.log_id}) {_fate(record)}",
                log_id=record.log_id,
                hint="a different message needs a new idempotency_key; repeat the first "
                "payload unchanged to get its answer again",
            )
        if record.status == "pending":
            raise Conflict(
                "a send with this idempotency_key is in progress or was interrupted; "
                f"see log {record.log_id}",
                retryable=True,
            )
        if record.status in ("failed", "rejected"):
            error = error_for_errcode(record.errcode or -1, record.errmsg or "")
            raise _with(error, log_id=record.log_id, duplicate=True)
        if record.status == "unknown":  # reconciled: the outcome will never be learned
            raise OutcomeUnknown(
                "the first send with this idempotency_key may or may not have reached the "
                f"user, and WeChat never said (log {record.log_id}, status unknown); "
                "nothing was sent again",
                log_id=record.log_id,
                status="unknown",
                duplicate=True,
            )
        return ok(msgid=record.msgid, log_id=record.log_id, status=record.status, duplicate=True)

    def _deliver(
        self, req: SendRequest, record: LogRecord, template: TemplateInfo | None
    ) -> dict[str, Any]:
        try:
            # pace_send keeps SEND_TIME before the time it is given: the send starts by start_by.
            limit = self.deadline if self.start_by is None else self.start_by + SEND_TIME
            self.app.pace_send(min(limit, self.deadline), campaign=req.broadcast_id is not None)
        except RateLimited as error:
            self._fail(req, record, template, error, "rejected")  # nothing was sent
        try:
            # The token first, so that after the door's mark nothing but the call remains.
            self.app.client.tokens.get(deadline=self.deadline)
        except NoTimeLeft as error:
            self._fail(req, record, template, error, "rejected")  # nothing was sent
        except WxapushError as error:
            self._fail(req, record, template, error, "failed")  # WeChat's token endpoint failed
        try:
            dispatched = send_claim.dispatch(self.log, record, self.deadline, self.door)
        except WxapushError as error:  # the door refused it: nothing was sent
            self._fail(req, record, template, error, "rejected")
        if not dispatched:
            respect.give_back(self.app, self.held)
            raise Conflict(
                "a retry with this idempotency_key took this send over before it called WeChat; "
                f"this attempt sent nothing (log {record.log_id})",
                retryable=True,
                log_id=record.log_id,
            )
        try:
            answer = self.app.client.call(
                "POST", SEND_PATH, deadline=self.deadline, json=req.payload(), idempotent=False
            )
        except NoTimeLeft as error:
            self._fail(req, record, template, error, "rejected")  # nothing was sent
        except OutcomeUnknown as error:
            # WeChat may have sent it: the record stays pending and keeps its key, so that a
            # repeat is a retryable conflict (as after a crash), never a second message.
            self._fail(req, record, template, error, "pending")
        except WxapushError as error:
            quota_retry(error, self.app.clock())  # 45009: retry_after on the app's clock
            self._fail(req, record, template, error, "failed")  # refused, or unreachable
        return self._accepted(req, record, template, answer.get("msgid"))

    def _accepted(
        self, req: SendRequest, record: LogRecord, template: TemplateInfo | None, msgid: Any
    ) -> dict[str, Any]:
        """WeChat accepted: from here on the caller hears success, whatever fails after.

        A retryable answer now would make the caller send the message again. If the log cannot
        be written, the record stays ``pending`` (its key still held, so a repeat is never
        sent): WeChat's delivery report or refresh_code's reconciliation settles it later.
        """
        warnings = list(req.warnings)
        # The outcome and (under track) the grant it used, in one write.
        used = grants.used_by_success(self.app, req.touser, req.template_id, template)
        sent = {"status": "sent", "msgid": msgid, "errcode": 0, "errmsg": "ok"}
        try:
            try:
                self._update(record, use_grant=used, **sent)
            except Exception:  # once more after a pause: a blip should not leave it pending
                if time.monotonic() + RECORD_RETRY_PAUSE >= self.deadline - 0.5:
                    raise
                time.sleep(RECORD_RETRY_PAUSE)
                self._update(record, use_grant=used, **sent)
        except Exception as exc:  # a store outage, or an answer the store cannot hold
            post_accept_log.error(
                "WeChat accepted log %s (msgid %s) but recording it failed: %s; "
                "the record stays pending until reconciled",
                record.log_id,
                msgid,
                type(exc).__name__,
            )
            warnings.append(
                f"WeChat accepted the message, but the send log could not record it "
                f"({type(exc).__name__}); log {record.log_id} stays pending until refresh_code "
                "reconciles it"
            )
        result = ok(msgid=msgid, log_id=record.log_id, status="sent", duplicate=False)
        if warnings:
            result["warnings"] = warnings
        return result

    def _fail(
        self,
        req: SendRequest,
        record: LogRecord,
        template: TemplateInfo | None,
        error: WxapushError,
        status: str,
    ) -> NoReturn:
        try:
            self._update(record, status=status, **_outcome(error))
            if status != "pending":  # not sent: the message does not count against the cap
                respect.give_back(self.app, self.held)
            grants.after_failure(self.app, req.touser, req.template_id, template, error)
        except Exception as exc:
            # The call's outcome is the answer, not the store's: a store failure here must not
            # turn an unknown outcome into a retryable one. The record stays pending (its key
            # held) until a delivery report or reconciliation settles it.
            post_accept_log.error(
                "log %s: recording the outcome %s failed: %s; the record stays pending",
                record.log_id,
                error.slug,
                type(exc).__name__,
            )
            error.extras["warnings"] = [
                f"the send log could not record this outcome ({type(exc).__name__}); "
                f"log {record.log_id} stays pending until refresh_code reconciles it"
            ]
        raise _with(error, log_id=record.log_id) from None

    def _update(
        self, record: LogRecord, *, use_grant: Optional[GrantKey] = None, **changes: Any
    ) -> None:
        self.log.update(record.log_id, use_grant=use_grant, updated_at=time.time(), **changes)


#: What became of a keyed request, as a conflicting repeat is told.
_FATES = {
    "pending": "is in progress or was interrupted: its outcome is not known yet",
    "sent": "was sent (msgid {msgid})",
    "delivered": "was sent and delivered (msgid {msgid})",
    "undelivered": "was sent, but WeChat could not deliver it (msgid {msgid})",
    "failed": "failed at WeChat with errcode {errcode}: nothing was sent",
    "rejected": "was refused locally with errcode {errcode}: never sent",
    "unknown": "may or may not have been sent: WeChat's answer was never learned",
}


def _fate(record: LogRecord) -> str:
    fate = _FATES.get(record.status, "ended " + record.status)
    return fate.format(msgid=record.msgid, errcode=record.errcode)


def _outcome(error: WxapushError) -> dict[str, Any]:
    """A refusal's log fields. The key is freed when a retry could succeed with nothing sent
    twice: a retryable failure (an unknown outcome never is), or no grant — the user may
    subscribe and the caller retry the same send."""
    changes: dict[str, Any] = {"errcode": error.errcode, "errmsg": error.errmsg}
    if error.retryable or isinstance(error, NotSubscribed):
        changes["idempotency_key"] = None
    return changes


def _with(error: WxapushError, **extras: Any) -> WxapushError:
    error.extras.update(extras)
    return error
