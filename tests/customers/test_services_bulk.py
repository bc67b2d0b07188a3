"""customers_upsert_bulk: the one bulk writer of customers and identities (real PostgreSQL).

Each behaviour is checked on both paths: the set-based one (PostgreSQL) and the row-by-row one
the embedded SQLite database takes (ORM only, so it runs here too)."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from customers.models import ChannelIdentity, Customer, CustomerMerge, CustomerUnionId
from customers.services.bulk import CustomerUpsert, IdentityUpsert, customers_upsert_bulk
from customers.services.bulk.embedded import upsert_row_by_row
from customers.services.identity import identity_resolve
from scrm.errors import ApplicationError
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _row_by_row(rows, *, overwrite=False, refresh_follow=False, link_unionids=True):
    with transaction.atomic():
        return upsert_row_by_row(
            rows, overwrite=overwrite, refresh_follow=refresh_follow, link_unionids=link_unionids, now=timezone.now()
        )


@pytest.fixture(params=["set_based", "row_by_row"])
def upsert(request):
    return customers_upsert_bulk if request.param == "set_based" else _row_by_row


def _follower(account, external_id, **identity):
    return IdentityUpsert(account_id=account.pk, kind=account.identity_kind, external_id=external_id, **identity)


def test_new_identities_get_new_customers_with_their_values(upsert):
    oa = ChannelAccountFactory(kind="oa")
    result = upsert(
        [
            CustomerUpsert(values={"display_name": "Li", "city": "Hangzhou"}, identities=[_follower(oa, "o-1")]),
            CustomerUpsert(values={"display_name": "Wang"}, identities=[_follower(oa, "o-2")]),
        ]
    )
    assert result.customers_created == 2 and result.identities_created == 2
    first, second = (Customer.objects.get(pk=pk) for pk in result.customer_ids)
    assert (first.display_name, first.city, second.display_name) == ("Li", "Hangzhou", "Wang")
    assert ChannelIdentity.objects.get(external_id="o-1").customer_id == first.pk


def test_repeating_an_upsert_creates_nothing_and_changes_nothing(upsert):
    oa = ChannelAccountFactory(kind="oa")
    rows = [CustomerUpsert(values={"display_name": "Li"}, identities=[_follower(oa, "o-1", unionid="u-1")])]
    first = upsert(rows)
    again = upsert(rows)
    assert again.customer_ids == first.customer_ids
    assert (again.customers_created, again.identities_created) == (0, 0)
    assert (
        Customer.objects.count() == 1 and ChannelIdentity.objects.count() == 1 and CustomerUnionId.objects.count() == 1
    )


def test_a_known_identity_keeps_its_customer_and_profile_unless_overwriting(upsert):
    identity = ChannelIdentityFactory(customer=CustomerFactory(display_name="Operator's name"))
    row = CustomerUpsert(
        values={"display_name": "WeChat nickname"}, identities=[_follower(identity.account, identity.external_id)]
    )

    kept = upsert([row])
    assert kept.customer_ids == [identity.customer_id]
    assert Customer.objects.get(pk=identity.customer_id).display_name == "Operator's name"

    upsert([row], overwrite=True)
    assert Customer.objects.get(pk=identity.customer_id).display_name == "WeChat nickname"


def test_overwrite_merges_attributes_and_leaves_an_unchanged_customer_untouched(upsert):
    customer = CustomerFactory(attributes={"level": "3", "plan": "gold"})
    upsert(
        [CustomerUpsert(customer_id=customer.pk, values={"attributes": {"plan": "silver", "vip": "y"}})], overwrite=True
    )
    customer.refresh_from_db()
    assert customer.attributes == {"level": "3", "plan": "silver", "vip": "y"}

    stamped = customer.updated_at
    upsert([CustomerUpsert(customer_id=customer.pk, values={"attributes": {"vip": "y"}})], overwrite=True)
    customer.refresh_from_db()
    assert customer.updated_at == stamped


def test_the_phone_is_stored_encrypted_and_rewritten_only_when_it_changes(upsert):
    customer = CustomerFactory()
    row = CustomerUpsert(customer_id=customer.pk, values={"phone": "13800000000", "phone_hash": "h-1"})
    upsert([row], overwrite=True)
    customer.refresh_from_db()
    assert customer.phone == "13800000000"
    stamped = customer.updated_at
    upsert([row], overwrite=True)
    customer.refresh_from_db()
    assert customer.updated_at == stamped
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM customers_customer WHERE id = %s", [customer.pk])
        stored = cursor.fetchone()[0]
    assert stored and "13800000000" not in stored


def test_a_new_identity_joins_the_customer_owning_its_unionid(upsert):
    oa, mp = ChannelAccountFactory(kind="oa"), ChannelAccountFactory(kind="miniprogram")
    known = identity_resolve(account=mp, external_id="m-1", unionid="u-7")
    result = upsert([CustomerUpsert(identities=[_follower(oa, "o-7", unionid="u-7")])])
    assert result.customer_ids == [known.customer_id]
    assert result.customers_created == 0 and result.identities_created == 1


def test_a_unionid_owned_by_another_customer_merges_the_two(upsert):
    oa, mp = ChannelAccountFactory(kind="oa"), ChannelAccountFactory(kind="miniprogram")
    owner = identity_resolve(account=mp, external_id="m-1", unionid="u-9")
    follower = identity_resolve(account=oa, external_id="o-9")
    result = upsert([CustomerUpsert(identities=[_follower(oa, "o-9", unionid="u-9")])])
    assert result.customer_ids == [owner.customer_id]
    assert not Customer.objects.filter(pk=follower.customer_id).exists()
    assert CustomerMerge.objects.filter(survivor_id=owner.customer_id, merged_customer_id=follower.customer_id).exists()
    assert ChannelIdentity.objects.get(external_id="o-9").unionid == "u-9"


def test_refresh_follow_marks_known_identities_following_unless_a_newer_unfollow_is_recorded(upsert):
    oa = ChannelAccountFactory(kind="oa")
    lapsed = ChannelIdentityFactory(
        account=oa, follow_state="unfollowed", followed_at=None, unfollowed_at=timezone.now() - timedelta(days=2)
    )
    just_left = ChannelIdentityFactory(
        account=oa, follow_state="unfollowed", unfollowed_at=timezone.now() + timedelta(minutes=5)
    )
    followed = timezone.now() - timedelta(days=30)
    upsert(
        [
            CustomerUpsert(
                identities=[
                    _follower(
                        oa, lapsed.external_id, follow_state="following", followed_at=followed, subscribe_scene="qr"
                    )
                ]
            ),
            CustomerUpsert(
                identities=[_follower(oa, just_left.external_id, follow_state="following", followed_at=followed)]
            ),
        ],
        refresh_follow=True,
    )
    lapsed.refresh_from_db()
    just_left.refresh_from_db()
    assert (lapsed.follow_state, lapsed.followed_at, lapsed.subscribe_scene) == ("following", followed, "qr")
    assert just_left.follow_state == "unfollowed"


def test_without_refresh_follow_a_known_identity_is_left_alone(upsert):
    identity = ChannelIdentityFactory(follow_state="unfollowed")
    upsert([CustomerUpsert(identities=[_follower(identity.account, identity.external_id, follow_state="following")])])
    identity.refresh_from_db()
    assert identity.follow_state == "unfollowed"


def test_given_ids_create_customers_with_those_ids_and_identities_share_them(upsert):
    oa, mp = ChannelAccountFactory(kind="oa"), ChannelAccountFactory(kind="miniprogram")
    start = (Customer.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1000
    result = upsert(
        [
            CustomerUpsert(
                customer_id=start,
                values={"source": "synthetic"},
                identities=[_follower(oa, "o-s", unionid="u-s"), _follower(mp, "m-s", unionid="u-s")],
            )
        ],
        link_unionids=False,
    )
    assert result.customer_ids == [start] and result.customers_created == 1 and result.identities_created == 2
    assert set(ChannelIdentity.objects.filter(customer_id=start).values_list("external_id", flat=True)) == {
        "o-s",
        "m-s",
    }
    assert not CustomerUnionId.objects.exists()


def test_an_identity_named_twice_is_written_once_for_the_first_row(upsert):
    oa = ChannelAccountFactory(kind="oa")
    result = upsert(
        [
            CustomerUpsert(values={"display_name": "first"}, identities=[_follower(oa, "o-1")]),
            CustomerUpsert(values={"display_name": "second"}, identities=[_follower(oa, "o-1")]),
        ]
    )
    assert ChannelIdentity.objects.get(external_id="o-1").customer_id == result.customer_ids[0]
    assert result.identities_created == 1


def test_unknown_customer_fields_are_refused(upsert):
    with pytest.raises(ApplicationError) as caught:
        upsert([CustomerUpsert(values={"nickname": "x"})])
    assert caught.value.code == "customer_invalid"
