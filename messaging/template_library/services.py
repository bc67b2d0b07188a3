"""Keeping an account's template library in sync with WeChat (the one writer of MessageTemplate)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from wechatpy.exceptions import WeChatClientException

from accounts.models import AccountKind, ChannelAccount
from messaging.channels.errors import classify_exception, errcode_meaning
from messaging.channels.templates import private_templates_get, subscribe_templates_get
from messaging.errors import MessagingError
from messaging.template_library.models import MessageTemplate, MessageTemplateKind
from messaging.template_library.parsing import template_keys_parse
from scrm.errors import ApplicationError

logger = logging.getLogger(__name__)

# 48001 on one of a service account's two lists: that feature is not enabled for the account
# (e.g. 订阅通知 never switched on); its list is left as it is and the other one still syncs.
API_UNAUTHORIZED = 48001
SYNCED_FIELDS = ("title", "content", "example", "keys", "primary_industry", "deputy_industry")


@dataclass
class TemplateSyncResult:
    account_id: int
    added: int = 0
    updated: int = 0  # changed on WeChat's side, or back after being removed
    removed: int = 0  # newly marked removed_at
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # kinds WeChat refused with 48001

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _kinds(account: ChannelAccount) -> list[tuple[str, Any]]:
    if account.kind == AccountKind.OA:
        return [(MessageTemplateKind.TEMPLATE, private_templates_get), (MessageTemplateKind.SUBSCRIBE, subscribe_templates_get)]
    if account.kind == AccountKind.MINIPROGRAM:
        return [(MessageTemplateKind.SUBSCRIBE, subscribe_templates_get)]
    raise ApplicationError(code=MessagingError.TEMPLATE_SYNC_UNSUPPORTED, detail={"account": account.pk, "kind": account.kind})


def _failure(account: ChannelAccount, exc: Exception) -> ApplicationError:
    """The operator's error for a failed WeChat call: what WeChat said and what it means."""
    outcome = classify_exception(exc)  # re-raises what is not a WeChat or network failure
    errcode = exc.errcode if isinstance(exc, WeChatClientException) else None
    meaning = errcode_meaning(errcode)
    if errcode is not None and meaning:
        message = gettext("WeChat refused to give the template library of %(account)s: %(meaning)s (errcode %(errcode)s).") % {
            "account": account.name, "meaning": meaning, "errcode": errcode,
        }
    elif errcode is not None:
        message = gettext("WeChat refused to give the template library of %(account)s: %(errmsg)s (errcode %(errcode)s).") % {
            "account": account.name, "errmsg": exc.errmsg or "", "errcode": errcode,
        }
    elif outcome.status == "retryable":
        message = gettext("WeChat could not be reached for the template library of %(account)s; try again later (%(error)s).") % {
            "account": account.name, "error": outcome.error_code,
        }
    else:
        # e.g. api_host_refused: the account's API base URL is not WeChat's nor a listed sandbox.
        message = gettext("The template library of %(account)s could not be read from WeChat (%(error)s).") % {
            "account": account.name, "error": outcome.error_code,
        }
    return ApplicationError(
        message,
        code=MessagingError.TEMPLATE_SYNC_FAILED,
        detail={"account": account.pk, "errcode": errcode, "errmsg": getattr(exc, "errmsg", "") or outcome.error_message,
                "retryable": outcome.status == "retryable"},
        status_code=503 if outcome.status == "retryable" else 502,
    )


def _row_values(item: dict[str, str], now) -> dict[str, Any]:
    return {
        "title": item["title"][:128],
        "content": item["content"],
        "example": item["example"],
        "keys": template_keys_parse(item["content"]),
        "primary_industry": item["primary_industry"][:64],
        "deputy_industry": item["deputy_industry"][:64],
        "synced_at": now,
    }


def _apply(account: ChannelAccount, kind: str, items: list[dict[str, str]], result: TemplateSyncResult) -> None:
    now = timezone.now()
    wanted = {item["template_id"]: item for item in items if len(item["template_id"]) <= 128}
    existing = {row.template_id: row for row in MessageTemplate.objects.filter(account=account, kind=kind)}
    new_rows, changed, touched = [], [], []
    for template_id, item in wanted.items():
        values = _row_values(item, now)
        row = existing.get(template_id)
        if row is None:
            new_rows.append(MessageTemplate(account=account, kind=kind, template_id=template_id, **values))
            continue
        differs = any(getattr(row, name) != values[name] for name in SYNCED_FIELDS) or row.removed_at is not None
        for name, value in values.items():
            setattr(row, name, value)
        row.removed_at = None
        (changed if differs else touched).append(row)
    MessageTemplate.objects.bulk_create(new_rows)
    MessageTemplate.objects.bulk_update(changed, [*SYNCED_FIELDS, "synced_at", "removed_at"])
    MessageTemplate.objects.filter(pk__in=[row.pk for row in touched]).update(synced_at=now)
    gone = [row.pk for template_id, row in existing.items() if template_id not in wanted and row.removed_at is None]
    MessageTemplate.objects.filter(pk__in=gone).update(removed_at=now, synced_at=now)
    result.added += len(new_rows)
    result.updated += len(changed)
    result.unchanged += len(touched)
    result.removed += len(gone)


def message_templates_sync(account: ChannelAccount | int) -> TemplateSyncResult:
    """Mirror the account's template library from WeChat: add, update, mark removed (idempotent)."""
    if not isinstance(account, ChannelAccount):
        account = ChannelAccount.objects.get(pk=account)
    kinds = _kinds(account)
    result = TemplateSyncResult(account_id=account.pk)
    fetched: list[tuple[str, list[dict[str, str]]]] = []
    # Both lists are read before anything is written: a failed call leaves the mirror as it was.
    for kind, fetch in kinds:
        try:
            fetched.append((kind, fetch(account)))
        except WeChatClientException as exc:
            if exc.errcode == API_UNAUTHORIZED and len(kinds) > 1:
                logger.info("account %s: WeChat refused the %s list (48001); left as it is", account.pk, kind)
                result.skipped.append(str(kind))
                continue
            raise _failure(account, exc) from exc
        except Exception as exc:
            raise _failure(account, exc) from exc
    if not fetched:
        raise _failure(account, WeChatClientException(API_UNAUTHORIZED, "api unauthorized"))
    with transaction.atomic():
        # One sync of an account at a time (the beat's and an operator's may meet).
        ChannelAccount.objects.select_for_update().filter(pk=account.pk).first()
        for kind, items in fetched:
            _apply(account, kind, items, result)
    logger.info("account %s: template library synced %s", account.pk, result.as_dict())
    return result
