"""The WeChat calls of content: uploads, drafts, publishing, data statistics. Each returns WeChat's
answer; a refusal becomes an ApplicationError saying what WeChat said and what it means."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext
from wechatpy.exceptions import WeChatClientException

from accounts.models import AccountKind, ChannelAccount
from messaging.channels.clients import wechat_client
from messaging.channels.errors import classify_exception, errcode_meaning
from messaging.errors import MessagingError
from scrm.errors import ApplicationError


def service_account_check(account: ChannelAccount) -> None:
    if account.kind != AccountKind.OA:
        raise ApplicationError(code=MessagingError.CONTENT_NEEDS_SERVICE_ACCOUNT, detail={"account": account.pk})


def remote_failure(account: ChannelAccount, action: str, exc: Exception) -> ApplicationError:
    outcome = classify_exception(exc)  # re-raises what is not a WeChat or network failure
    errcode = exc.errcode if isinstance(exc, WeChatClientException) else None
    meaning = errcode_meaning(errcode) or (getattr(exc, "errmsg", "") or outcome.error_code)
    message = gettext("WeChat refused %(action)s for %(account)s: %(meaning)s (errcode %(errcode)s).") % {
        "action": action, "account": account.name, "meaning": meaning, "errcode": errcode if errcode is not None else "—",
    }
    return ApplicationError(
        message, code=MessagingError.CONTENT_REMOTE_FAILED,
        detail={"account": account.pk, "errcode": errcode, "errmsg": getattr(exc, "errmsg", "") or outcome.error_message,
                "retryable": outcome.status == "retryable"},
        status_code=503 if outcome.status == "retryable" else 502,
    )


def call(account: ChannelAccount, action: str, func: Callable[[Any], Any]) -> dict[str, Any]:
    service_account_check(account)
    try:
        return func(wechat_client(account)) or {}
    except Exception as exc:
        raise remote_failure(account, action, exc) from exc


def post(account: ChannelAccount, action: str, path: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return call(account, action, lambda client: client.post(path, data=data, **kwargs))


def upload(account: ChannelAccount, action: str, path: str, *, kind: str | None, name: str, data: bytes,
           content_type: str, description: dict[str, str] | None = None) -> dict[str, Any]:
    """A multipart upload (the file as the form field `media`, a video's description as JSON)."""
    files: dict[str, Any] = {"media": (name, data, content_type or "application/octet-stream")}
    if description:
        files["description"] = (None, json.dumps(description, ensure_ascii=False))
    params = {"type": kind} if kind else {}
    return call(account, action, lambda client: client.post(path, params=params, files=files))
