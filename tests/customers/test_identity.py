import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from customers.models import ChannelIdentity, Customer, CustomerMerge, CustomerTag, EngagementEvent
from customers.services import (
    customer_merge,
    event_record,
    identity_resolve,
    identity_set_follow_state,
    tags_assign_bulk,
)
from tests.factories import ChannelAccountFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_same_unionid_on_two_accounts_is_one_customer():
    oa = ChannelAccountFactory(kind="oa")
    mp = ChannelAccountFactory(kind="miniprogram")
    first = identity_resolve(account=oa, external_id="o-oa-1", unionid="u-1")
    second = identity_resolve(account=mp, external_id="o-mp-1", unionid="u-1")
    assert first.customer_id == second.customer_id
    assert Customer.objects.count() == 1


def test_late_unionid_merges_customers_and_moves_everything():
    oa = ChannelAccountFactory(kind="oa")
    wecom = ChannelAccountFactory(kind="wecom")
    follower = identity_resolve(account=oa, external_id="o-1", unionid="u-9", profile={"display_name": "Li"})
    contact = identity_resolve(account=wecom, external_id="wm-1")
    assert contact.customer_id != follower.customer_id
    tag = TagFactory()
    tags_assign_bulk(tag_ids=[tag.id], customers=[contact.customer_id])
    event_record(customer_id=contact.customer_id, event_type="wecom.add_contact")
    loser_id = contact.customer_id

    contact = identity_resolve(account=wecom, external_id="wm-1", unionid="u-9")

    assert contact.customer_id == follower.customer_id
    assert not Customer.objects.filter(pk=loser_id).exists()
    assert CustomerTag.objects.filter(customer_id=follower.customer_id, tag=tag).exists()
    assert EngagementEvent.objects.filter(customer_id=follower.customer_id, event_type="wecom.add_contact").count() == 1
    merge = CustomerMerge.objects.get(survivor_id=follower.customer_id)
    assert merge.merged_customer_id == loser_id
    assert ChannelIdentity.objects.filter(customer_id=follower.customer_id).count() == 2


def test_merge_keeps_one_copy_of_a_shared_tag():
    oa = ChannelAccountFactory()
    a = identity_resolve(account=oa, external_id="a").customer
    b = identity_resolve(account=oa, external_id="b").customer
    tag = TagFactory()
    tags_assign_bulk(tag_ids=[tag.id], customers=[a.id, b.id])
    customer_merge(survivor=a, merged=b, reason="test")
    assert CustomerTag.objects.filter(tag=tag).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_resolution_of_one_unionid_creates_one_customer():
    oa = ChannelAccountFactory(kind="oa")
    mp = ChannelAccountFactory(kind="miniprogram")
    wecom = ChannelAccountFactory(kind="wecom")
    barrier = threading.Barrier(3)
    errors = []

    def resolve(account, external_id):
        try:
            barrier.wait()
            identity_resolve(account=account, external_id=external_id, unionid="u-race")
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=resolve, args=(acc, f"id-{i}")) for i, acc in enumerate([oa, mp, wecom])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    owners = set(ChannelIdentity.objects.values_list("customer_id", flat=True))
    assert len(owners) == 1
    assert Customer.objects.count() == 1


def test_older_subscribe_arriving_after_newer_unsubscribe_keeps_unfollowed():
    identity = identity_resolve(account=ChannelAccountFactory(), external_id="o-order")
    now = timezone.now()
    assert identity_set_follow_state(identity=identity, following=False, at=now)
    assert not identity_set_follow_state(identity=identity, following=True, at=now - timedelta(seconds=5))
    identity.refresh_from_db()
    assert identity.follow_state == "unfollowed"
    assert identity_set_follow_state(identity=identity, following=True, at=now + timedelta(seconds=5))
    identity.refresh_from_db()
    assert identity.follow_state == "following"
