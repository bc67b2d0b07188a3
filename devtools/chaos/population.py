"""The dispatch drills' account and campaign: a service account on the drill's sandbox (open mode:
unknown openids are followers), `n` following customers, and a template campaign already planned and
sending, whose pumps are enqueued as planning enqueues them."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import ChannelAccount
from campaigns.models import Campaign, CampaignState, Delivery
from campaigns.tasks import dispatch_campaign_task
from customers.models import ChannelIdentity
from customers.services.bulk import CustomerUpsert, IdentityUpsert, customers_upsert_bulk
from messaging.channels.hosts import sandbox_started


def sandbox_account(*, sandbox_url: str, label: str, rate_per_second: int) -> ChannelAccount:
    sandbox_started(sandbox_url)
    return ChannelAccount.objects.create(
        kind="oa", name=f"chaos {label}", app_id=f"wxchaos{secrets.token_hex(5)}", app_secret=secrets.token_hex(16),
        api_base_url=sandbox_url, rate_limit_per_second=rate_per_second, daily_quota=10**9,
    )


def sending_campaign(*, account: ChannelAccount, recipients: int, label: str, later: int = 0, later_at=None) -> Campaign:
    """`later` of the recipients (the last ones) are due at `later_at`, the rest now (a send window
    opening later, as send-time optimisation plans it): in between, every pump waits between slices."""
    tag = secrets.token_hex(3)
    customers_upsert_bulk(
        [
            CustomerUpsert(
                values={"display_name": f"chaos {i}"},
                identities=[IdentityUpsert(account_id=account.pk, kind="oa_openid", external_id=f"o-chaos-{tag}-{i:05d}", follow_state="following")],
            )
            for i in range(recipients)
        ],
        link_unionids=False,
    )
    # Planning until its deliveries exist, as planning does: a sending campaign without deliveries is
    # complete, and the watchdog would re-pump and complete it.
    campaign = Campaign.objects.create(
        name=f"chaos {label}", account=account, message_type="template", priority_class="transactional", state=CampaignState.PLANNING,
        policy_overrides={"quiet_start": None, "quiet_end": None}, planned_count=recipients, planned_at=timezone.now(),
        sending_started_at=timezone.now(),
        content={"template_id": "TPL-chaos", "template_keys": ["first"], "fields": {"first": "Hi {{ customer.display_name }}"}},
    )
    due = timezone.now() - timedelta(seconds=1)
    identities = list(ChannelIdentity.objects.filter(account=account).only("id", "customer_id").order_by("id"))
    first = len(identities) - later
    Delivery.objects.bulk_create(
        [
            Delivery(
                campaign=campaign, customer_id=i.customer_id, identity=i, account=account, state="planned",
                send_after=due if index < first else later_at, is_marketing=False,
            )
            for index, i in enumerate(identities)
        ],
        batch_size=5000,
    )
    return campaign


def pumps_start(campaign: Campaign) -> None:
    """As planning ends (campaigns.services._enqueue_pumps): sending, a new generation, the pumps enqueued."""
    Campaign.objects.filter(pk=campaign.pk).update(state=CampaignState.SENDING, pump_generation=1, pump_restarted_at=timezone.now())
    campaign.state = CampaignState.SENDING
    for _ in range(settings.CAMPAIGN_DISPATCH_CONCURRENCY):
        dispatch_campaign_task.apply_async(args=[campaign.pk, 1])


def earlier_runs_forget() -> int:
    """Drill data of earlier runs out of the way (their unprocessed callbacks would queue before this
    run's, their campaigns would be re-pumped): the chaos accounts' inbound rows deleted, their
    campaigns cancelled. The number of accounts."""
    from messaging.callbacks.models import InboundMessage

    accounts = list(ChannelAccount.objects.filter(name__startswith="chaos ").values_list("pk", flat=True))
    InboundMessage.objects.filter(account_id__in=accounts).delete()
    Campaign.objects.filter(account_id__in=accounts).exclude(state=CampaignState.COMPLETED).update(state=CampaignState.CANCELLED)
    return len(accounts)
