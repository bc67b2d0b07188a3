"""What each callback means for the customers: one handler per message / event type.

Handlers run inside the transaction that marks the inbound row processed (see
services.inbound_process), so their database effects happen exactly once. They are also written to
be harmless when repeated (dedupe keys on events, time-ordered follow state, ON CONFLICT tags).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import AccountKind, ChannelAccount
from customers import services as customer_services
from customers.models import ChannelIdentity, TagSource
from customers.selectors import identities_of_external_ids
from customers.services.identity import Refusal
from messaging.callbacks import wecom_events
from messaging.callbacks.keyword_handover import keyword_hand_over
from messaging.callbacks.menu_processing import menu_event
from messaging.callbacks.models import InboundMessage
from messaging.callbacks.parsing import as_int, as_list, create_time
from messaging.channels import wecom, welcome
from messaging.channels.services import channel_code_for_scene
from messaging.content.articles import article_publish_finished, publish_result_parse
from messaging.inbox.services import (
    KF_SESSION_EVENTS,
    inbox_event_receive,
    inbox_kf_session_event,
    inbox_message_receive,
)
from messaging.menu_events import MENU_EVENT_TYPES
from messaging.reports import AggregateReport, DeliveryReport, aggregate_report_dispatch, delivery_report_dispatch

logger = logging.getLogger(__name__)

Handler = Callable[["Context"], None]


class Context:
    def __init__(self, *, account: ChannelAccount, fields: dict[str, Any], inbound: InboundMessage | None):
        self.account = account
        self.fields = fields
        self.inbound = inbound
        self.at: datetime = create_time(fields) or (inbound.received_at if inbound else timezone.now())

    def text(self, name: str) -> str:
        value = self.fields.get(name)
        return value.strip() if isinstance(value, str) else ""

    @property
    def openid(self) -> str:
        return self.text("FromUserName")

    def dedupe(self, suffix: str = "") -> str:
        base = f"inbound:{self.inbound.pk}" if self.inbound else f"inbound:{self.account.pk}:{self.openid}:{self.text('CreateTime')}"
        return f"{base}:{suffix}" if suffix else base

    def identity(self, *, unionid: str = "", profile: dict[str, Any] | None = None) -> ChannelIdentity:
        return customer_services.identity_resolve(account=self.account, external_id=self.openid, unionid=unionid, profile=profile)

    def event(self, identity: ChannelIdentity, event_type: str, properties: dict[str, Any] | None = None, suffix: str = "") -> None:
        customer_services.event_record(
            customer_id=identity.customer_id,
            event_type=event_type[:48],
            occurred_at=self.at,
            properties=properties or {},
            account_id=self.account.pk,
            dedupe_key=self.dedupe(suffix),
        )


def process_fields(*, account: ChannelAccount, fields: dict[str, Any], inbound: InboundMessage | None = None) -> None:
    """Apply one parsed callback (decrypted XML as a dict) to the customer data."""
    ctx = Context(account=account, fields=fields, inbound=inbound)
    msg_type = ctx.text("MsgType")
    if account.kind == AccountKind.WECOM and ctx.text("Event") != "change_external_contact":
        corp_handler = wecom_events.CORP_EVENTS.get(ctx.text("Event")) if msg_type == "event" else None
        if corp_handler is not None:  # staff directory, corp tags, customer groups
            corp_handler(ctx)
            return
        # Other WeCom callbacks come from staff (app messages), not from customers: stored as the
        # record, nothing to apply to customer data.
        logger.info("WeCom callback %s/%s on account %s stored without processing", msg_type, ctx.text("Event"), account.pk)
        return
    if msg_type != "event":
        _user_message(ctx)
        return
    event = ctx.text("Event")
    handler = _EVENT_HANDLERS.get(event)
    if handler is not None:
        handler(ctx)
    elif account.kind == AccountKind.MINIPROGRAM and event and ctx.openid:
        # Mini-program message push (user_enter_tempsession, …): a user action, kept as mp.<event>.
        identity = ctx.identity()
        customer_services.identity_touch_interaction(identity=identity, at=ctx.at)
        ctx.event(identity, f"mp.{event.lower()}", {"raw_event": event})
    else:
        logger.info("inbound event %r on account %s stored without processing", event, account.pk)


def _set_follow(ctx: Context, identity: ChannelIdentity, *, following: bool, scene: str = "") -> None:
    # WeChat retries out of order (an old subscribe can arrive after a newer unsubscribe): the
    # service applies a change only when no newer follow or unfollow is known.
    customer_services.identity_set_follow_state(identity=identity, following=following, at=ctx.at, scene=scene[:64])


# --- channel codes (adapters' ChannelCode) ----------------------------------------------------


def _apply_channel_code(ctx: Context, identity: ChannelIdentity, scene: str):
    """Tag the customer with the code's tags and make the code their source if they had none."""
    code = channel_code_for_scene(ctx.account, scene)
    if code is None:
        return None
    tag_ids = list(code.tags.values_list("pk", flat=True))
    if tag_ids:
        customer_services.tags_assign_bulk(tag_ids=tag_ids, customers=[identity.customer_id], source=TagSource.CHANNEL_CODE)
    customer_services.customer_set_source_if_empty(customer_id=identity.customer_id, source=f"{code.kind}:{code.name or scene}")
    return code


# --- service account / mini-program ------------------------------------------------------------


def _user_message(ctx: Context) -> None:
    if not ctx.openid:
        return
    identity = ctx.identity()
    # A user message opens the 48-hour customer-service window.
    customer_services.identity_touch_interaction(identity=identity, at=ctx.at)
    properties: dict[str, Any] = {"msg_type": ctx.text("MsgType"), "msg_id": ctx.text("MsgId")}
    if ctx.text("MsgType") == "text":
        properties["content"] = ctx.text("Content")[:500]
    prefix = "mp" if ctx.account.kind == AccountKind.MINIPROGRAM else "wechat"
    ctx.event(identity, f"{prefix}.message", properties)
    inbox_message_receive(account=ctx.account, identity=identity, fields=ctx.fields, at=ctx.at, dedupe_key=ctx.dedupe())
    keyword_hand_over(ctx, identity)


def _subscribe(ctx: Context) -> None:
    event_key = ctx.text("EventKey")
    scene = event_key[len("qrscene_"):] if event_key.startswith("qrscene_") else ""
    identity = ctx.identity()
    _set_follow(ctx, identity, following=True, scene=scene)
    _opens_event_window(ctx, identity)
    code = _apply_channel_code(ctx, identity, scene)
    ctx.event(identity, "wechat.subscribe", {"scene": scene, "channel_code_id": code.pk if code else None})


def _unsubscribe(ctx: Context) -> None:
    identity = ctx.identity()
    _set_follow(ctx, identity, following=False)
    ctx.event(identity, "wechat.unsubscribe")


def _scan(ctx: Context) -> None:
    scene = ctx.text("EventKey")
    identity = ctx.identity()
    _opens_event_window(ctx, identity)
    code = _apply_channel_code(ctx, identity, scene)
    ctx.event(identity, "wechat.scan", {"scene": scene, "channel_code_id": code.pk if code else None})


def _opens_event_window(ctx: Context, identity: ChannelIdentity) -> None:
    # A follow, a scan or a click-menu event allows 3 customer-service messages within a minute
    # (客服消息下发规则, customers/services/cs_window.py); a VIEW opens nothing.
    if ctx.account.kind == AccountKind.OA:
        customer_services.identity_touch_interaction(identity=identity, at=ctx.at, kind="event")
        inbox_event_receive(account=ctx.account, identity=identity, event=ctx.text("Event"), properties={"key": ctx.text("EventKey")[:200]},
                            at=ctx.at, dedupe_key=ctx.dedupe())


# 客服消息下发规则: of the menu events, only click, scancode_push and scancode_waitmsg open the window.
WINDOW_OPENING_MENU_EVENTS = frozenset({"CLICK", "scancode_push", "scancode_waitmsg"})


def _menu(ctx: Context) -> None:
    identity = ctx.identity()
    if ctx.text("Event") in WINDOW_OPENING_MENU_EVENTS:
        _opens_event_window(ctx, identity)
    menu_event(ctx, identity)


def _kf_session(ctx: Context) -> None:
    # WeChat's own customer-service accounts (会话状态通知事件,
    # https://developers.weixin.qq.com/doc/offiaccount/Customer_Service/Session_control.html).
    identity = ctx.identity()
    inbox_kf_session_event(account=ctx.account, identity=identity, event=ctx.text("Event"), fields=ctx.fields, at=ctx.at, dedupe_key=ctx.dedupe())
    ctx.event(identity, f"wechat.{ctx.text('Event')}", {name: ctx.text(name)[:64] for name in ("KfAccount", "FromKfAccount", "ToKfAccount") if ctx.text(name)})


_TEMPLATE_STATUS = {"success": "delivered", "failed:userblock": "user_block", "failed:systemfailed": "system_failed"}


def _template_finished(ctx: Context) -> None:
    raw_status = ctx.text("Status")
    status = _TEMPLATE_STATUS.get(raw_status.replace(" ", "").lower(), "system_failed")
    if status == "user_block":
        customer_services.identity_record_refusal(
            identity_ids=[pk for pk, _ in identities_of_external_ids(account=ctx.account, external_ids=[ctx.openid]).values()],
            refusal=Refusal.TEMPLATE_BLOCKED,
            at=ctx.at,
        )
    delivery_report_dispatch(
        DeliveryReport(
            account_id=ctx.account.pk,
            msgid=ctx.text("MsgID") or ctx.text("MsgId"),
            status=status,
            raw_status=raw_status,
            occurred_at=ctx.at,
            external_id=ctx.openid,
        )
    )


def _count(ctx: Context, name: str) -> int:
    return as_int(ctx.text(name))


def _mass_finished(ctx: Context) -> None:
    # Aggregate counts only (no per-user result): whoever sent the batch records them against it.
    msgid = ctx.text("MsgID") or ctx.text("MsgId")
    if not msgid:
        return
    aggregate_report_dispatch(
        AggregateReport(
            account_id=ctx.account.pk,
            msgid=msgid,
            kind="mass_send",
            status=ctx.text("Status")[:64],
            occurred_at=ctx.at,
            total_count=_count(ctx, "TotalCount"),
            filter_count=_count(ctx, "FilterCount"),
            sent_count=_count(ctx, "SentCount"),
            error_count=_count(ctx, "ErrorCount"),
        )
    )


def _publish_finished(ctx: Context) -> None:
    # 发布能力 / 事件推送 (https://developers.weixin.qq.com/doc/offiaccount/Publish/Callback_on_finish.html):
    # PublishEventInfo carries publish_id, publish_status, article_id, article_detail and fail_idx.
    info = ctx.fields.get("PublishEventInfo")
    if not isinstance(info, dict) or not info.get("publish_id"):
        return
    article_publish_finished(result=publish_result_parse(ctx.account.pk, info))


def _subscribe_msg_choice(ctx: Context) -> None:
    """subscribe_msg_popup_event / subscribe_msg_change_event: one List per template."""
    wrapper = ctx.fields.get("SubscribeMsgPopupEvent") or ctx.fields.get("SubscribeMsgChangeEvent") or {}
    items = as_list(wrapper.get("List") if isinstance(wrapper, dict) else None)
    if not items or not ctx.openid:
        return
    identity = ctx.identity()
    prefix = "mp" if ctx.account.kind == AccountKind.MINIPROGRAM else "wechat"
    for item in items:
        if not isinstance(item, dict):
            continue
        template_id = item.get("TemplateId") if isinstance(item.get("TemplateId"), str) else ""
        status = item.get("SubscribeStatusString")
        if not template_id.strip() or status not in ("accept", "reject"):
            continue
        template_id = template_id.strip()
        # The event row is the idempotency key of the credit: a repeated run adds nothing.
        recorded = customer_services.event_record(
            customer_id=identity.customer_id,
            event_type=f"{prefix}.subscribe_msg",
            occurred_at=ctx.at,
            properties={"template_id": template_id, "status": status, "event": ctx.text("Event")},
            account_id=ctx.account.pk,
            dedupe_key=ctx.dedupe(f"tmpl:{template_id}"),
        )
        if recorded is None:
            continue
        if status == "accept":
            customer_services.consent_credit_add(customer_id=identity.customer_id, account_id=ctx.account.pk, template_id=template_id)
        else:
            customer_services.consent_credit_revoke(customer_id=identity.customer_id, account_id=ctx.account.pk, template_id=template_id)


def _subscribe_msg_sent(ctx: Context) -> None:
    wrapper = ctx.fields.get("SubscribeMsgSentEvent") or {}
    items = as_list(wrapper.get("List") if isinstance(wrapper, dict) else None)
    for item in items:
        if not isinstance(item, dict):
            continue
        code = item.get("ErrorCode") if isinstance(item.get("ErrorCode"), str) else ""
        status = "delivered" if code.strip() in ("", "0") else ("user_block" if code.strip() == "43101" else "system_failed")
        template_id = item.get("TemplateId") if isinstance(item.get("TemplateId"), str) else ""
        if status == "user_block" and template_id and ctx.openid:
            identity = ctx.identity()
            customer_services.consent_credit_revoke(customer_id=identity.customer_id, account_id=ctx.account.pk, template_id=template_id)
        delivery_report_dispatch(
            DeliveryReport(
                account_id=ctx.account.pk,
                msgid=item.get("MsgID") if isinstance(item.get("MsgID"), str) else "",
                status=status,
                raw_status=item.get("ErrorStatus") if isinstance(item.get("ErrorStatus"), str) else code,
                occurred_at=ctx.at,
                external_id=ctx.openid,
            )
        )


# --- WeCom ------------------------------------------------------------------------------------


def _change_external_contact(ctx: Context) -> None:
    handler = _WECOM_CHANGES.get(ctx.text("ChangeType"))
    if handler is None:
        logger.info("WeCom change %r stored without processing", ctx.text("ChangeType"))
        return
    handler(ctx)


def _wecom_add(ctx: Context) -> None:
    external_userid = ctx.text("ExternalUserID")
    if not external_userid or not ctx.text("UserID"):
        return
    # The detail gives the unionid that links this contact to the customer we already know, and
    # the pair's remark, corp tags, add way and state.
    detail = wecom.external_contact_get(ctx.account, external_userid)
    identity = wecom_events.contact_identity(ctx, detail=detail)
    staff = ctx.text("UserID")
    change = wecom_events.relation_added(ctx, identity=identity, detail=detail)
    code = _apply_channel_code(ctx, identity, ctx.text("State"))
    ctx.event(
        identity,
        wecom_events.added_event_type(change),
        {"staff": staff, "state": ctx.text("State"), "channel_code_id": code.pk if code else None, "half": change.relation.half},
    )
    if ctx.inbound is not None and welcome.is_welcome_event(ctx.fields):
        inbound_id = ctx.inbound.pk
        # The welcome went to the `welcome` queue when the callback was stored; should that publish
        # have failed, it is sent from here (or recorded as expired when the 20 s have passed).
        # Nothing is sent twice: the welcome code has one WelcomeMessage row.
        transaction.on_commit(lambda: _welcome_fallback(inbound_id))


def _welcome_fallback(inbound_id: int) -> None:
    try:
        welcome.welcome_send(inbound_id=inbound_id)
    except Exception as exc:  # a missed welcome is logged; the contact is recorded already
        logger.warning("welcome message of inbound %s not sent: %s", inbound_id, type(exc).__name__)


_WECOM_CHANGES: dict[str, Handler] = {
    "add_external_contact": _wecom_add,
    "add_half_external_contact": _wecom_add,
    "edit_external_contact": wecom_events.contact_edited,
    "del_external_contact": wecom_events.contact_removed("staff"),
    "del_follow_user": wecom_events.contact_removed("customer"),
    "transfer_fail": wecom_events.transfer_failed,
}

_EVENT_HANDLERS: dict[str, Handler] = {
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "SCAN": _scan,
    **dict.fromkeys(MENU_EVENT_TYPES, _menu),
    "TEMPLATESENDJOBFINISH": _template_finished,
    "MASSSENDJOBFINISH": _mass_finished,
    "PUBLISHJOBFINISH": _publish_finished,
    "subscribe_msg_popup_event": _subscribe_msg_choice,
    "subscribe_msg_change_event": _subscribe_msg_choice,
    "subscribe_msg_sent_event": _subscribe_msg_sent,
    "change_external_contact": _change_external_contact,
    **dict.fromkeys(KF_SESSION_EVENTS, _kf_session),
}
