"""Reads of WeCom relationships and staff."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from customers.wecom.models import RelationState, WeComGroupChat, WeComGroupMember, WeComRelation, WeComStaff


def relations_of_customer(*, customer_id: int) -> QuerySet[WeComRelation]:
    """The customer's relationships on every corp, active first, with the staff member's name."""
    staff = WeComStaff.objects.filter(account_id=OuterRef("identity__account_id"), userid=OuterRef("staff_userid"))
    return (
        WeComRelation.objects.filter(identity__customer_id=customer_id)
        .select_related("identity__account")
        .annotate(staff_name=Subquery(staff.values("name")[:1]), staff_departed_at=Subquery(staff.values("departed_at")[:1]))
        .order_by("state", "-last_interaction_at", "staff_userid")
    )


def identities_owner_staff(*, identity_ids: list[int]) -> dict[int, str]:
    """Each identity's owner: the staff member of its earliest-added active relationship (the one who
    won the customer; a hand-over's takeover pair counts from the transfer), a departed staff member
    only when no other active pair exists. Identities without an active relationship are absent."""
    departed = WeComStaff.objects.filter(
        account_id=OuterRef("identity__account_id"), userid=OuterRef("staff_userid"), departed_at__isnull=False
    )
    rows = (
        WeComRelation.objects.filter(identity_id__in=identity_ids, state=RelationState.ACTIVE)
        .annotate(departed=Exists(departed))
        .order_by("identity_id", "departed", F("added_at").asc(nulls_last=True), "id")
        .distinct("identity_id")
        .values_list("identity_id", "staff_userid")
    )
    return dict(rows)


def group_daily_stats(*, group_id: int, days: int = 30) -> list[dict]:
    """Members present now and joins and leaves per UTC day over the last `days` days."""
    since = timezone.now() - timedelta(days=days)
    members = WeComGroupMember.objects.filter(group_id=group_id)
    joins = dict(
        members.filter(join_time__gte=since).annotate(day=TruncDate("join_time")).values("day").annotate(n=Count("id")).values_list("day", "n")
    )
    leaves = dict(
        members.filter(left_at__gte=since).annotate(day=TruncDate("left_at")).values("day").annotate(n=Count("id")).values_list("day", "n")
    )
    return [{"day": day, "joins": joins.get(day, 0), "leaves": leaves.get(day, 0)} for day in sorted(set(joins) | set(leaves))]


def groups_list(
    *, account_id: int | None = None, owner_userid: str = "", name_contains: str = "", chat_ids: list[str] | None = None,
    include_dismissed: bool = False,
) -> QuerySet[WeComGroupChat]:
    """The corp's customer groups with the owner's name, newest first; dismissed ones only when asked."""
    owner = WeComStaff.objects.filter(account_id=OuterRef("account_id"), userid=OuterRef("owner_userid"))
    groups = WeComGroupChat.objects.annotate(owner_name=Subquery(owner.values("name")[:1]))
    if account_id is not None:
        groups = groups.filter(account_id=account_id)
    if owner_userid:
        groups = groups.filter(owner_userid=owner_userid)
    if name_contains:
        groups = groups.filter(name__icontains=name_contains)
    if chat_ids is not None:
        groups = groups.filter(chat_id__in=chat_ids)
    if not include_dismissed:
        groups = groups.filter(dismissed_at__isnull=True)
    return groups.order_by(F("created_at_wecom").desc(nulls_last=True), "-pk")


def group_members(*, group_id: int, present_only: bool = False) -> QuerySet[WeComGroupMember]:
    """A group's members (present first, then by join time) with the linked customer's name."""
    members = WeComGroupMember.objects.filter(group_id=group_id).select_related("customer")
    if present_only:
        members = members.filter(left_at__isnull=True)
    return members.order_by(F("left_at").desc(nulls_first=True), "join_time", "member_id")


def group_member_counts(*, group_id: int) -> dict[str, int]:
    """Present members by kind: staff, external, external linked to a customer."""
    present = WeComGroupMember.objects.filter(group_id=group_id, left_at__isnull=True)
    return present.aggregate(
        staff=Count("id", filter=Q(member_type=1)),
        external=Count("id", filter=Q(member_type=2)),
        linked=Count("id", filter=Q(member_type=2, customer__isnull=False)),
    )


def relations_reach(*, account_id: int, staff_userids: list[str], remote_tag_ids: list[str]) -> int:
    """How many customers a moment can reach at most: those with an active relationship with one of
    the staff members (any, when none is named) that carries one of the corp tags (any, when none)."""
    relations = WeComRelation.objects.filter(identity__account_id=account_id, state=RelationState.ACTIVE)
    if staff_userids:
        relations = relations.filter(staff_userid__in=staff_userids)
    if remote_tag_ids:
        carries = Q(pk__in=[])
        for remote_id in remote_tag_ids:
            carries |= Q(tags__contains=[{"id": remote_id}])
        relations = relations.filter(carries)
    return relations.values("identity_id").distinct().count()
