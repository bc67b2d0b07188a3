from datetime import timedelta

import pytest
from django.utils import timezone

from customers.privacy import customer_erase
from customers.services import identity_resolve
from messaging.callbacks.models import InboundMessage
from messaging.miniprogram.models import MiniProgramSession
from tests.factories import ChannelAccountFactory

pytestmark = pytest.mark.django_db


def _inbound(account, key, *, from_user, parsed=None):
    return InboundMessage.objects.create(
        account=account, dedupe_key=key, msg_type="text", from_user=from_user,
        raw_payload=f"<xml><FromUserName>{from_user}</FromUserName></xml>", parsed=parsed or {"FromUserName": from_user},
    )  # fmt: skip


def test_erasure_deletes_the_persons_raw_callbacks_and_sessions_and_nothing_else():
    oa = ChannelAccountFactory(kind="oa")
    other_oa = ChannelAccountFactory(kind="oa")
    wecom = ChannelAccountFactory(kind="wecom")
    mp = ChannelAccountFactory(kind="miniprogram")
    identity = identity_resolve(account=oa, external_id="o-erase", unionid="u-erase")
    identity_resolve(account=wecom, external_id="wm-erase", unionid="u-erase")
    mp_identity = identity_resolve(account=mp, external_id="o-mp-erase", unionid="u-erase")
    customer = identity.customer
    bystander = identity_resolve(account=oa, external_id="o-keep").customer
    now = timezone.now()
    MiniProgramSession.objects.create(
        identity=mp_identity, customer=customer, account=mp, access_token_hash="a" * 64,
        access_expires_at=now + timedelta(hours=1), refresh_token_hash="r" * 64,
        refresh_expires_at=now + timedelta(days=30),
    )  # fmt: skip
    _inbound(oa, "msg:1", from_user="o-erase")
    _inbound(oa, "msg:2", from_user="o-erase")
    _inbound(wecom, "evt:add", from_user="sys", parsed={"FromUserName": "sys", "ExternalUserID": "wm-erase"})
    kept = {
        _inbound(oa, "msg:3", from_user="o-keep").pk,
        # The same openid string on another account is someone else.
        _inbound(other_oa, "msg:4", from_user="o-erase").pk,
        _inbound(wecom, "evt:other", from_user="sys", parsed={"FromUserName": "sys", "ExternalUserID": "wm-keep"}).pk,
    }

    record = customer_erase(customer_id=customer.pk, requested_by="operator:1")

    assert set(InboundMessage.objects.values_list("pk", flat=True)) == kept
    assert not MiniProgramSession.objects.filter(customer=customer).exists()
    assert record.summary["inbound_messages"] == 3
    assert bystander.identities.count() == 1
