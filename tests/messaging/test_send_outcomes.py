"""What a permanent send failure teaches about customers, recorded through customers' services."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import ConsentCredit
from customers.services.consent import consent_credit_add
from messaging.channels.base import OutboundMessage, SendOutcome
from messaging.channels.services import send_outcomes_apply
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory

pytestmark = pytest.mark.django_db


def test_permanent_send_failures_record_refusals_and_revoke_consent():
    account = ChannelAccountFactory(kind="oa")
    gone = ChannelIdentityFactory(account=account, followed_at=timezone.now() - timedelta(days=5))
    blocking = ChannelIdentityFactory(account=account)
    refusing = ChannelIdentityFactory(account=account)
    consent_credit_add(customer_id=refusing.customer_id, account_id=account.pk, template_id="TPL-1", count=2)
    send_outcomes_apply(
        account=account,
        message=OutboundMessage(message_type="oa_subscribe", payload={"template_id": "TPL-1"}, idempotency_key="d-1"),
        outcomes=[
            (gone.external_id, SendOutcome(status="permanent", error_code="43004")),
            (blocking.external_id, SendOutcome(status="permanent", error_code="43019")),
            (refusing.external_id, SendOutcome(status="permanent", error_code="43101")),
            ("o-unknown", SendOutcome(status="permanent", error_code="43004")),
            (blocking.external_id, SendOutcome(status="retryable", error_code="45009")),
        ],
    )
    gone.refresh_from_db()
    blocking.refresh_from_db()
    assert gone.follow_state == "unfollowed"
    assert blocking.do_not_disturb and blocking.follow_state == "following"
    assert ConsentCredit.objects.get(customer_id=refusing.customer_id).remaining == 0
