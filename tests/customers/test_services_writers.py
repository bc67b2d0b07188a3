"""customers' services that other apps call to record what they learn (real PostgreSQL)."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from customers.models import (
    Customer,
    CustomerPreference,
    CustomerTag,
    EngagementEvent,
    InboxMessage,
    Tag,
    TagGroup,
    TagSource,
    TopicSubscription,
)
from customers.segments.services import segment_static_add
from customers.services.identity import (
    Refusal,
    identity_record_refusal,
    identity_set_follow_state,
    identity_set_owner_staff,
)
from customers.services.preferences import customer_preferences_set, inbox_message_mark_read
from customers.services.profile import customer_set_source_if_empty
from customers.services.tags import tag_ensure, tag_links_add_bulk, tags_assign_bulk
from scrm.errors import NotFound
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory, CustomerFactory, SegmentFactory, TagFactory

pytestmark = pytest.mark.django_db


# --- refusals ---------------------------------------------------------------------------------


def test_an_unfollow_refusal_does_not_undo_a_newer_follow():
    now = timezone.now()
    refollowed = ChannelIdentityFactory(follow_state="following", followed_at=now)
    lapsed = ChannelIdentityFactory(follow_state="following", followed_at=now - timedelta(days=3))
    changed = identity_record_refusal(
        identity_ids=[refollowed.pk, lapsed.pk], refusal=Refusal.UNFOLLOWED, at=now - timedelta(hours=1)
    )
    refollowed.refresh_from_db()
    lapsed.refresh_from_db()
    assert changed == 1
    assert refollowed.follow_state == "following"
    assert (lapsed.follow_state, lapsed.unfollowed_at) == ("unfollowed", now - timedelta(hours=1))


def test_template_block_and_do_not_disturb_are_recorded_once():
    identity = ChannelIdentityFactory()
    assert identity_record_refusal(identity_ids=[identity.pk], refusal=Refusal.TEMPLATE_BLOCKED) == 1
    assert identity_record_refusal(identity_ids=[identity.pk], refusal=Refusal.TEMPLATE_BLOCKED) == 0
    assert identity_record_refusal(identity_ids=[identity.pk, identity.pk], refusal=Refusal.DO_NOT_DISTURB) == 1
    identity.refresh_from_db()
    assert identity.refuses_template and identity.do_not_disturb
    assert identity_record_refusal(identity_ids=[], refusal=Refusal.DO_NOT_DISTURB) == 0


def test_an_unfollow_through_the_follow_setter_is_the_same_refusal():
    now = timezone.now()
    identity = ChannelIdentityFactory(follow_state="following", followed_at=now - timedelta(days=1))
    assert identity_set_follow_state(identity=identity, following=False, at=now)
    assert not identity_set_follow_state(identity=identity, following=True, at=now - timedelta(hours=1)), (
        "an older follow loses"
    )
    identity.refresh_from_db()
    assert (identity.follow_state, identity.unfollowed_at) == ("unfollowed", now)


# --- owner, source ----------------------------------------------------------------------------


def test_owner_staff_and_first_source():
    identity = ChannelIdentityFactory()
    identity_set_owner_staff(identity_id=identity.pk, staff_userid="zhangsan")
    identity.refresh_from_db()
    assert identity.owner_staff_id == "zhangsan"
    assert customer_set_source_if_empty(customer_id=identity.customer_id, source="qr:Spring fair")
    assert not customer_set_source_if_empty(customer_id=identity.customer_id, source="qr:later")
    identity.customer.refresh_from_db()
    assert identity.customer.source == "qr:Spring fair"


# --- tags -------------------------------------------------------------------------------------


def test_tag_ensure_creates_the_group_and_tag_once():
    first = tag_ensure(group_name="WeChat · Shop", name="VIP")
    again = tag_ensure(group_name="WeChat · Shop", name="VIP")
    assert first.pk == again.pk and first.group.name == "WeChat · Shop"
    assert TagGroup.objects.filter(name="WeChat · Shop").count() == 1 and Tag.objects.count() == 1


def test_tag_links_keep_an_existing_assignment_as_it_is():
    customer, tag = CustomerFactory(), TagFactory()
    tags_assign_bulk(tag_ids=[tag.pk], customers=[customer.pk], source=TagSource.MANUAL)
    tag_links_add_bulk(links=[(customer.pk, tag.pk), (customer.pk, tag.pk)], source=TagSource.WECHAT_SYNC)
    other = TagFactory()
    tag_links_add_bulk(links=[(customer.pk, other.pk)], source=TagSource.WECHAT_SYNC)
    assert dict(CustomerTag.objects.filter(customer=customer).values_list("tag_id", "source")) == {
        tag.pk: TagSource.MANUAL,
        other.pk: TagSource.WECHAT_SYNC,
    }


# --- preferences, inbox -----------------------------------------------------------------------


def test_preferences_replace_topic_choices_and_only_the_centres_own_tags():
    customer = CustomerFactory()
    sport, music, travel = TagFactory(), TagFactory(), TagFactory()
    tags_assign_bulk(tag_ids=[travel.pk], customers=[customer.pk], source=TagSource.MANUAL)
    offered = {sport.pk, music.pk, travel.pk}
    customer_preferences_set(
        customer_id=customer.pk, frequency="weekly_digest", quiet_start=time(22), quiet_end=time(8),
        topics={sport.pk: True, music.pk: True}, offered_topic_ids=offered,
    )  # fmt: skip
    customer_preferences_set(
        customer_id=customer.pk, frequency="all", quiet_start=None, quiet_end=None,
        topics={music.pk: False, travel.pk: False}, offered_topic_ids=offered,
    )  # fmt: skip
    preference = CustomerPreference.objects.get(customer=customer)
    assert (preference.frequency, preference.quiet_start) == ("all", None)
    assert dict(TopicSubscription.objects.filter(customer=customer).values_list("tag_id", "opted_in")) == {
        music.pk: False,
        travel.pk: False,
    }
    # The centre's own tags went with the choices; the operator's travel tag stays.
    assert set(CustomerTag.objects.filter(customer=customer).values_list("tag_id", flat=True)) == {travel.pk}


def test_an_inbox_item_read_twice_is_one_read_event():
    account = ChannelAccountFactory(kind="miniprogram")
    customer = CustomerFactory()
    message = InboxMessage.objects.create(customer=customer, title="Order shipped", campaign_id=7)
    first = inbox_message_mark_read(customer_id=customer.pk, account_id=account.pk, message_id=message.pk)
    second = inbox_message_mark_read(customer_id=customer.pk, account_id=account.pk, message_id=message.pk)
    assert first.read_at is not None and second.read_at == first.read_at
    assert EngagementEvent.objects.filter(customer=customer, event_type="inbox.read", campaign_id=7).count() == 1
    with pytest.raises(NotFound):
        inbox_message_mark_read(customer_id=CustomerFactory().pk, account_id=account.pk, message_id=message.pk)


def test_tags_and_static_members_from_ids_or_querysets_including_none():
    tag = TagFactory()
    first, second = CustomerFactory(), CustomerFactory()
    assert tags_assign_bulk(tag_ids=[tag.pk], customers=[]) == 0
    assert tags_assign_bulk(tag_ids=[tag.pk], customers=[first.pk]) == 1
    assert tags_assign_bulk(tag_ids=[tag.pk], customers=Customer.objects.filter(pk__in=[first.pk, second.pk])) == 1
    assert set(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True)) == {first.pk, second.pk}

    segment = SegmentFactory()
    assert segment_static_add(segment=segment, customers=[]) == 0
    assert segment_static_add(segment=segment, customers=[first.pk]) == 1
    assert segment_static_add(segment=segment, customers=Customer.objects.all()) == 1
