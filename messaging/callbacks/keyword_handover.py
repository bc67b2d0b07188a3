"""Keyword auto-replies that hand over to a person: a rule with `hand_over` (e.g. "人工", "转人工")
is answered by the callback view with its passive reply (the customer is told), and here, when the
message is processed, the customer's inbox conversation is opened (or reopened) and assigned through
the conversation-request hook, like a menu item that asks for a person (docs/service-entry.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts.models import AccountKind
from messaging.callbacks.selectors import auto_reply_match, callback_account
from messaging.conversation_requests import (
    CONVERSATION_REQUESTED_EVENT,
    ConversationRequest,
    conversation_request_dispatch,
)

if TYPE_CHECKING:
    from customers.models import ChannelIdentity
    from messaging.callbacks.processing import Context


def keyword_hand_over(ctx: Context, identity: ChannelIdentity) -> bool:
    """Open the conversation for a person when the text matches a hand-over rule; True if it did."""
    if ctx.account.kind != AccountKind.OA or ctx.text("MsgType") != "text":
        return False
    account = callback_account(account_id=ctx.account.pk, wecom=False)
    found = auto_reply_match(account=account, fields=ctx.fields) if account is not None else None
    if found is None or not found.hand_over:
        return False
    context = {"keyword": found.keyword, "rule_id": found.rule_id, "reply": found.reply}
    ctx.event(identity, CONVERSATION_REQUESTED_EVENT, {"source": "keyword", **context}, suffix="conversation")
    conversation_request_dispatch(ConversationRequest(
        account_id=ctx.account.pk, customer_id=identity.customer_id, openid=ctx.openid, occurred_at=ctx.at,
        dedupe_key=ctx.dedupe("conversation"), source="keyword", context=context,
    ))
    return True
