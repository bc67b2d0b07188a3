"""WeCom adapter: group-message tasks to external contacts through a staff member, their
per-customer results and external-contact lookups (welcome messages: welcome.py; media:
wecom_media.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from wechatpy.exceptions import WeChatClientException

from customers.wecom.services import FollowInfo, relations_touch_by_external_id
from messaging.channels.adapter import ChannelAdapter
from messaging.channels.base import OutboundMessage, Recipient, SendOutcome
from messaging.channels.clients import wecom_client
from messaging.errors import SendErrorCode
from messaging.reports import DeliveryReport, delivery_report_dispatch

logger = logging.getLogger(__name__)

WECOM_GROUP = "wecom_group"

# get_groupmsg_send_result status → DeliveryReport status (0 = not sent yet: no report).
GROUP_RESULT_STATUS = {1: "delivered", 2: SendErrorCode.NOT_CONTACT, 3: SendErrorCode.LIMIT_REACHED}


class WeComAdapter(ChannelAdapter):
    message_types = frozenset({WECOM_GROUP})
    batch_types = frozenset({WECOM_GROUP})
    batch_limit = 10_000

    @property
    def client(self):
        return wecom_client(self.account)

    def _send_many(self, recipients: list[Recipient], message: OutboundMessage) -> dict[str, SendOutcome]:
        payload = dict(message.payload)
        sender = payload.pop("sender", "") or message.extra.get("sender", "")
        if not sender:
            permanent = SendOutcome(
                status="permanent",
                error_code=SendErrorCode.MISSING_SENDER,
                error_message="a WeCom group message needs a sender (staff userid)",
            )
            return {r.key: permanent for r in recipients}
        external_ids = list(dict.fromkeys(r.external_id for r in recipients))
        body = {**payload, "chat_type": "single", "external_userid": external_ids, "sender": sender}
        result = self.client.external_contact.add_msg_template(body)
        msgid = str(result.get("msgid", ""))
        failed = set(result.get("fail_list") or [])
        # The task waits for the staff member to confirm it in WeCom; "sent" here means the task
        # exists, and the per-customer result arrives later (group_message_results_fetch).
        return {
            r.key: (
                SendOutcome(
                    status="permanent",
                    msgid=msgid,
                    error_code=SendErrorCode.NOT_CONTACT,
                    error_message="not an external contact of the sender",
                )
                if r.external_id in failed
                else SendOutcome(status="sent", msgid=msgid)
            )
            for r in recipients
        }


# 创建企业群发 for customer groups (https://developer.work.weixin.qq.com/document/path/92135):
# chat_type=group, the sender (the groups' owner) required, chat_id_list ≤ 2000 of the sender's groups
# (honoured by WeCom clients from 4.1.10; older clients let the owner choose among their groups).
CHAT_ID_LIST_LIMIT = 2000


def group_chat_task_create(account, *, sender: str, chat_ids: list[str], payload: dict[str, Any]) -> str:
    """One group-message task to the owner `sender` for their groups `chat_ids`; returns the msgid.
    WeChatClientException when WeCom refuses it."""
    if not sender or not 1 <= len(chat_ids) <= CHAT_ID_LIST_LIMIT:
        raise ValueError("a sender and 1 to 2000 chat ids")
    body = {k: v for k, v in payload.items() if k in ("text", "attachments")}
    answer = wecom_client(account).post(
        "externalcontact/add_msg_template", data={**body, "chat_type": "group", "sender": sender, "chat_id_list": chat_ids}
    )
    return str(answer.get("msgid", ""))


def external_contact_get(account, external_userid: str) -> dict[str, Any]:
    """WeChat's JSON for one external contact ({"external_contact": {...}, "follow_user": [...]})."""
    return wecom_client(account).external_contact.get(external_userid)


def follow_info(detail: dict[str, Any] | None, staff_userid: str, *, fallback_state: str = "") -> FollowInfo:
    """The pair (external contact, `staff_userid`) from an externalcontact/get answer's follow_user
    (客户联系 › 获取客户详情, https://developer.work.weixin.qq.com/document/path/92114). Only corp
    tags (type 1) are kept: personal tags (type 2) are the staff member's own, rule tags (type 3)
    are WeCom's."""
    follow = next((f for f in (detail or {}).get("follow_user") or [] if f.get("userid") == staff_userid), None) or {}
    created = follow.get("createtime")
    try:
        added_at = datetime.fromtimestamp(int(created), tz=UTC) if created else None
    except (TypeError, ValueError, OverflowError):
        added_at = None
    return FollowInfo(
        remark=str(follow.get("remark") or ""),
        description=str(follow.get("description") or ""),
        remark_mobiles=tuple(str(m) for m in follow.get("remark_mobiles") or [] if m),
        remark_corp_name=str(follow.get("remark_corp_name") or ""),
        tags=tuple(
            {"id": str(t["tag_id"]), "name": str(t.get("tag_name") or ""), "group": str(t.get("group_name") or "")}
            for t in follow.get("tags") or []
            if t.get("tag_id") and int(t.get("type") or 1) == 1
        ),
        add_way=int(follow.get("add_way") or 0),
        channel_state=str(follow.get("state") or fallback_state or ""),
        added_at=added_at,
    )


def group_message_results_fetch(account, *, msgid: str) -> list[dict[str, Any]]:
    """Every per-customer result of a group-message task: dicts with external_userid, userid,
    status (0 not sent, 1 sent, 2 not a contact, 3 over the customer's limit) and send_time."""
    client = wecom_client(account)
    senders: list[str] = []
    cursor = ""
    while True:
        page = client.post("externalcontact/get_groupmsg_task", data={"msgid": msgid, "limit": 1000, "cursor": cursor})
        senders += [task["userid"] for task in page.get("task_list") or []]
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break
    results: list[dict[str, Any]] = []
    for userid in dict.fromkeys(senders):
        cursor = ""
        while True:
            page = client.post(
                "externalcontact/get_groupmsg_send_result",
                data={"msgid": msgid, "userid": userid, "limit": 1000, "cursor": cursor},
            )
            # WeCom names the list send_list; older docs say detail_list.
            results += page.get("send_list") or page.get("detail_list") or []
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break
    return results


def group_message_reports_dispatch(account, *, msgid: str) -> dict[str, int]:
    """Fetch a task's results and hand each decided one to the delivery-report handlers;
    returns counts per status (status 0, still waiting for the staff member, is left for later)."""

    counts: dict[str, int] = {}
    try:
        results = group_message_results_fetch(account, msgid=msgid)
    except WeChatClientException as exc:
        logger.warning("group message %s results unavailable: %s", msgid, exc.errcode)
        raise
    for row in results:
        status = GROUP_RESULT_STATUS.get(int(row.get("status", 0)))
        if status is None:
            counts["pending"] = counts.get("pending", 0) + 1
            continue
        counts[status] = counts.get(status, 0) + 1
        send_time = row.get("send_time")
        if status == "delivered" and row.get("userid") and row.get("external_userid"):
            # The pair just talked: WeCom routes the next group message through its latest chat.
            relations_touch_by_external_id(
                account_id=account.pk,
                external_id=row["external_userid"],
                staff_userid=row["userid"],
                at=datetime.fromtimestamp(int(send_time), tz=UTC) if send_time else datetime.now(tz=UTC),
            )
        delivery_report_dispatch(
            DeliveryReport(
                account_id=account.pk,
                msgid=msgid,
                status=status,
                raw_status=str(row.get("status")),
                occurred_at=datetime.fromtimestamp(int(send_time), tz=UTC) if send_time else datetime.now(tz=UTC),
                external_id=row.get("external_userid", ""),
            )
        )
    return counts
