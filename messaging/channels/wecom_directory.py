"""The corp's staff directory within the app's visible range: department/list, then user/list per
department (获取部门成员详情, https://developer.work.weixin.qq.com/document/path/90201), plus the
staff members with the customer-contact permission (get_follow_user_list) in case the visible range
hides them. Written by customers' staff service; change_contact events keep it current."""

from __future__ import annotations

from typing import Any

from customers.wecom.staff import STATUS_ACTIVE, StaffRow, staff_import_bulk
from messaging.channels.clients import wecom_client


def _staff_row(user: dict[str, Any]) -> StaffRow:
    status = user.get("status")
    return StaffRow(
        userid=str(user["userid"]),
        name=str(user.get("name") or ""),
        status=int(status) if str(status or "").isdigit() else STATUS_ACTIVE,
        departments=tuple(int(d) for d in user.get("department") or [] if str(d).isdigit()),
    )


def staff_directory_sync(account) -> int:
    """Sync the staff directory of a WeCom corp account; returns staff members written."""
    client = wecom_client(account)
    rows: dict[str, StaffRow] = {}
    for department in client.get("department/list").get("department") or []:
        for user in client.get("user/list", params={"department_id": department["id"]}).get("userlist") or []:
            if user.get("userid"):
                rows.setdefault(str(user["userid"]), _staff_row(user))
    for userid in client.external_contact.get_follow_user_list().get("follow_user") or []:
        rows.setdefault(str(userid), StaffRow(userid=str(userid)))
    return staff_import_bulk(account_id=account.pk, rows=list(rows.values()))
