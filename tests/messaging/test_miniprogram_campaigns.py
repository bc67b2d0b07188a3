"""The mini-program API as the campaigns see it: preferences change who a campaign reaches, consent
credits reported by the app are spent by a send, inbox campaigns arrive in the message centre."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.dispatch import campaign_dispatch
from campaigns.models import CampaignState, Delivery, Suppression
from campaigns.planning import campaign_plan_audience
from customers.models import ConsentCredit, EngagementEvent, Segment
from customers.segments.services import segment_snapshot_create
from messaging.miniprogram.services import mp_session_create
from tests.factories import ChannelIdentityFactory, TagFactory, TagGroupFactory

pytestmark = pytest.mark.django_db

BASE = "/api/mp/v1/"


def _plan(campaign, start_at=None):
    snapshot = segment_snapshot_create(segment=Segment.objects.get(pk=campaign.segment_id))
    with transaction.atomic():
        return campaign_plan_audience(campaign=campaign, snapshot_id=snapshot.pk, start_at=start_at)


def _send(campaign):
    # PostgreSQL's now() is the start of the test's transaction: plan for a moment before it so that
    # the deliveries are due when dispatch claims them.
    _plan(campaign, start_at=timezone.now() - timedelta(hours=1))
    campaign.state = CampaignState.SENDING
    campaign.save(update_fields=["state"])
    return campaign_dispatch(campaign_id=campaign.pk, budget_seconds=10)


def _app_client(identity) -> APIClient:
    tokens = mp_session_create(identity=identity)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access_token}")
    return client


def _outcome(campaign) -> dict[int, str]:
    planned = dict.fromkeys(Delivery.objects.filter(campaign=campaign).values_list("customer_id", flat=True), "planned")
    return {**planned, **dict(Suppression.objects.filter(campaign=campaign).values_list("customer_id", "reason"))}


def test_preferences_set_in_the_app_change_who_a_campaign_reaches(
    plan_account, mp_api_account, make_audience, static_segment, make_campaign, contact_policy
):
    sales = TagFactory(group=TagGroupFactory(name="Topics"), name="sales")
    people = make_audience(plan_account, 3)
    for _, identity in people:
        identity.last_interaction_at = timezone.now()
        identity.save()
    (opt_out, _), (rarely, _), (keen, _) = people
    apps = {c.pk: _app_client(ChannelIdentityFactory(customer=c, account=mp_api_account)) for c, _ in people}

    def prefs(customer, frequency, subscribed):
        response = apps[customer.pk].put(
            BASE + "me/preferences",
            {"frequency": frequency, "quiet_hours": None, "topics": [{"id": sales.pk, "subscribed": subscribed}]},
            format="json",
        )
        assert response.status_code == 200

    prefs(opt_out, "all", False)
    prefs(rarely, "important_only", True)
    prefs(keen, "all", True)
    segment = static_segment([c for c, _ in people])
    first = make_campaign(plan_account, segment, name="Sale 1", topics=[sales])
    _plan(first)
    assert _outcome(first) == {opt_out.pk: "topic_opt_out", rarely.pk: "preference_frequency", keen.pk: "planned"}

    # The customers change their minds in the preference centre; the next campaign follows.
    prefs(opt_out, "all", True)
    prefs(rarely, "all", True)
    prefs(keen, "all", False)
    second = make_campaign(plan_account, segment, name="Sale 2", topics=[sales])
    _plan(second)
    assert _outcome(second) == {opt_out.pk: "planned", rarely.pk: "planned", keen.pk: "topic_opt_out"}


def test_consent_credits_reported_by_the_app_are_spent_by_a_subscribe_message_send(
    sandbox, mp_sandbox_account, static_segment, make_campaign, contact_policy
):
    app_id = mp_sandbox_account.app_id
    accepted = ChannelIdentityFactory(account=mp_sandbox_account, external_id="mp-accepted")
    declined = ChannelIdentityFactory(account=mp_sandbox_account, external_id="mp-declined")
    for identity, status in ((accepted, "accept"), (declined, "reject")):
        response = _app_client(identity).post(
            BASE + "me/subscriptions", {"results": [{"template_id": "TPL-ORDER", "status": status}]}, format="json"
        )
        assert response.status_code == 200
        if status == "accept":
            # WeChat records the same acceptance on its side.
            sandbox.control.grant_consent(app_id, identity.external_id, "TPL-ORDER", 1)
    assert ConsentCredit.objects.get(customer=accepted.customer).remaining == 1

    segment = static_segment([accepted.customer, declined.customer])
    content = {"template_id": "TPL-ORDER", "page": "pages/order/index", "fields": {"thing1": {"value": "Your order shipped"}}}
    campaign = make_campaign(mp_sandbox_account, segment, message_type="mp_subscribe", priority_class="transactional", content=content)
    result = _send(campaign)

    assert result.sent == 1
    assert Delivery.objects.get(campaign=campaign, customer=accepted.customer).state == "sent"
    assert _outcome(campaign)[declined.customer_id] == "no_consent"
    assert ConsentCredit.objects.get(customer=accepted.customer).remaining == 0
    sent = sandbox.control.sent_messages(app_id, api="subscribe")
    assert [m["touser"] for m in sent] == ["mp-accepted"]

    # The credit is spent: the next send needs a new acceptance in the app.
    again = make_campaign(mp_sandbox_account, segment, name="again", message_type="mp_subscribe", priority_class="transactional", content=content)
    _plan(again)
    assert _outcome(again) == {accepted.customer_id: "no_consent", declined.customer_id: "no_consent"}


def test_an_inbox_campaign_arrives_in_the_message_centre_and_its_read_is_attributed(
    mp_api_account, static_segment, make_campaign, contact_policy
):
    identity = ChannelIdentityFactory(account=mp_api_account)
    other = ChannelIdentityFactory(account=mp_api_account)
    app = _app_client(identity)
    segment = static_segment([identity.customer])
    content = {"title": "Members' week", "body": "20% off for you", "mp_page": "pages/sale/index"}
    campaign = make_campaign(mp_api_account, segment, message_type="inbox", content=content)
    _send(campaign)

    inbox = app.get(BASE + "inbox").json()
    assert [m["title"] for m in inbox["results"]] == ["Members' week"]
    assert _app_client(other).get(BASE + "inbox").json()["count"] == 0
    message_id = inbox["results"][0]["id"]
    assert app.post(BASE + f"inbox/{message_id}/read").status_code == 200
    read = EngagementEvent.objects.get(event_type="inbox.read")
    delivery = Delivery.objects.get(campaign=campaign)
    assert (read.customer_id, read.campaign_id, read.delivery_id) == (identity.customer_id, campaign.pk, delivery.pk)
