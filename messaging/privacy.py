"""What messaging holds about a person that customers/ cannot see, removed on erasure (PIPL).

Registered with customers.privacy from MessagingConfig.ready(); it runs inside customer_erase's
transaction before the identities are deleted, because the identities are how the rows are found.
"""

from __future__ import annotations

from django.db.models import Q

from customers.models import ChannelIdentity
from messaging.callbacks.models import InboundMessage
from messaging.miniprogram.models import MiniProgramSession


def messaging_erase_customer(customer_id: int) -> dict[str, int]:
    """Delete the raw inbound callbacks and mini-program sessions of a customer's identities."""
    match = Q(pk__in=[])
    for account_id, external_id in ChannelIdentity.objects.filter(customer_id=customer_id).values_list(
        "account_id", "external_id"
    ):
        # WeChat puts the openid in FromUserName; WeCom contact events come from "sys" and name the
        # person in ExternalUserID, which only the parsed fields keep.
        match |= Q(account_id=account_id) & (Q(from_user=external_id) | Q(parsed__ExternalUserID=external_id))
    inbound, _ = InboundMessage.objects.filter(match).delete()
    sessions, _ = MiniProgramSession.objects.filter(customer_id=customer_id).delete()
    return {"inbound_messages": inbound, "miniprogram_sessions": sessions}
