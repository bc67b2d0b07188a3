"""Models of the WeCom feature; imported by customers/models.py so Django registers them.

WeComStaff: a member of the corp's staff within the app's visible range (synced, kept current by
change_contact events; departed staff flagged, never deleted: their relationships name them).
WeComRelation: one external contact (a WeCom identity) and one staff member — WeCom's `follow_user`
entry — with its own state, remark and the corp tags that staff member set.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

__all__ = ["RelationState", "WeComGroupChat", "WeComGroupMember", "WeComRelation", "WeComStaff"]


class WeComStaff(models.Model):
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account"))
    userid = models.CharField(_("staff userid"), max_length=64)
    name = models.CharField(_("name"), max_length=64, blank=True)
    # WeCom user/get `status`: 1 active, 2 disabled, 4 not yet activated, 5 left the corp.
    status = models.PositiveSmallIntegerField(_("WeCom status"), default=1)
    departments = models.JSONField(_("departments"), default=list, blank=True)
    departed_at = models.DateTimeField(_("departed at"), null=True, blank=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("WeCom staff member")
        verbose_name_plural = _("WeCom staff")
        constraints = [models.UniqueConstraint(fields=["account", "userid"], name="wecom_staff_unique_userid")]

    def __str__(self) -> str:
        return self.name or self.userid

    @property
    def departed(self) -> bool:
        return self.departed_at is not None


class RelationState(models.TextChoices):
    ACTIVE = "active", _("Active")
    DELETED_BY_STAFF = "deleted_by_staff", _("Deleted by the staff member")
    DELETED_BY_CUSTOMER = "deleted_by_customer", _("Deleted by the customer")
    TRANSFERRED = "transferred", _("Transferred")


class WeComRelation(models.Model):
    identity = models.ForeignKey("customers.ChannelIdentity", on_delete=models.CASCADE, related_name="wecom_relations")
    staff_userid = models.CharField(_("staff userid"), max_length=64)
    state = models.CharField(_("state"), max_length=20, choices=RelationState.choices, default=RelationState.ACTIVE)
    # add_half_external_contact: the customer added the staff member without verification and the
    # staff member has not added them back yet (WeCom doc 92277); cleared by add_external_contact.
    half = models.BooleanField(_("added by the customer only"), default=False)
    remark = models.CharField(_("remark"), max_length=128, blank=True)
    description = models.CharField(_("description"), max_length=512, blank=True)
    remark_mobiles = models.JSONField(_("remark mobiles"), default=list, blank=True)
    remark_corp_name = models.CharField(_("remark company"), max_length=128, blank=True)
    # The corp tags (type 1) this staff member set: [{"id", "name", "group"}], as follow_user.tags.
    tags = models.JSONField(_("corp tags"), default=list, blank=True)
    add_way = models.PositiveSmallIntegerField(_("add way"), default=0)
    # The `state` of the "contact me" way the customer came through (a channel code's scene).
    channel_state = models.CharField(_("channel code state"), max_length=64, blank=True)
    added_at = models.DateTimeField(_("added at"), null=True, blank=True)
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    last_interaction_at = models.DateTimeField(_("last interaction"), null=True, blank=True)
    # When the state last changed by an event: an older event arriving later changes nothing.
    state_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("WeCom relationship")
        verbose_name_plural = _("WeCom relationships")
        constraints = [
            models.UniqueConstraint(fields=["identity", "staff_userid"], name="wecom_relation_unique_pair"),
        ]
        indexes = [
            # A staff member's customers (hand-over, sync, group-message senders).
            models.Index(fields=["staff_userid", "state"], name="wecom_relation_staff_idx"),
            models.Index(fields=["identity"], condition=Q(state="active"), name="wecom_relation_active_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.identity_id}:{self.staff_userid}"


class WeComGroupChat(models.Model):
    """A customer group (客户群) of the corp, as groupchat/get describes it."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account"))
    chat_id = models.CharField(_("chat id"), max_length=128)
    name = models.CharField(_("name"), max_length=128, blank=True)
    owner_userid = models.CharField(_("owner"), max_length=64, blank=True)
    notice = models.TextField(_("notice"), blank=True)
    # groupchat/list status: 0 normal, 1 owner departed, 2 being handed over, 3 handed over.
    status = models.PositiveSmallIntegerField(_("WeCom status"), default=0)
    created_at_wecom = models.DateTimeField(_("created at"), null=True, blank=True)
    dismissed_at = models.DateTimeField(_("dismissed at"), null=True, blank=True)
    member_count = models.PositiveIntegerField(_("members"), default=0)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)

    class Meta:
        verbose_name = _("WeCom customer group")
        verbose_name_plural = _("WeCom customer groups")
        constraints = [models.UniqueConstraint(fields=["account", "chat_id"], name="wecom_group_unique_chat")]

    def __str__(self) -> str:
        return self.name or self.chat_id


class WeComGroupMember(models.Model):
    """A member of a customer group, past or present (`left_at`): staff (type 1) or an external
    contact (type 2), linked to the customer by external_userid, else unionid."""

    # No single-column indexes on the two keys: (group, member_id) is unique and customer has its
    # partial index; each further index is written 200 times per group a sync reads.
    group = models.ForeignKey(WeComGroupChat, on_delete=models.CASCADE, related_name="members", db_index=False)
    member_id = models.CharField(max_length=128)
    member_type = models.PositiveSmallIntegerField(default=2)
    unionid = models.CharField(max_length=64, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="wecom_groups", db_index=False
    )
    join_time = models.DateTimeField(null=True, blank=True)
    join_scene = models.PositiveSmallIntegerField(default=0)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "member_id"], name="wecom_group_member_unique")]
        indexes = [models.Index(fields=["customer"], condition=Q(customer__isnull=False), name="wecom_member_customer_idx")]
