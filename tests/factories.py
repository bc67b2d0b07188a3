from datetime import time

import factory
from django.utils import timezone

from accounts.models import ChannelAccount
from campaigns.models import Campaign, CampaignState, ContactPolicy, Delivery, DeliveryState
from customers.models import ChannelIdentity, Customer, Tag, TagGroup
from customers.segments.models import Segment, SegmentKind, SegmentStaticMember


class ChannelAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelAccount

    kind = "oa"
    name = factory.Sequence(lambda n: f"Account {n}")
    app_id = factory.Sequence(lambda n: f"wx{n:016d}")
    app_secret = factory.Sequence(lambda n: f"secret-{n:026d}")
    token = "callbacktoken"
    encoding_aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    display_name = factory.Sequence(lambda n: f"Customer {n}")


class ChannelIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelIdentity

    customer = factory.SubFactory(CustomerFactory)
    account = factory.SubFactory(ChannelAccountFactory)
    kind = factory.LazyAttribute(lambda o: o.account.identity_kind)
    external_id = factory.Sequence(lambda n: f"openid-{n:08d}")
    follow_state = "following"


class TagGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TagGroup

    name = factory.Sequence(lambda n: f"Group {n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    group = factory.SubFactory(TagGroupFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")


class SegmentFactory(factory.django.DjangoModelFactory):
    """A segment; static by default. SegmentFactory(members=[customer, …]) lists those customers."""

    class Meta:
        model = Segment
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = SegmentKind.STATIC
    rule = factory.LazyAttribute(lambda o: {} if o.kind == SegmentKind.STATIC else {"all": []})

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            SegmentStaticMember.objects.bulk_create([SegmentStaticMember(segment=self, customer_id=c.pk) for c in extracted])


class ContactPolicyFactory(factory.django.DjangoModelFactory):
    """The global policy row (pk 1); quiet hours off by default so tests at any wall-clock time are stable.
    ContactPolicyFactory(quiet_hours=True) sets the product's default quiet hours, 21:00–08:30."""

    class Meta:
        model = ContactPolicy

    class Params:
        quiet_hours = factory.Trait(quiet_start=time(21, 0), quiet_end=time(8, 30))

    pk = 1
    quiet_start = None
    quiet_end = None


class CampaignFactory(factory.django.DjangoModelFactory):
    """A draft customer-service campaign to a new static segment.
    segment=<Segment> targets that segment; scheduled_now=True makes it scheduled and due now (what
    planning and dispatch pick up); topics=[tag, …] sets its topics."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    class Params:
        segment = None
        scheduled_now = factory.Trait(state=CampaignState.SCHEDULED, scheduled_at=factory.LazyFunction(timezone.now))

    name = factory.Sequence(lambda n: f"Campaign {n}")
    account = factory.SubFactory(ChannelAccountFactory)
    message_type = "customer_service"
    priority_class = "marketing"
    content = factory.LazyFunction(lambda: {"text": "Hi {{ customer.display_name }}, spring sale https://shop.example.com/sale"})
    segment_id = factory.LazyAttribute(lambda o: (o.segment or SegmentFactory()).pk)

    @factory.post_generation
    def topics(self, create, extracted, **kwargs):
        if create and extracted:
            self.topics.set(extracted)


class DeliveryFactory(factory.django.DjangoModelFactory):
    """One planned push of a campaign to a customer (on the campaign's account)."""

    class Meta:
        model = Delivery

    campaign = factory.SubFactory(CampaignFactory)
    customer = factory.SubFactory(CustomerFactory)
    account = factory.LazyAttribute(lambda o: o.campaign.account)
    identity = None
    state = DeliveryState.PLANNED
