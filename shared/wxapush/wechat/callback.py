"""WeChat's message-push security: signatures, and the AES format of secure / compatible mode.

The page this implements: https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html
(the same scheme: https://developers.weixin.qq.com/doc/oplatform/developers/dev/push/encryption.md).

* ``signature = sha1(sorted([Token, timestamp, nonce]) joined)`` (URL check, plaintext pushes);
  ``msg_signature`` adds the ``Encrypt`` text to the sorted list (secure and compatible mode).
* ``AESKey = base64(EncodingAESKey + "=")`` (32 bytes), AES-256-CBC with ``IV = AESKey[:16]``,
  PKCS#7 padding over **32-byte** blocks, plaintext ``random(16) + len(4, big-endian) + msg +
  appid``, then standard base64.

Every comparison of a signature is constant-time, and the appid inside the ciphertext is checked:
the two checks other SDKs commonly skip.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from typing import Optional, Sequence, Tuple

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "CallbackCryptoError",
    "aes_key",
    "decrypt",
    "decrypt_with_any",
    "encrypt",
    "sign",
    "signature_matches",
]

#: WeChat pads to multiples of 32 bytes (not AES's 16): the pad byte ranges 1..32.
BLOCK = 32
_HEADER = 16 + 4  # random bytes + message length


class CallbackCryptoError(ValueError):
    """A ciphertext that does not decrypt to WeChat's format (or names another appid)."""


def sign(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """WeChat's push signature: the SHA-1 hex of the sorted, concatenated parts.

    ``sign(token, timestamp, nonce)`` is ``signature``; ``sign(token, timestamp, nonce,
    encrypt)`` is ``msg_signature`` (and a secure reply's ``MsgSignature``).
    """
    joined = "".join(sorted((token, timestamp, nonce, *extra)))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def signature_matches(
    given: Optional[str], token: str, timestamp: str, nonce: str, *extra: str
) -> bool:
    """True if ``given`` is the signature of the parts, compared in constant time."""
    if not given:
        return False
    expected = sign(token, timestamp, nonce, *extra).encode("ascii")
    # Bytes, not str: compare_digest refuses non-ASCII str, and the value is the sender's.
    return hmac.compare_digest(expected, given.strip().lower().encode("utf-8"))


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("an EncodingAESKey is 43 characters of a-z, A-Z, 0-9") from None
    if len(encoding_aes_key) != 43 or len(key) != 32:
        raise ValueError("an EncodingAESKey is 43 characters of a-z, A-Z, 0-9")
    return key


def encrypt(
    message: bytes, encoding_aes_key: str, appid: str, random: Optional[bytes] = None
) -> str:
    """WeChat's ``Encrypt`` text for ``message`` (``random``: 16 bytes, fixed only in tests)."""
    key = aes_key(encoding_aes_key)
    nonce = os.urandom(16) if random is None else random
    if len(nonce) != 16:
        raise ValueError("random must be 16 bytes")
    plain = nonce + struct.pack(">I", len(message)) + message + appid.encode("utf-8")
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def decrypt(encrypted: str, encoding_aes_key: str) -> Tuple[bytes, str]:
    """``(message, appid)`` from an ``Encrypt`` text; :class:`CallbackCryptoError` if malformed.

    Every length and the padding are checked before use: a ciphertext decrypted with a wrong key
    yields noise, and noise must fail here rather than slice into a plausible message.
    """
    key = aes_key(encoding_aes_key)
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise CallbackCryptoError("Encrypt is not base64") from None
    if not data or len(data) % 16:
        raise CallbackCryptoError("the ciphertext is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
        raise CallbackCryptoError("bad padding")
    plain = plain[:-pad]
    if len(plain) < _HEADER:
        raise CallbackCryptoError("too short")
    (length,) = struct.unpack(">I", plain[16:_HEADER])
    if _HEADER + length > len(plain):
        raise CallbackCryptoError("the message length runs past the plaintext")
    message, appid = plain[_HEADER : _HEADER + length], plain[_HEADER + length :]
    try:
        return message, appid.decode("utf-8")
    except UnicodeDecodeError:
        raise CallbackCryptoError("the appid is not text") from None


def decrypt_with_any(encrypted: str, keys: Sequence[str], appid: str) -> Tuple[bytes, str]:
    """The message of a push for ``appid``, trying each key in turn; ``(message, key used)``.

    The current key comes first, then the previous one (kept while the console switches over).
    A ciphertext whose appid is not ``appid`` is refused whichever key opened it.
    """
    problems = []
    for key in keys:
        try:
            message, found = decrypt(encrypted, key)
        except CallbackCryptoError as error:
            problems.append(str(error))
            continue
        if hmac.compare_digest(found.encode("utf-8"), appid.encode("utf-8")):
            return message, key
        # Not ours, or noise that happened to parse under the wrong key: try the next key.
        problems.append("the push was encrypted for another appid")
    raise CallbackCryptoError("; ".join(problems) or "no EncodingAESKey is configured")
