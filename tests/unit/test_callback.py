"""The message-push crypto against WeChat's published vectors and wechatpy."""

from __future__ import annotations

import base64

import pytest
from wechatpy.crypto import PrpCrypto, WeChatCrypto

from wxapush.wechat.callback import (
    CallbackCryptoError,
    aes_key,
    decrypt,
    decrypt_with_any,
    encrypt,
    sign,
    signature_matches,
)

# A. The mini-program message-push page.
A_TOKEN, A_KEY, A_APPID = "AAAAA", "A" * 43, "wxba5fad812f8e6fb9"
A_ENCRYPT = (
    "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcv"
    "ZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3F"
    "n2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSe"
    "OBrebufAlr7F9mFUPAJGj04="
)
A_MESSAGE = (
    b'{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY",'
    b'"CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}'
)
# B. The official WXBizMsgCrypt demo (compatible mode).
B_TOKEN, B_KEY, B_APPID = (
    "spamtest",
    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "wx2c2769f8efd9abc2",
)
B_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
    "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6"
    "tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp"
    "3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhv"
    "Ql+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


def test_url_verification_vector() -> None:
    assert sign("AAAAA", "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696"


def test_plaintext_push_vector() -> None:
    assert sign("AAAAA", "1714037059", "486452656") == "899cf89e464efb63f54ddac96b0a0a235f53aa78"


def test_secure_push_vector_signatures_and_decryption() -> None:
    assert sign(A_TOKEN, "1714112445", "415670741") == "6c5c811b55cc85e0e1b54100749188c20beb3f5d"
    msg_signature = sign(A_TOKEN, "1714112445", "415670741", A_ENCRYPT)
    assert msg_signature == "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"
    assert decrypt(A_ENCRYPT, A_KEY) == (A_MESSAGE, A_APPID)
    assert len(A_MESSAGE) == 167


def test_secure_reply_vector() -> None:
    encrypted = encrypt(b'{"demo_resp":"good luck"}', A_KEY, A_APPID, b"707722b803182950")
    assert encrypted == (
        "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="
    )
    assert sign(A_TOKEN, "1713424427", "415670741", encrypted) == (
        "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"
    )


def test_wxbizmsgcrypt_demo_vector() -> None:
    assert sign(B_TOKEN, "1409735669", "1320562132", B_ENCRYPT) == (
        "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
    )
    message, appid = decrypt(B_ENCRYPT, B_KEY)
    assert appid == B_APPID and len(message) == 280
    assert b"<Content><![CDATA[abcdteT]]></Content>" in message
    assert b"<MsgId>6054768590064713728</MsgId>" in message


def test_java_sample_vector_counts_bytes_not_characters() -> None:
    encrypted = encrypt(
        "我是中文abcd123".encode(), B_KEY, "wxb11529c136998cb6", b"aaaabbbbccccdddd"
    )
    assert encrypted == (
        "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
    )


@pytest.mark.parametrize("size", [0, 1, 11, 12, 13, 44, 100, 1000])
def test_padding_is_pkcs7_over_32_byte_blocks(size: int) -> None:
    message = b"x" * size
    raw = base64.b64decode(encrypt(message, A_KEY, A_APPID))
    plain_length = 16 + 4 + size + len(A_APPID)
    assert len(raw) == plain_length + (32 - plain_length % 32)  # a whole block when aligned
    assert decrypt(encrypt(message, A_KEY, A_APPID), A_KEY) == (message, A_APPID)


def test_wechatpy_encrypts_and_we_decrypt_and_the_reverse() -> None:
    text = '{"Event":"subscribe_msg_popup_event","note":"订阅"}'
    theirs = PrpCrypto(aes_key(B_KEY)).encrypt(text, B_APPID).decode()
    assert decrypt(theirs, B_KEY) == (text.encode(), B_APPID)
    ours = encrypt(text.encode(), B_KEY, B_APPID)
    assert PrpCrypto(aes_key(B_KEY)).decrypt(ours, B_APPID) == text
    crypto = WeChatCrypto(B_TOKEN, B_KEY, B_APPID)
    body = {"Encrypt": ours}
    assert crypto.decrypt_message(body, sign(B_TOKEN, "1", "2", ours), "1", "2") == text


def test_the_previous_key_is_tried_after_the_current_one() -> None:
    encrypted = encrypt(b"hello", B_KEY, A_APPID)
    assert decrypt_with_any(encrypted, [A_KEY, B_KEY], A_APPID) == (b"hello", B_KEY)
    with pytest.raises(CallbackCryptoError):
        decrypt_with_any(encrypted, [A_KEY], A_APPID)
    with pytest.raises(CallbackCryptoError, match="no EncodingAESKey"):
        decrypt_with_any(encrypted, [], A_APPID)


def test_another_apps_ciphertext_is_refused() -> None:
    encrypted = encrypt(b"hello", A_KEY, "wx0000000000000000")
    with pytest.raises(CallbackCryptoError, match="another appid"):
        decrypt_with_any(encrypted, [A_KEY], A_APPID)


@pytest.mark.parametrize(
    "encrypted",
    [
        "not base64!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(bytes(48)).decode(),  # decrypts to noise: bad padding
        A_ENCRYPT[:-8] + "AAAAAAA=",  # tampered last block
        "",
    ],
)
def test_malformed_ciphertexts_fail_cleanly(encrypted: str) -> None:
    with pytest.raises(CallbackCryptoError):
        decrypt(encrypted, A_KEY)


def test_signature_comparison_refuses_everything_but_the_exact_digest() -> None:
    good = sign(A_TOKEN, "1", "2")
    assert signature_matches(good, A_TOKEN, "1", "2")
    assert signature_matches(good.upper(), A_TOKEN, "1", "2")
    for forged in (None, "", good[:-1] + "0", good + "0", "签名" * 20, good.replace("a", "\x00")):
        if forged != good:
            assert not signature_matches(forged, A_TOKEN, "1", "2")


@pytest.mark.parametrize("key", ["A" * 42, "A" * 44, "A" * 42 + "!", "é" * 43])
def test_malformed_encoding_aes_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="43 characters"):
        aes_key(key)
