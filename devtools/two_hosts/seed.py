"""The drill's data: a synthetic population (devtools/population.py), a service account on the
drill's sandbox whose followers are that population, and a template campaign to all of them.

Each run adds a fresh account (its own rate-limit schedule, daily quota and sandbox app) with its
identities, campaign and deliveries; earlier runs' rows are kept (drop the drill's database to start
afresh): removing customers' rows is customers' services' business, and none removes them wholesale."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from accounts.models import ChannelAccount
from campaigns import services as campaign_services
from campaigns.models import Campaign
from customers.models import Customer
from customers.segments.services import segment_create
from customers.services.bulk import CustomerUpsert, IdentityUpsert, customers_upsert_bulk
from devtools.population import SOURCE, population_generate, population_size
from messaging.sandbox.control import SandboxControl

APP_ID_PREFIX = "wxdrill2h"
SECRET = "drill-2hosts-secret"
TEMPLATE_ID = "TPL-drill-2hosts"
SEGMENT_PREFIX = "two-host drill"
CHUNK = 10_000


@dataclass
class DrillData:
    account: ChannelAccount
    campaign: Campaign
    openids: list[str]


def drill_seed(*, recipients: int, rate_limit: int, sandbox_url: str, log: Callable[[str], None]) -> DrillData:
    """Population of `recipients` customers, each a follower of a fresh drill account (in the database
    and in the sandbox), and a draft template campaign to all of them."""
    if population_size() < recipients:  # a bigger population serves too: the campaign takes the first ones
        population_generate(customers=recipients, log=log)
    stamp = time.strftime("%y%m%d%H%M%S", time.gmtime())
    account = ChannelAccount.objects.create(
        kind="oa", name=f"two-host drill {stamp}", app_id=f"{APP_ID_PREFIX}{stamp}", app_secret=SECRET,
        api_base_url=sandbox_url, rate_limit_per_second=rate_limit, daily_quota=10 * recipients,
    )
    control = SandboxControl(sandbox_url)
    # No delivery reports: the drill measures dispatch; 50,000 report callbacks would be another drill.
    control.register_app(kind="oa", app_id=account.app_id, secret=SECRET, auto_report=False, template_quota=10 * recipients)
    customer_ids = list(Customer.objects.filter(source=SOURCE).order_by("pk").values_list("pk", flat=True)[:recipients])
    openids = [f"odrill{account.pk}x{cid}" for cid in customer_ids]
    for start in range(0, len(customer_ids), CHUNK):
        customers_upsert_bulk(
            [
                CustomerUpsert(customer_id=cid, identities=[
                    IdentityUpsert(account_id=account.pk, kind="oa_openid", external_id=openid, follow_state="following")
                ])
                for cid, openid in zip(customer_ids[start : start + CHUNK], openids[start : start + CHUNK], strict=True)
            ],
            link_unionids=False,
        )
        control.add_followers(account.app_id, openids[start : start + CHUNK])
    segment = segment_create(name=f"{SEGMENT_PREFIX} {stamp}", rule={"all": [{"type": "channel", "op": "follows", "account": account.pk}]})
    campaign = campaign_services.campaign_create(data={
        "name": f"two-host drill {stamp}", "account": account, "message_type": "template",
        "priority_class": "transactional", "segment_id": segment.pk,
        "policy_overrides": {"quiet_start": None, "quiet_end": None},
        "content": {"template_id": TEMPLATE_ID, "template_keys": ["first"], "fields": {"first": "Hi {{ customer.display_name }}"}},
    })
    log(f"seeded: account {account.app_id} with {len(openids):,} followers, campaign {campaign.pk} (draft)")
    return DrillData(account=account, campaign=campaign, openids=openids)
