"""WeCom's change events, applied through customers' WeCom services.

客户联系变更事件 (https://developer.work.weixin.qq.com/document/path/92277): every
change_external_contact names one (staff member `UserID`, external contact `ExternalUserID`) pair
and changes only that pair. Changes made through the API produce no callback.

Handlers take the processing Context (messaging.callbacks.processing) and run inside the transaction
that marks the inbound row processed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from wechatpy.exceptions import WeChatClientException

from customers import services as customer_services
from customers.models import ChannelIdentity
from customers.wecom.models import RelationState
from customers.wecom.services import (
    FollowInfo,
    RelationChange,
    customer_wecom_tags_sync,
    relation_record_added,
    relation_record_edited,
    relation_record_removed,
    relations_remote_tag_ids,
)
from customers.wecom.staff import staff_record_change
from messaging.channels import wecom
from messaging.channels.handover import handover_transfer_failed
from messaging.channels.tagsync import corp_tag_event_apply, tag_mirrors_for_remote
from messaging.channels.wecom_groups import group_event_apply

if TYPE_CHECKING:
    from messaging.callbacks.processing import Context

logger = logging.getLogger(__name__)

# externalcontact/get for a pair that no longer exists (the customer deleted the staff member
# before we asked): the del event that follows says so; nothing to apply now.
ERR_NOT_EXTERNAL_CONTACT = 84061


def contact_identity(ctx: Context, *, detail: dict[str, Any] | None = None) -> ChannelIdentity:
    contact = (detail or {}).get("external_contact") or {}
    profile = {"display_name": contact.get("name", ""), "gender": contact.get("gender") or None}
    return customer_services.identity_resolve(
        account=ctx.account,
        external_id=ctx.text("ExternalUserID"),
        unionid=contact.get("unionid", "") or "",
        profile={k: v for k, v in profile.items() if v},
    )


def contact_detail(ctx: Context) -> dict[str, Any] | None:
    """externalcontact/get for the event's contact; None when WeCom no longer lists the contact."""
    try:
        return wecom.external_contact_get(ctx.account, ctx.text("ExternalUserID"))
    except WeChatClientException as exc:
        if exc.errcode == ERR_NOT_EXTERNAL_CONTACT:
            return None
        raise


def tags_apply(ctx: Context, identity: ChannelIdentity, follow: FollowInfo | None = None) -> dict[str, int]:
    """The customer's `wecom` tags follow the corp tags of their active relationships."""
    named = [dict(t) for t in (follow.tags if follow else ())]
    others = relations_remote_tag_ids(customer_id=identity.customer_id) - {t["id"] for t in named}
    mapping = tag_mirrors_for_remote(account=ctx.account, tags=named + [{"id": remote} for remote in sorted(others)])
    return customer_wecom_tags_sync(customer_id=identity.customer_id, tag_for_remote=mapping)


def relation_added(ctx: Context, *, identity: ChannelIdentity, detail: dict[str, Any] | None) -> RelationChange:
    """add_external_contact / add_half_external_contact for the event's pair."""
    staff = ctx.text("UserID")
    follow = wecom.follow_info(detail, staff, fallback_state=ctx.text("State"))
    change = relation_record_added(
        identity=identity,
        staff_userid=staff,
        at=ctx.at,
        follow=follow,
        half=ctx.text("ChangeType") == "add_half_external_contact",
    )
    tags_apply(ctx, identity, follow)
    return change


def added_event_type(change: RelationChange) -> str:
    # wecom.add_contact counts as a follow of the corp (dashboard, reports): only the first pair.
    return "wecom.add_staff" if change.was_reachable else "wecom.add_contact"


def contact_edited(ctx: Context) -> None:
    """edit_external_contact: re-read the pair (remark, description, mobiles, corp tags). The
    editing staff member does not become the owner; other pairs are untouched."""
    staff = ctx.text("UserID")
    if not ctx.text("ExternalUserID") or not staff:
        return
    detail = contact_detail(ctx)
    if detail is None:
        return
    identity = contact_identity(ctx, detail=detail)
    follow = wecom.follow_info(detail, staff)
    change = relation_record_edited(identity=identity, staff_userid=staff, at=ctx.at, follow=follow)
    tags = tags_apply(ctx, identity, follow)
    ctx.event(
        identity,
        "wecom.edit_contact",
        {"staff": staff, "tags": [t["name"] for t in follow.tags], "tags_added": tags["added"], "tags_removed": tags["removed"],
         "reachable": change.reachable},
    )


def contact_removed(by: str):
    """del_external_contact (by the staff member; `Source` DELETE_BY_TRANSFER when a hand-over
    removed it) and del_follow_user (by the customer): only this pair ends."""

    def handler(ctx: Context) -> None:
        staff = ctx.text("UserID")
        if not ctx.text("ExternalUserID") or not staff:
            return
        identity = contact_identity(ctx)
        if ctx.text("Source") == "DELETE_BY_TRANSFER":
            state = RelationState.TRANSFERRED
        else:
            state = RelationState.DELETED_BY_STAFF if by == "staff" else RelationState.DELETED_BY_CUSTOMER
        change = relation_record_removed(identity=identity, staff_userid=staff, at=ctx.at, state=state)
        if not change.applied:
            logger.info("WeCom removal of pair %s older than its last change: ignored", change.relation.pk)
            return
        tags_apply(ctx, identity)
        # wecom.del_contact counts as an unfollow of the corp: only when the last pair ends.
        event_type = "wecom.del_contact" if change.was_reachable and not change.reachable else "wecom.del_staff"
        ctx.event(identity, event_type, {"staff": staff, "removed_by": by, "state": state, "reachable": change.reachable})

    return handler


def transfer_failed(ctx: Context) -> None:
    """transfer_fail: a hand-over of the contact to `UserID` failed (FailReason customer_refused or
    customer_limit_exceed); the contact stays with the staff member who had them."""
    if not ctx.text("ExternalUserID"):
        return
    identity = contact_identity(ctx)
    handover_transfer_failed(
        account_id=ctx.account.pk, takeover_userid=ctx.text("UserID"), external_userid=ctx.text("ExternalUserID"),
        reason=ctx.text("FailReason"), at=ctx.at,
    )
    ctx.event(identity, "wecom.transfer_fail", {"takeover": ctx.text("UserID"), "reason": ctx.text("FailReason")})


# --- the corp: staff directory, corp tags ---------------------------------------------------------


def staff_changed(ctx: Context) -> None:
    """change_contact (成员变更通知, https://developer.work.weixin.qq.com/document/path/90970):
    create_user / update_user (NewUserID when the userid changed) / delete_user (departed).
    Department changes (create_party …) are not kept."""
    change = ctx.text("ChangeType")
    if change not in ("create_user", "update_user", "delete_user"):
        return
    status = ctx.text("Status")
    departments = [int(d) for d in ctx.text("Department").split(",") if d.strip().isdigit()]
    staff_record_change(
        account_id=ctx.account.pk,
        change=change,
        userid=ctx.text("UserID"),
        new_userid=ctx.text("NewUserID"),
        name=ctx.text("Name"),
        status=int(status) if status.isdigit() else None,
        departments=departments or None,
        at=ctx.at,
    )


def corp_tag_changed(ctx: Context) -> None:
    """change_external_tag (企业客户标签事件, https://developer.work.weixin.qq.com/document/path/92277):
    the tag mirror follows create / update / delete / shuffle of corp tags and tag groups."""
    corp_tag_event_apply(
        account=ctx.account, change=ctx.text("ChangeType"), remote_id=ctx.text("Id"), tag_type=ctx.text("TagType")
    )


def group_changed(ctx: Context) -> None:
    """change_external_chat (客户群变更事件, https://developer.work.weixin.qq.com/document/path/92277):
    create / update (members, owner, name, notice) re-read the group; dismiss ends it."""
    if ctx.text("ChatId"):
        group_event_apply(ctx.account, chat_id=ctx.text("ChatId"), change=ctx.text("ChangeType"), at=ctx.at)


CORP_EVENTS = {
    "change_contact": staff_changed,
    "change_external_tag": corp_tag_changed,
    "change_external_chat": group_changed,
}
