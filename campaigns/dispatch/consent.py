"""Subscribe messages spend one consent credit per send (customers' consent services own the credits)."""

from __future__ import annotations

from campaigns.dispatch.claim import Claimed
from campaigns.dispatch.record import Outcome
from campaigns.models import Campaign, Delivery, DeliveryState
from customers.services.consent import consent_credits_refund, consent_credits_spend

# The user refused the template: the adapter has revoked the credits, nothing is given back.
USER_REFUSED = "43101"


def _template_id(campaign: Campaign) -> str:
    return str((campaign.content or {}).get("template_id", ""))


def consent_spend(*, campaign: Campaign, rows: list[Claimed]) -> tuple[list[Claimed], list[Claimed]]:
    """Spend one credit per row (a conditional update): (rows with a credit spent, rows without one left)."""
    spent = consent_credits_spend(account_id=campaign.account_id, template_id=_template_id(campaign), customer_ids=[r.customer_id for r in rows])
    return [r for r in rows if r.customer_id in spent], [r for r in rows if r.customer_id not in spent]


def consent_refund_unsent(*, campaign: Campaign, outcomes: list[Outcome]) -> None:
    """A credit spent on a send WeChat did not accept (busy, rate limit, stopped) is given back,
    except after 43101 (the user refused)."""
    ids = [o.delivery_id for o in outcomes if o.state != DeliveryState.SENT and o.error_code != USER_REFUSED]
    if not ids:
        return
    # The rows' recorded state decides: one recorded as sent meanwhile keeps its credit spent.
    customers = Delivery.objects.filter(pk__in=ids).exclude(state=DeliveryState.SENT).values_list("customer_id", flat=True)
    consent_credits_refund(account_id=campaign.account_id, template_id=_template_id(campaign), customer_ids=list(customers))
