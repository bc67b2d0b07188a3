"""Reading an account's template library (the campaign wizard's picker)."""

from __future__ import annotations

from django.db.models import QuerySet

from messaging.errors import MessagingError
from messaging.template_library.models import MessageTemplate
from scrm.errors import ApplicationError


def templates_for_account(*, account_id: int, kind: str | None = None) -> QuerySet[MessageTemplate]:
    """The account's templates WeChat still lists (of one kind: "template" | "subscribe"), by title."""
    queryset = MessageTemplate.objects.filter(account_id=account_id, removed_at__isnull=True)
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset.order_by("title", "template_id")


def template_get(*, account_id: int, kind: str, template_id: str, include_removed: bool = False) -> MessageTemplate:
    """One template of the account. ApplicationError `message_template_not_found` when the library
    has no such template, `message_template_removed` when WeChat no longer lists it (unless
    `include_removed`: a campaign that used it still shows what it was)."""
    template = MessageTemplate.objects.filter(account_id=account_id, kind=kind, template_id=template_id).first()
    if template is None:
        raise ApplicationError(code=MessagingError.TEMPLATE_NOT_FOUND, detail={"template_id": template_id})
    if template.removed_at is not None and not include_removed:
        raise ApplicationError(code=MessagingError.TEMPLATE_REMOVED, detail={"template_id": template_id})
    return template
