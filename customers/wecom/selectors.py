"""Reads of WeCom relationships and staff."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from customers.wecom.models import WeComRelation, WeComStaff


def relations_of_customer(*, customer_id: int) -> QuerySet[WeComRelation]:
    """The customer's relationships on every corp, active first, with the staff member's name."""
    staff = WeComStaff.objects.filter(account_id=OuterRef("identity__account_id"), userid=OuterRef("staff_userid"))
    return (
        WeComRelation.objects.filter(identity__customer_id=customer_id)
        .select_related("identity__account")
        .annotate(staff_name=Subquery(staff.values("name")[:1]), staff_departed_at=Subquery(staff.values("departed_at")[:1]))
        .order_by("state", "-last_interaction_at", "staff_userid")
    )
