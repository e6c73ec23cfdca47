"""receive_event: WeChat's message push — URL verification, verified events, delivery status.

WeChat's pages: https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html
(verification, modes, formats) and https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/subscribe-message.html
(the subscribe-message events).

Every check runs before anything is written: the signature (``msg_signature`` over the
ciphertext in secure and compatible mode, compared in constant time), the timestamp's age
(``WXAPUSH_CALLBACK_MAX_AGE``), the decryption (current key, then the previous one) and the
appid inside the ciphertext, the body's size and shape, and in plaintext mode that the signature
has not served another body. A push that fails any of them gets a 4xx and changes nothing. A
verified push is handled once, however often WeChat re-pushes it, and answered ``success`` in
plain text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from wxapush import limits
from wxapush.app import App, current_app
from wxapush.config import Settings
from wxapush.errors import (
    REQUEST_TOO_LARGE,
    Forbidden,
    InvalidRequest,
    Misconfigured,
    Unauthorized,
)
from wxapush.invocation import Invocation, RawResponse
from wxapush.services import subscriptions
from wxapush.services.reconcile import unrecorded_send
from wxapush.store.base import LogRecord
from wxapush.wechat.callback import (
    CallbackCryptoError,
    decrypt_with_any,
    signature_matches,
)
from wxapush.wechat.events import (
    CHANGE,
    POPUP,
    SENT,
    Delivery,
    EventParseError,
    Push,
    parse_document,
    parse_push,
)

log = logging.getLogger("wxapush.receive_event")

#: A push is a few hundred bytes (compatible mode about 3×); far more is not WeChat.
MAX_PUSH_BYTES = 64 * 1024
#: How long a handled event's key is kept: WeChat's re-pushes come within seconds; the rest of
#: the window catches a replay that is still inside WXAPUSH_CALLBACK_MAX_AGE.
EVENT_TTL = 86400.0
#: How long a push's delivery reports may wait, together, for their sends to log the msgids (the
#: two race: WeChat may push before the send function has written WeChat's answer down). One
#: budget per push, however many items it carries: well inside WeChat's 5 s.
MSGID_WAIT = 2.0
#: How long a plaintext signature is remembered when WXAPUSH_CALLBACK_MAX_AGE is 0 (no window).
SIGNATURE_TTL_UNCHECKED = 7 * 86400.0
SUCCESS = RawResponse("success")
#: What a delivery report may settle: a sent record, or one whose answer was never recorded.
SETTLED_BY_REPORT = ("sent", "delivered", "undelivered", "pending", "unknown")


def run(inv: Invocation) -> Union[Dict[str, Any], RawResponse]:
    """Answer WeChat: echo ``echostr`` for a valid URL check, ``success`` for a valid push."""
    if inv.http is None:
        raise Forbidden("receive_event answers WeChat's HTTP pushes only")
    app = current_app()
    settings = app.settings
    tokens = settings.callback_tokens()
    if not tokens:
        raise Misconfigured("WXAPUSH_CALLBACK_TOKEN is not set", setting="WXAPUSH_CALLBACK_TOKEN")
    query = inv.request
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    # The entry point answers GET (the URL check) and POST (pushes); any other method got 405.
    if inv.http.method == "GET":
        _verify(settings, query.get("signature"), tokens, timestamp, nonce)
        echostr = query.get("echostr")
        if not echostr:
            raise InvalidRequest("echostr is required to verify the URL")
        # The URL check's signature is the plaintext pushes' scheme: it must not sign a push later.
        app.store.events.first_seen(_signature_key(settings, query), _signature_ttl(settings))
        return RawResponse(echostr)
    body = inv.http.body
    if len(body) > MAX_PUSH_BYTES:
        raise InvalidRequest(f"a push is at most {MAX_PUSH_BYTES} bytes", errcode=REQUEST_TOO_LARGE)
    document = _open(settings, tokens, query, timestamp, nonce, body)
    try:
        push = parse_push(document)
    except EventParseError as error:
        raise InvalidRequest(f"not a WeChat push: {error}") from None
    # Secure and compatible mode need no claim: msg_signature covers the ciphertext, so another
    # body fails the signature, and the same ciphertext is the same event (see event_key).
    if not _encrypted(query):
        _bind_signature(app, query, body)
    # handle() runs each event once: WeChat's retry of a push whose handling failed is handled
    # again (its event key was forgotten), a retry of a handled one changes nothing.
    handle(app, push, inv.deadline)
    return SUCCESS


def _encrypted(query: Mapping[str, str]) -> bool:
    encrypt_type = query.get("encrypt_type", "raw").lower() or "raw"
    if encrypt_type not in ("aes", "raw"):
        raise InvalidRequest("encrypt_type must be aes or raw")
    return encrypt_type == "aes"


def _open(
    settings: Settings,
    tokens: Sequence[str],
    query: Mapping[str, str],
    timestamp: str,
    nonce: str,
    body: bytes,
) -> Dict[str, Any]:
    """The verified (and, in secure or compatible mode, decrypted) push document."""
    keys = [k for k in (settings.encoding_aes_key, settings.encoding_aes_key_previous) if k]
    if not _encrypted(query):
        # A plaintext push's body is not covered by its signature, and the same signature
        # appears in every URL check: with a key configured, WeChat sends ciphertext, so a
        # plaintext body can only be someone else's.
        if keys:
            raise Unauthorized(
                "plaintext pushes are refused while WXAPUSH_ENCODING_AES_KEY is set "
                "(choose secure or compatible mode in the console)"
            )
        _verify(settings, query.get("signature"), tokens, timestamp, nonce)
        return _document(body)
    if not keys:
        raise Misconfigured(
            "an encrypted push arrived but WXAPUSH_ENCODING_AES_KEY is not set",
            setting="WXAPUSH_ENCODING_AES_KEY",
        )
    encrypted = _document(body).get("Encrypt")
    if not isinstance(encrypted, str) or not encrypted.strip():
        raise InvalidRequest("an encrypted push carries Encrypt")
    # Compatible mode puts plaintext fields next to Encrypt: they are not signed and are
    # ignored; only the ciphertext, covered by msg_signature, is read.
    encrypted = encrypted.strip()
    _verify(settings, query.get("msg_signature"), tokens, timestamp, nonce, encrypted)
    try:
        message, _ = decrypt_with_any(encrypted, keys, settings.appid)
    except CallbackCryptoError as error:
        raise Unauthorized(f"the push does not decrypt for this app: {error}") from None
    return _document(message)


def _verify(
    settings: Settings,
    given: Optional[str],
    tokens: Sequence[str],
    timestamp: str,
    nonce: str,
    *extra: str,
) -> None:
    # The current Token, or the previous one while the console is being changed over.
    matches = [signature_matches(given, token, timestamp, nonce, *extra) for token in tokens]
    if not any(matches):
        raise Unauthorized("the signature does not match (WXAPUSH_CALLBACK_TOKEN)")
    max_age = settings.callback_max_age
    if max_age <= 0:
        return
    if not (timestamp.isdigit() and timestamp.isascii() and len(timestamp) <= 12):
        raise InvalidRequest("timestamp must be unix seconds")
    # Either direction: a clock ahead by more than the window is as suspect as a stale push.
    if abs(time.time() - int(timestamp)) > max_age:
        raise Unauthorized(f"the timestamp is over {max_age} s away (WXAPUSH_CALLBACK_MAX_AGE)")


def _bind_signature(app: App, query: Mapping[str, str], body: bytes) -> None:
    """Plaintext mode: bind each signature to the first body it came with, for good.

    ``signature`` covers the Token, timestamp and nonce but not the body, and the URL check
    signs the same way: whoever saw one query string could post any body with it while the
    timestamp is fresh. The first push with a signature binds it to its body (a hash); the
    binding outlives the handling, whatever its outcome, so WeChat's retry (the same bytes)
    passes and another body, or a signature a URL check used, is refused.
    """
    events, ttl = app.store.events, _signature_ttl(app.settings)
    signature_key = _signature_key(app.settings, query)
    body_key = f"{signature_key}:{hashlib.sha256(body).hexdigest()}"
    if events.first_seen(signature_key, ttl):
        events.first_seen(body_key, ttl)
        return
    if not events.first_seen(body_key, ttl):
        log.info("plaintext push re-sent byte for byte")
        return
    events.forget(body_key)  # else this body would pass as a retry next time
    raise Unauthorized("this signature was already used for another request (plaintext mode)")


def _signature_key(settings: Settings, query: Mapping[str, str]) -> str:
    # Normalized as signature_matches compares it: "ABC " is the same signature as "abc".
    signature = (query.get("signature") or "").strip().lower()
    return f"wxsig:{settings.appid}:{signature}"


def _signature_ttl(settings: Settings) -> float:
    # A timestamp passes while within max_age of now either way, so a signature stays usable up
    # to 2 × max_age after it is first seen (+1 s for rounding); with no window, a long bound.
    max_age = settings.callback_max_age
    return 2.0 * max_age + 1 if max_age > 0 else SIGNATURE_TTL_UNCHECKED


def _document(body: bytes) -> Dict[str, Any]:
    """The push document, held to the limits of every request (:mod:`wxapush.limits`): what
    the signature covers — the decrypted message included — is not trusted to be storable (a
    lone surrogate, a NUL, a deep nesting would fail in the store, as a bug would)."""
    try:
        document = parse_document(body)
    except EventParseError as error:
        raise InvalidRequest(f"unreadable push: {error}") from None
    limits.check_event(document, limit=MAX_PUSH_BYTES, what="push")
    return document


# -- handling ---------------------------------------------------------------------------------


def handle(app: App, push: Push, deadline: float) -> None:
    """Apply a verified push once: re-pushes of a handled event change nothing.

    If handling fails the event is forgotten again, so that WeChat's retry is handled.
    """
    if push.msg_type != "event" or push.event not in (POPUP, CHANGE, SENT):
        log.info("push %s/%s acknowledged, nothing to do", push.msg_type, push.event)
        return
    key = event_key(app.settings.appid, push)
    if push.event != SENT:
        # The claim and the ledger's writes in one call (one round trip on Redis).
        if not subscriptions.apply_event(app, push, key, EVENT_TTL):
            log.info("%s re-pushed; already handled", push.event)
        return
    if not app.store.events.first_seen(key, EVENT_TTL):
        log.info("%s re-pushed; already handled", push.event)
        return
    try:
        _record_deliveries(app, push, deadline)
    except BaseException:
        app.store.events.forget(key)
        raise


def event_key(appid: str, push: Push) -> str:
    """The identity of an event: WeChat re-pushes it with the same content."""
    # vars(), not asdict(): the items are flat dataclasses of text and numbers, so the same
    # dicts (the same key, whatever version wrote it) without asdict's recursive copy.
    items = [vars(c) for c in push.choices] + [vars(d) for d in push.deliveries]
    canonical = json.dumps(
        [appid, push.event, push.from_user, push.create_time, items], sort_keys=True
    )
    return "wxpush:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _record_deliveries(app: App, push: Push, deadline: float) -> None:
    # One budget for the whole push: WeChat hangs up after 5 s however many items it carries.
    give_up = min(time.monotonic() + MSGID_WAIT, deadline - 0.5)
    unknown = []
    for delivery in push.deliveries:
        record = _find(app, delivery.msgid, give_up)
        if record is None:
            record = unrecorded_send(app, push.from_user, delivery.template_id, EVENT_TTL)
        if record is None:
            unknown.append(delivery.msgid)
        else:
            _record_delivery(app, push.from_user, delivery, record)
    if unknown:
        # Sent by something else with this AppID, pruned, or not logged in time: nothing to update.
        log.info("delivery reports for unknown msgids ignored: %s", unknown)


def _record_delivery(app: App, openid: str, delivery: Delivery, record: LogRecord) -> None:
    if record.touser != openid or record.template_id != delivery.template_id:
        log.warning("delivery report for msgid %s names another user or template", delivery.msgid)
        return
    if record.status not in SETTLED_BY_REPORT:
        return
    app.store.log.update(
        record.log_id,
        status="delivered" if delivery.error_code == 0 else "undelivered",
        errcode=delivery.error_code,
        errmsg=delivery.error_status or None,
        msgid=delivery.msgid,
        updated_at=time.time(),
    )


def _find(app: App, msgid: int, give_up: float) -> Optional[LogRecord]:
    """The log record of ``msgid``, looked up until ``give_up`` (at least once)."""
    appid = app.settings.appid
    pause = 0.02
    while True:
        record = app.store.log.find_by_msgid(appid, msgid)
        if record is not None or time.monotonic() + pause > give_up:
            return record
        time.sleep(pause)
        pause = min(pause * 2, 0.25)
