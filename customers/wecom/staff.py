"""Writes on the corp's staff directory: a full sync of the visible range, and the change_contact
events that keep it current (成员变更通知, https://developer.work.weixin.qq.com/document/path/90970).

A staff member deleted from the corp is flagged departed, never removed: their relationships and the
hand-over of their customers still name them. A changed userid (update_user with NewUserID) is
renamed everywhere the userid is the key: the directory row and every relationship on the corp."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from customers.models import ChannelIdentity
from customers.wecom.models import WeComRelation, WeComStaff
from customers.wecom.services import identities_reachability_refresh

# user/get `status`: 1 activated, 2 disabled, 4 not activated, 5 left the corp.
STATUS_ACTIVE = 1
STATUS_LEFT = 5


@dataclass(frozen=True)
class StaffRow:
    userid: str
    name: str = ""
    status: int = STATUS_ACTIVE
    departments: tuple[int, ...] = ()


@transaction.atomic
def staff_import_bulk(*, account_id: int, rows: Sequence[StaffRow]) -> int:
    """Upsert the staff a directory sync lists (names kept when WeCom withholds them). Listed staff
    are present: a departed flag is cleared only by WeCom listing them active again."""
    now = timezone.now()
    existing = {s.userid: s for s in WeComStaff.objects.filter(account_id=account_id, userid__in=[r.userid for r in rows])}
    written = 0
    for row in {r.userid: r for r in rows if r.userid}.values():
        staff = existing.get(row.userid) or WeComStaff(account_id=account_id, userid=row.userid[:64])
        staff.name = (row.name or staff.name)[:64]
        staff.status = row.status
        staff.departments = list(row.departments)
        staff.departed_at = now if row.status == STATUS_LEFT else None
        staff.synced_at = now
        staff.save()
        written += 1
    return written


@transaction.atomic
def staff_record_change(
    *,
    account_id: int,
    change: str,
    userid: str,
    at: datetime,
    new_userid: str = "",
    name: str = "",
    status: int | None = None,
    departments: Sequence[int] | None = None,
) -> WeComStaff | None:
    """create_user / update_user / delete_user for one staff member."""
    if not userid:
        return None
    if change == "delete_user":
        staff, _ = WeComStaff.objects.get_or_create(account_id=account_id, userid=userid[:64])
        if staff.departed_at is None:
            staff.departed_at = at
            staff.status = STATUS_LEFT
            staff.save(update_fields=["departed_at", "status", "updated_at"])
            _owners_refresh(account_id=account_id, userid=staff.userid)
        return staff
    if change == "update_user" and new_userid and new_userid != userid:
        _userid_rename(account_id=account_id, old=userid[:64], new=new_userid[:64])
        userid = new_userid
    staff, _ = WeComStaff.objects.get_or_create(account_id=account_id, userid=userid[:64])
    if name:
        staff.name = name[:64]
    if status is not None:
        staff.status = status
    if departments is not None:
        staff.departments = list(departments)
    if change == "create_user" or (status is not None and status != STATUS_LEFT):
        staff.departed_at = None
    staff.save()
    return staff


def _userid_rename(*, account_id: int, old: str, new: str) -> None:
    if not WeComStaff.objects.filter(account_id=account_id, userid=new).exists():
        WeComStaff.objects.filter(account_id=account_id, userid=old).update(userid=new, updated_at=timezone.now())
    identities = ChannelIdentity.objects.filter(account_id=account_id)
    WeComRelation.objects.filter(identity__in=identities.values("pk"), staff_userid=old).update(staff_userid=new)
    identities.filter(owner_staff_id=old).update(owner_staff_id=new)


def _owners_refresh(*, account_id: int, userid: str) -> None:
    # Customers this staff member led move to another active staff member where they have one.
    identity_ids = list(
        WeComRelation.objects.filter(identity__account_id=account_id, staff_userid=userid).values_list("identity_id", flat=True)
    )
    identities_reachability_refresh(identity_ids=identity_ids)
