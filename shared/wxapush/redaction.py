"""Masking secrets in text bound for a log or an error: by structure, then by known value.

A URL's password is found by parsing the URL (:func:`url_password`), every configured secret by
its value (``Settings.secrets()``, store passwords included), and the credentials that travel in
query strings, JSON bodies and headers by their names. Use :func:`redact` on anything built from
foreign text (exception messages, URLs, tracebacks) before logging it.
"""

from __future__ import annotations

from typing import Optional

from wxapush.lazy_pattern import LazyPattern

__all__ = ["redact", "url_password"]

# Credentials that travel in query strings, JSON bodies and headers; masked even when the value
# is not known here. Passwords inside URLs are found by structure (:func:`url_password`).
_CREDENTIAL_PATTERNS = (
    LazyPattern(
        r"(?i)((?:access_token|secret|appsecret|encoding_?aes_?key|password|js_code|session_key)=)"
        r"[^&\s\"']+"
    ),
    LazyPattern(
        r"(?i)(\"(?:access_token|secret|appsecret|password|session_key|session)\"\s*:\s*\")[^\"]*"
    ),
    LazyPattern(r"(?i)((?:bearer|session)\s+)[^\s,\"']+"),
)
#: Where a URL starts in free text: ``scheme://``.
_URL_START = LazyPattern(r"(?i)\b[a-z][a-z0-9+.-]*://")
_URL_END = LazyPattern(r"[\s\"'<>]")


def url_password(url: str) -> Optional[str]:
    """The password of ``scheme://user:password@host…``, as written (None if there is none).

    Read by structure: the user part ends at the *last* ``@`` (a password may hold an unescaped
    ``@`` or ``/``, which pattern-based masking and some drivers' parsers get wrong), and the
    password starts after its first ``:``.
    """
    start = _URL_START.get().match(url)
    if start is None:
        return None
    rest = url[start.end() :]
    userinfo, at, _ = rest.rpartition("@")
    if not at:
        return None
    _, colon, password = userinfo.partition(":")
    return password if colon and password else None


def _mask_url_passwords(text: str) -> str:
    out, pos = [], 0
    for match in _URL_START.get().finditer(text):
        if match.start() < pos:
            continue  # inside a URL already masked
        end = _URL_END.get().search(text, match.end())
        stop = end.start() if end else len(text)
        password = url_password(text[match.start() : stop])
        if password is None:
            continue
        colon = text.index(":", match.end())
        at = text.rindex("@", match.end(), stop)
        out.append(text[pos : colon + 1] + "***")
        pos = at
    out.append(text[pos:])
    return "".join(out)


def redact(text: str, *secrets: Optional[str]) -> str:
    """``text`` with every given secret, every URL's password and every recognisable credential
    replaced by ``***``.

    Use it on anything built from foreign text (exception messages, URLs) before logging it.
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _mask_url_passwords(text)
    for pattern in _CREDENTIAL_PATTERNS:
        text = pattern.get().sub(r"\1***", text)
    return text
