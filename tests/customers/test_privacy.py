import pytest

from campaigns.models import Delivery
from customers import privacy
from customers.models import (
    ChannelIdentity,
    ConsentCredit,
    Customer,
    CustomerPreference,
    CustomerTag,
    CustomerUnionId,
    EngagementEvent,
    EngagementProfile,
    InboxMessage,
    TopicSubscription,
)
from customers.privacy import customer_erase, customer_export, register_erasure_handler
from customers.privacy_models import PrivacyRequest
from customers.segments.models import SegmentStaticMember
from customers.services import consent_credit_add, customer_set_phone, event_record, identity_resolve
from scrm.errors import ApplicationError
from tests.factories import (
    CampaignFactory,
    ChannelAccountFactory,
    CustomerFactory,
    DeliveryFactory,
    SegmentFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    oa = ChannelAccountFactory(kind="oa")
    mp = ChannelAccountFactory(kind="miniprogram")
    identity = identity_resolve(account=oa, external_id="o-oa-1", unionid="u-1", profile={"display_name": "Wang Fang", "city": "Suzhou"})
    identity_resolve(account=mp, external_id="o-mp-1", unionid="u-1")
    customer = identity.customer
    customer_set_phone(customer=customer, phone="13900001111")
    customer.attributes = {"birthday": "1990-01-01"}
    customer.save()
    tag = TagFactory(name="coffee")
    CustomerTag.objects.create(customer=customer, tag=tag)
    TopicSubscription.objects.create(customer=customer, tag=tag, opted_in=True)
    CustomerPreference.objects.create(customer=customer, frequency="weekly_digest")
    consent_credit_add(customer_id=customer.pk, account_id=mp.pk, template_id="T1")
    InboxMessage.objects.create(customer=customer, title="Your order shipped", body="to 5 Garden Rd")
    EngagementProfile.objects.create(customer=customer, score=0.7)
    campaign = CampaignFactory(name="Autumn", account=oa, message_type="mass")
    event_record(customer_id=customer.pk, event_type="mp.purchase", properties={"address": "5 Garden Rd"}, campaign_id=campaign.pk, dedupe_key="mp:1:o-mp-1")
    DeliveryFactory(campaign=campaign, customer=customer, identity=identity, state="sent")
    SegmentFactory(name="VIP upload", members=[customer])
    return {"customer": customer, "oa": oa, "mp": mp, "campaign": campaign}


def test_export_contains_the_persons_data_and_is_audited(person):
    data = customer_export(customer=person["customer"], requested_by="operator:1")
    assert data["profile"]["display_name"] == "Wang Fang"
    assert data["profile"]["phone"] == "13900001111"
    assert {i["external_id"] for i in data["identities"]} == {"o-oa-1", "o-mp-1"}
    assert data["tags"][0]["tag"] == "coffee"
    assert data["preferences"]["frequency"] == "weekly_digest"
    assert data["consent_credits"] == [{"template_id": "T1", "remaining": 1}]
    assert data["events"][0]["properties"] == {"address": "5 Garden Rd"}
    assert data["inbox"][0]["title"] == "Your order shipped"
    audit = PrivacyRequest.objects.get(kind="export")
    assert (audit.customer_id, audit.requested_by) == (person["customer"].pk, "operator:1")
    assert audit.summary["identities"] == 2


def test_erasure_removes_personal_data_and_identities_and_keeps_anonymous_aggregates(person):
    customer = person["customer"]
    record = customer_erase(customer_id=customer.pk, requested_by="customer:mini-program")

    customer = Customer.objects.get(pk=customer.pk)
    assert customer.erased_at is not None
    for field in ("display_name", "city", "phone", "phone_hash", "source"):
        assert getattr(customer, field) == "", field
    assert customer.attributes == {}
    for model in (ChannelIdentity, CustomerUnionId, CustomerTag, TopicSubscription, CustomerPreference, ConsentCredit, InboxMessage, EngagementProfile, SegmentStaticMember):
        assert not model.objects.filter(customer_id=customer.pk).exists(), model.__name__
    # Aggregates still count the person, anonymously.
    event = EngagementEvent.objects.get(customer=customer)
    assert (event.event_type, event.campaign_id, event.properties, event.dedupe_key) == ("mp.purchase", person["campaign"].pk, {}, None)
    delivery = Delivery.objects.get(campaign=person["campaign"])
    assert (delivery.customer_id, delivery.state, delivery.identity_id) == (customer.pk, "sent", None)
    assert record.kind == "erasure"
    assert record.summary["identities"] == 2
    assert record.summary["inbox"] == 1
    assert "Wang" not in str(record.summary)


def test_erasure_is_irreversible_and_a_returning_person_starts_fresh(person):
    old_id = person["customer"].pk
    customer_erase(customer_id=old_id, requested_by="operator:1")
    with pytest.raises(ApplicationError) as excinfo:
        customer_erase(customer_id=old_id, requested_by="operator:1")
    assert excinfo.value.code == "customer_erased"
    with pytest.raises(ApplicationError):
        customer_export(customer=Customer.objects.get(pk=old_id), requested_by="operator:1")

    again = identity_resolve(account=person["mp"], external_id="o-mp-1", unionid="u-1")
    assert again.customer_id != old_id
    assert again.customer.display_name == ""
    assert Customer.objects.get(pk=old_id).erased_at is not None
    assert PrivacyRequest.objects.filter(kind="erasure", customer_id=old_id).count() == 1


def test_registered_erasure_handlers_run_in_the_erasure(person, monkeypatch):
    # A copy of the registry, so that this handler is gone again after the test.
    monkeypatch.setattr(privacy, "_erasure_handlers", list(privacy._erasure_handlers))
    seen = []

    def handler(customer_id):
        seen.append(customer_id)
        return {"raw_messages": 3}

    register_erasure_handler(handler)
    record = customer_erase(customer_id=person["customer"].pk, requested_by="system")
    assert seen == [person["customer"].pk]
    assert record.summary["raw_messages"] == 3


def test_erasing_one_customer_leaves_others_untouched(person):
    other = CustomerFactory(display_name="Li Lei")
    InboxMessage.objects.create(customer=other, title="hi")
    customer_erase(customer_id=person["customer"].pk, requested_by="system")
    other.refresh_from_db()
    assert other.display_name == "Li Lei"
    assert InboxMessage.objects.filter(customer=other).count() == 1
