"""Callback signatures and the AES "safe mode" envelope of WeChat and WeCom.

Signatures are compared with `hmac.compare_digest`; the AES step uses wechatpy's `PrpCrypto`, whose
exceptions on malformed input (binascii.Error, ValueError, struct.error, UnicodeDecodeError, …) are
turned into `CallbackRejected` here so the view answers 400 and never 500.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import struct
import time

from django.conf import settings
from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException


class CallbackRejected(Exception):
    """Bad input from whoever called the callback URL; rendered as `status` with nothing stored."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature_compute(*parts: str) -> str:
    # SHA1 is what WeChat signs with; not our choice.
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324


def signature_verify(*, signature: str, token: str, timestamp: str, nonce: str, encrypt: str | None = None) -> None:
    """Raise CallbackRejected(403) unless `signature` is WeChat's SHA1 over the sorted parts."""
    if not signature or not token:
        raise CallbackRejected(403, "missing signature")
    parts = [token, timestamp, nonce] if encrypt is None else [token, timestamp, nonce, encrypt]
    expected = signature_compute(*parts)
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        raise CallbackRejected(403, "bad signature")


def timestamp_verify(timestamp: str) -> None:
    """Replay protection: the timestamp must be within CALLBACK_REPLAY_WINDOW_SECONDS (0 = off)."""
    window = settings.CALLBACK_REPLAY_WINDOW_SECONDS
    if not window:
        return
    try:
        value = int(timestamp)
    except (TypeError, ValueError):
        raise CallbackRejected(403, "bad timestamp") from None
    if abs(time.time() - value) > window:
        raise CallbackRejected(403, "timestamp outside the replay window")


def _aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


@functools.lru_cache(maxsize=64)
def _prp_crypto(encoding_aes_key: str) -> PrpCrypto:
    # Reused across requests (the accounts' keys are cached anyway): each decrypt() builds its own
    # decryptor, so one instance serves concurrent threads.
    return PrpCrypto(_aes_key(encoding_aes_key))


_DECRYPT_ERRORS = (
    binascii.Error,
    ValueError,  # includes UnicodeDecodeError and cryptography's padding/length errors
    struct.error,
    TypeError,
    IndexError,
    KeyError,
)


def envelope_decrypt(*, encrypt: str, keys: list[str], receive_id: str) -> str:
    """Decrypt with each key in turn (current, then the previous one during a rotation).

    A ciphertext that decrypts under no key to this account's app/corp id is a 400.
    """
    for encoding_aes_key in [k for k in keys if k]:
        try:
            plaintext = _prp_crypto(encoding_aes_key).decrypt(encrypt, receive_id)
        except (InvalidAppIdException, InvalidSignatureException, *_DECRYPT_ERRORS):
            continue
        return plaintext.decode() if isinstance(plaintext, bytes) else plaintext
    raise CallbackRejected(400, "ciphertext does not decrypt to this account")


def envelope_encrypt(*, plaintext: str, token: str, encoding_aes_key: str, receive_id: str, nonce: str) -> str:
    """Encrypted passive reply `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`."""
    encrypt = PrpCrypto(_aes_key(encoding_aes_key)).encrypt(plaintext, receive_id)
    encrypt = encrypt.decode() if isinstance(encrypt, bytes) else encrypt
    timestamp = str(int(time.time()))
    signature = signature_compute(token, timestamp, nonce, encrypt)
    return (
        f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt><MsgSignature><![CDATA[{signature}]]></MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
    )
