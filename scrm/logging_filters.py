"""Redacts secrets (app secrets, tokens, AES keys, access tokens, phones) from log records."""

from __future__ import annotations

import logging
import re

_SECRET_PATTERNS = [
    re.compile(r"(?i)((?:app_?secret|corpsecret|secret|access_token|encoding_aes_key|session_key|password|token)[\"']?\s*[=:]\s*[\"']?)([^\s&\"',}]+)"),
]


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
