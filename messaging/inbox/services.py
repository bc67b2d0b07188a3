"""The inbox's writes: messages in (from callback processing and the menus' conversation requests),
assignment, replies through `message/custom/send` inside the customer's window, transfer, resolve.

Inbound writes run inside the transaction that processes the callback and are keyed by the inbound
row (`dedupe_key`), so a retried callback adds nothing. A reply takes one message from the customer's
window first (customers' cs_window service, atomic): the 6th reply of a 48-hour window is held back
and a reply outside the window refused, each with its reason, without calling WeChat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from accounts.models import AccountKind, ChannelAccount
from customers.models import ChannelIdentity
from customers.services.cs_window import OUTSIDE_WINDOW, WINDOW_USED, cs_window_refund, cs_window_take
from messaging.channels import get_adapter
from messaging.channels.base import OutboundMessage, Recipient
from messaging.conversation_requests import ConversationRequest
from messaging.inbox.kf import kf_conversation_hold, kf_conversation_release
from messaging.inbox.models import (
    AssignmentRule,
    Conversation,
    ConversationMessage,
    ConversationState,
    InboxOperator,
    InboxSettings,
    MessageStatus,
)

logger = logging.getLogger(__name__)

# WeChat's answers that mean the window refused the send (客服消息, 45015 / 45047).
WINDOW_ERRCODES = {"45015": OUTSIDE_WINDOW, "45047": WINDOW_USED}
INBOUND_TYPES = ("text", "image", "voice", "video", "shortvideo", "location", "link", "miniprogrampage")
# The callback fields kept per message type (消息管理 / 接收普通消息:
# https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html).
_FIELDS = {
    "text": ("Content",),
    "image": ("PicUrl", "MediaId"),
    "voice": ("MediaId", "Format", "Recognition"),
    "video": ("MediaId", "ThumbMediaId"),
    "shortvideo": ("MediaId", "ThumbMediaId"),
    "location": ("Location_X", "Location_Y", "Scale", "Label"),
    "link": ("Title", "Description", "Url"),
    "miniprogrampage": ("Title", "AppId", "PagePath", "ThumbUrl", "ThumbMediaId"),
}


def settings_of(account_id: int) -> InboxSettings:
    found = InboxSettings.objects.filter(account_id=account_id).first()
    return found or InboxSettings(account_id=account_id)


def _preview(msg_type: str, body: dict[str, Any]) -> str:
    text = body.get("Content") or body.get("content") or body.get("Title") or body.get("title") or body.get("Label") or ""
    return (f"[{msg_type}] {text}" if msg_type != "text" else text)[:120]


# --- messages in ----------------------------------------------------------------------------------


def _conversation_for(*, account_id: int, identity: ChannelIdentity, at: datetime, source: str, create: bool) -> Conversation | None:
    conversation = Conversation.objects.select_for_update().filter(account_id=account_id, customer_id=identity.customer_id).first()
    if conversation is None and create:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(
                    account_id=account_id, customer_id=identity.customer_id, identity=identity, source=source,
                    opened_at=at, last_message_at=at, state=ConversationState.OPEN,
                )
        except IntegrityError:  # opened meanwhile by a concurrent callback
            conversation = Conversation.objects.select_for_update().get(account_id=account_id, customer_id=identity.customer_id)
        else:
            conversation_assign_auto(conversation)
    return conversation


def _cycle_opened_by(conversation: Conversation, dedupe_key: str) -> bool:
    """Whether the conversation's current cycle began with the callback `dedupe_key` came from (its
    keys share "inbound:<row>:"), not with an earlier message of the same second."""
    callback = dedupe_key.rsplit(":", 1)[0] + ":"
    first = (
        ConversationMessage.objects.filter(conversation=conversation, created_at__gte=conversation.opened_at)
        .order_by("pk").values_list("dedupe_key", flat=True).first()
    )
    return first is None or first.startswith(callback)


def _reopen_if_resolved(conversation: Conversation, *, at: datetime, source: str) -> None:
    if conversation.state == ConversationState.RESOLVED:
        conversation.state = ConversationState.OPEN
        conversation.opened_at, conversation.source = at, source
        conversation.first_response_at = conversation.resolved_at = None
        conversation.awaiting_since = None
        if conversation.assignee_id is None:
            conversation_assign_auto(conversation)


def _add(conversation: Conversation, *, inbound: bool, msg_type: str, body: dict, status: str, at: datetime, dedupe_key: str,
         operator=None, reason: str = "") -> ConversationMessage | None:
    message, created = ConversationMessage.objects.get_or_create(
        dedupe_key=dedupe_key[:160],
        defaults={
            "conversation": conversation, "inbound": inbound, "msg_type": msg_type, "body": body, "status": status,
            "reason": reason, "operator": operator, "created_at": at,
        },
    )
    return message if created else None


def inbox_message_receive(*, account: ChannelAccount, identity: ChannelIdentity, fields: dict[str, Any], at: datetime, dedupe_key: str) -> None:
    """A customer's message (callback processing): opens or reopens the conversation, starts the
    response timer, answers automatically outside business hours."""
    if account.kind != AccountKind.OA:
        return
    msg_type = str(fields.get("MsgType") or "")
    if msg_type not in INBOUND_TYPES:
        return
    body = {name: str(fields.get(name) or "")[:1000] for name in _FIELDS[msg_type]}
    conversation = _conversation_for(account_id=account.pk, identity=identity, at=at, source="message", create=True)
    assert conversation is not None
    message = _add(conversation, inbound=True, msg_type=msg_type, body=body, status=MessageStatus.RECEIVED, at=at, dedupe_key=f"{dedupe_key}:inbox")
    if message is None:
        return
    _reopen_if_resolved(conversation, at=at, source="message")
    already_waiting = conversation.awaiting_since is not None
    conversation.state = ConversationState.OPEN
    conversation.awaiting_since = conversation.awaiting_since or at
    conversation.last_message_at, conversation.last_preview = max(conversation.last_message_at, at), _preview(msg_type, body)
    conversation.save()
    settings = settings_of(account.pk)
    # Once per unanswered streak: the automatic reply spends one of the window's 5 messages.
    if settings.after_hours_reply and not already_waiting and not within_business_hours(settings, at=at, tz=account.timezone):
        from messaging.inbox.tasks import inbox_after_hours_reply_task

        transaction.on_commit(lambda: inbox_after_hours_reply_task.delay(conversation.pk, message.pk))


def inbox_event_receive(*, account: ChannelAccount, identity: ChannelIdentity, event: str, properties: dict[str, Any], at: datetime, dedupe_key: str) -> None:
    """An event that opens a window (follow, scan, menu click) joins the customer's conversation, when
    there is one; it opens none (a follow is not a request to talk)."""
    if account.kind != AccountKind.OA:
        return
    conversation = _conversation_for(account_id=account.pk, identity=identity, at=at, source="event", create=False)
    if conversation is None:
        return
    if _add(conversation, inbound=True, msg_type="event", body={"event": event, **properties}, status=MessageStatus.RECEIVED,
            at=at, dedupe_key=f"{dedupe_key}:inbox"):
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=max(conversation.last_message_at, at))


KF_SESSION_EVENTS = ("kf_create_session", "kf_close_session", "kf_switch_session")


def inbox_kf_session_event(*, account: ChannelAccount, identity: ChannelIdentity, event: str, fields: dict[str, Any], at: datetime, dedupe_key: str) -> None:
    """A session of WeChat's own customer-service accounts (kf) opened, switched or closed: recorded in
    the customer's conversation (opened by a session if there is none); the conversation records the
    kf account holding it; closing the session releases and resolves it."""
    if account.kind != AccountKind.OA:
        return
    names = ("KfAccount", "FromKfAccount", "ToKfAccount", "CloseType")
    properties = {name: str(fields.get(name) or "")[:64] for name in names if fields.get(name)}
    conversation = _conversation_for(account_id=account.pk, identity=identity, at=at, source="kf", create=event == "kf_create_session")
    if conversation is None:
        return
    if _add(conversation, inbound=True, msg_type="event", body={"event": event, **properties}, status=MessageStatus.RECEIVED,
            at=at, dedupe_key=f"{dedupe_key}:inbox") is None:
        return  # a retried callback
    if event == "kf_close_session":
        # Only the kf holding it closes it (a stale close after a switch changes nothing).
        if kf_conversation_release(conversation_id=conversation.pk, kf_account=properties.get("KfAccount", "")) or not conversation.kf_account:
            conversation_resolve(conversation_id=conversation.pk, at=at)
        return
    _reopen_if_resolved(conversation, at=at, source="kf")
    holder = properties.get("ToKfAccount") if event == "kf_switch_session" else properties.get("KfAccount")
    conversation.last_message_at = max(conversation.last_message_at, at)
    conversation.save()
    if holder and (conversation.kf_since is None or conversation.kf_since <= at or event == "kf_switch_session"):
        kf_conversation_hold(conversation_id=conversation.pk, kf_account=holder, at=at)


def inbox_conversation_request(request: ConversationRequest) -> None:
    """The conversation-request hook (messaging.conversation_requests): a menu item or a keyword
    rule ("人工") asked for a person. Opens, reopens or (when nobody had it) assigns the conversation;
    a keyword rule's passive reply is recorded as what the customer was told."""
    identity = ChannelIdentity.objects.filter(account_id=request.account_id, customer_id=request.customer_id, external_id=request.openid).first()
    if identity is None:
        return
    at = request.occurred_at
    conversation = _conversation_for(account_id=request.account_id, identity=identity, at=at, source=request.source, create=True)
    assert conversation is not None
    context = {k: v for k, v in request.context.items() if k != "reply"}
    body = {"event": "conversation_requested", "source": request.source, **context}
    if _add(conversation, inbound=True, msg_type="event", body=body, status=MessageStatus.RECEIVED, at=at,
            dedupe_key=f"{request.dedupe_key}:inbox") is None:
        return
    _reopen_if_resolved(conversation, at=at, source=request.source)
    if conversation.opened_at == at and _cycle_opened_by(conversation, request.dedupe_key):
        conversation.source = request.source  # this cycle was opened by the message that asked
    if conversation.assignee_id is None:
        conversation_assign_auto(conversation)
    conversation.state = ConversationState.OPEN
    conversation.awaiting_since = conversation.awaiting_since or at
    conversation.last_message_at = max(conversation.last_message_at, at)
    conversation.last_preview = str(request.context.get("menu_item_name") or request.context.get("keyword") or request.source)[:120]
    if request.context.get("reply"):
        # Answered by WeChat's passive reply (no customer-service message spent): shown in the thread.
        _add(conversation, inbound=False, msg_type="text", status=MessageStatus.SENT, at=at, dedupe_key=f"{request.dedupe_key}:reply",
             body={"msgtype": "text", "text": {"content": str(request.context["reply"])}, "automatic": True, "passive": True})
    conversation.save()


def within_business_hours(settings: InboxSettings, *, at: datetime, tz: str) -> bool:
    from zoneinfo import ZoneInfo

    local = at.astimezone(ZoneInfo(tz or "Asia/Shanghai"))
    days = {int(d) for d in settings.weekdays.split(",") if d.strip().isdigit()}
    return local.isoweekday() in days and settings.opens_at <= local.time() < settings.closes_at


# --- assignment -----------------------------------------------------------------------------------


def conversation_assign_auto(conversation: Conversation) -> None:
    """Give the conversation to an online operator: the least busy (fewest open or waiting
    conversations, then the longest since assigned), or round robin (the longest since assigned)."""
    rule = settings_of(conversation.account_id).assignment
    candidates = InboxOperator.objects.select_for_update(skip_locked=True, of=("self",)).filter(online=True, user__is_active=True)
    if rule == AssignmentRule.LEAST_BUSY:
        busy = dict(
            Conversation.objects.filter(state__in=[ConversationState.OPEN, ConversationState.WAITING], assignee__isnull=False)
            .values_list("assignee").annotate(n=Count("pk"))
        )
        ordered = sorted(candidates, key=lambda o: (busy.get(o.user_id, 0), o.last_assigned_at or datetime.min.replace(tzinfo=UTC), o.pk))
    else:
        ordered = list(candidates.order_by(F("last_assigned_at").asc(nulls_first=True), "pk"))
    if not ordered:
        return
    chosen = ordered[0]
    conversation.assignee_id = chosen.user_id
    InboxOperator.objects.filter(pk=chosen.pk).update(last_assigned_at=timezone.now())


def operator_set_online(*, user, online: bool) -> InboxOperator:
    operator, _ = InboxOperator.objects.update_or_create(user=user, defaults={"online": online})
    return operator


def conversation_transfer(*, conversation_id: int, to_user) -> Conversation:
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        conversation.assignee = to_user
        conversation.save(update_fields=["assignee"])
        InboxOperator.objects.filter(user=to_user).update(last_assigned_at=timezone.now())
    return conversation


def conversation_resolve(*, conversation_id: int, at: datetime | None = None) -> Conversation:
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.state != ConversationState.RESOLVED:
            conversation.state, conversation.resolved_at, conversation.awaiting_since = ConversationState.RESOLVED, at or timezone.now(), None
            conversation.save(update_fields=["state", "resolved_at", "awaiting_since"])
    return conversation


# --- replies --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    kind: str  # text, image, miniprogrampage
    text: str = ""
    media_id: str = ""
    title: str = ""
    appid: str = ""
    pagepath: str = ""
    thumb_media_id: str = ""
    kf_account: str = ""  # sent as this WeChat kf account (`customservice.kf_account`)

    def payload(self) -> dict[str, Any]:
        """The `message/custom/send` body without `touser` (客服消息接口:
        https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html;
        "如果需要以某个客服账号来发消息，则需在JSON数据包的后半部分加入customservice参数")."""
        if self.kind == "text":
            body: dict[str, Any] = {"msgtype": "text", "text": {"content": self.text}}
        elif self.kind == "image":
            body = {"msgtype": "image", "image": {"media_id": self.media_id}}
        else:
            body = {
                "msgtype": "miniprogrampage",
                "miniprogrampage": {"title": self.title, "appid": self.appid, "pagepath": self.pagepath, "thumb_media_id": self.thumb_media_id},
            }
        if self.kf_account:
            body["customservice"] = {"kf_account": self.kf_account}
        return body


def conversation_reply(*, conversation_id: int, operator, reply: Reply, idempotency_key: str, automatic: bool = False) -> ConversationMessage:
    """Send one reply: take a message from the customer's window (held back / refused with the reason
    when there is none), call WeChat after commit of the row, record the outcome. A repeated
    `idempotency_key` returns the first attempt's message and sends nothing."""
    dedupe_key = f"reply:{conversation_id}:{idempotency_key}"[:160]
    existing = ConversationMessage.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().select_related("identity").get(pk=conversation_id)
        refused = cs_window_take(identity_ids=[conversation.identity_id])
        reason = refused.get(conversation.identity_id, "")
        status = {"": MessageStatus.SENDING, WINDOW_USED: MessageStatus.HELD, OUTSIDE_WINDOW: MessageStatus.REFUSED}[reason]
        body = {**reply.payload(), "automatic": automatic}
        message = _add(conversation, inbound=False, msg_type=reply.kind, body=body, status=status, reason=reason, at=now,
                       dedupe_key=dedupe_key, operator=operator)
        if message is None:  # a concurrent request with the same key won
            if not reason:
                cs_window_refund(identity_ids=[conversation.identity_id])
            return ConversationMessage.objects.get(dedupe_key=dedupe_key)
    if reason:
        return message
    adapter = get_adapter(conversation.account)
    outcome = adapter.send(
        Recipient(key=str(message.pk), external_id=conversation.identity.external_id),
        OutboundMessage(message_type="customer_service", payload=reply.payload(), idempotency_key=f"inbox:{message.pk}"),
    )
    with transaction.atomic():
        if outcome.ok:
            message.status, message.reason = MessageStatus.SENT, ""
            _answered(conversation_id, at=now, automatic=automatic, preview=_preview(reply.kind, reply.payload().get(reply.kind, {})))
        elif outcome.error_code in WINDOW_ERRCODES:
            # WeChat's own count disagreed with ours: the window is as WeChat says; nothing given back.
            message.reason = WINDOW_ERRCODES[outcome.error_code]
            message.status = MessageStatus.HELD if message.reason == WINDOW_USED else MessageStatus.REFUSED
        else:
            cs_window_refund(identity_ids=[conversation.identity_id])
            message.status, message.reason = MessageStatus.FAILED, (outcome.error_code or "failed")[:40]
        message.save(update_fields=["status", "reason"])
    return message


def _answered(conversation_id: int, *, at: datetime, automatic: bool, preview: str) -> None:
    """An operator's reply stops the response timer (an automatic reply does not: nobody answered)."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    conversation.last_message_at, conversation.last_preview = max(conversation.last_message_at, at), preview[:120]
    if not automatic:
        conversation.first_response_at = conversation.first_response_at or at
        conversation.awaiting_since = None
        if conversation.state == ConversationState.OPEN:
            conversation.state = ConversationState.WAITING
    conversation.save()


def after_hours_reply(*, conversation_id: int, message_id: int) -> ConversationMessage | None:
    conversation = Conversation.objects.select_related("account").get(pk=conversation_id)
    text = settings_of(conversation.account_id).after_hours_reply
    if not text:
        return None
    return conversation_reply(conversation_id=conversation_id, operator=None, reply=Reply(kind="text", text=text),
                              idempotency_key=f"after-hours:{message_id}", automatic=True)


def sla_due(conversation: Conversation, settings: InboxSettings, *, now: datetime) -> dict[str, Any]:
    """Which SLA timer runs, when it is due, and whether the conversation is at risk (80 % of the
    target gone) or breached."""
    if conversation.state == ConversationState.RESOLVED:
        return {"timer": None, "due_at": None, "at_risk": False, "breached": False}
    timers = []
    if conversation.awaiting_since is not None:
        if conversation.first_response_at is None:
            timers.append(("first_response", conversation.awaiting_since, timedelta(minutes=settings.first_response_minutes)))
        else:
            timers.append(("next_response", conversation.awaiting_since, timedelta(minutes=settings.next_response_minutes)))
    timers.append(("resolution", conversation.opened_at, timedelta(minutes=settings.resolution_minutes)))
    timer, start, span = min(timers, key=lambda t: t[1] + t[2])
    due = start + span
    return {"timer": timer, "due_at": due, "at_risk": now >= start + span * 0.8, "breached": now >= due}
