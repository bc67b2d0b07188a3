"""The WeCom contact sync's set-based writer against the sandbox: a second sync writes nothing, an
event that arrives between a page's fetch and its write is kept, a contact whose unionid a customer
already owns joins that customer. Events are the sandbox's real XML, delivered encrypted."""

from __future__ import annotations

import time

import pytest

from customers.models import ChannelIdentity, Customer, CustomerUnionId
from customers.wecom.models import WeComRelation
from messaging.channels import sync
from messaging.channels.models import SyncJob
from messaging.channels.sync import sync_job_run
from tests.factories import ChannelIdentityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def corp(wecom_sandbox_corp):
    return wecom_sandbox_corp("wwcontactsync001", staff=("alice", "bob"))


def _sync(corp) -> SyncJob:
    result = sync_job_run(job_id=SyncJob.objects.create(account=corp, kind="wecom_contacts").pk)
    assert result.status == "done"
    return result.job


def _rows(corp) -> dict[str, list]:
    identities = ChannelIdentity.objects.filter(account=corp)
    return {
        "customers": sorted(Customer.objects.filter(identities__account=corp).values_list("id", "updated_at")),
        "identities": sorted(identities.values_list("id", "customer_id", "owner_staff_id", "follow_state", "updated_at")),
        "pairs": sorted(WeComRelation.objects.filter(identity__account=corp).values_list("id", "state", "updated_at")),
    }


def test_a_second_sync_creates_and_rewrites_nothing(sandbox, corp):
    sandbox.control.add_external_contact(corp.app_id, "alice", "wm-shared", unionid="u-shared")
    sandbox.control.add_external_contact(corp.app_id, "bob", "wm-shared")
    sandbox.control.add_external_contacts(corp.app_id, "bob", 30, also_staff=["alice"])
    first = _sync(corp)
    assert first.created_count == 31 and first.processed == 62
    before = _rows(corp)
    assert len(before["customers"]) == 31 and len(before["pairs"]) == 62
    second = _sync(corp)
    assert second.created_count == 0 and second.processed == 62
    assert _rows(corp) == before  # not one row written again: the same ids and updated_at


def test_an_event_arriving_while_a_step_is_written_is_kept(sandbox, corp, deliver, monkeypatch):
    sandbox.control.add_external_contact(corp.app_id, "alice", "wm-lin")
    sandbox.control.add_external_contact(corp.app_id, "bob", "wm-lin")
    _sync(corp)
    write = sync.contacts_step_write

    def customer_deletes_alice_then_write(*args, **kwargs):
        # The pages were fetched (both pairs listed); the customer deletes alice before the step is written.
        xml = sandbox.control.post_event(corp.app_id, event="del_follow_user", staff_userid="alice",
                                         external_userid="wm-lin", create_time=int(time.time()))["xml"]  # fmt: skip
        deliver(corp, xml)
        return write(*args, **kwargs)

    monkeypatch.setattr(sync, "contacts_step_write", customer_deletes_alice_then_write)
    _sync(corp)
    identity = ChannelIdentity.objects.get(account=corp, external_id="wm-lin")
    pairs = dict(WeComRelation.objects.filter(identity=identity).values_list("staff_userid", "state"))
    assert pairs == {"alice": "deleted_by_customer", "bob": "active"}
    assert (identity.follow_state, identity.owner_staff_id) == ("following", "bob")


def test_a_contact_whose_unionid_a_customer_owns_joins_that_customer(sandbox, corp):
    follower = ChannelIdentityFactory(unionid="u-known")
    CustomerUnionId.objects.create(unionid="u-known", customer=follower.customer)
    sandbox.control.add_external_contact(corp.app_id, "alice", "wm-known", unionid="u-known")
    sandbox.control.add_external_contact(corp.app_id, "bob", "wm-new", unionid="u-new")
    customers = Customer.objects.count()
    assert _sync(corp).created_count == 2
    assert ChannelIdentity.objects.get(account=corp, external_id="wm-known").customer_id == follower.customer_id
    new = ChannelIdentity.objects.get(account=corp, external_id="wm-new")
    assert Customer.objects.count() == customers + 1
    assert CustomerUnionId.objects.get(unionid="u-new").customer_id == new.customer_id
    assert (new.unionid, new.owner_staff_id, new.follow_state) == ("u-new", "bob", "following")


def test_a_known_identity_whose_unionid_another_customer_owns_is_merged(sandbox, corp):
    # Known from an event before its unionid was (no unionid), the person is a follower elsewhere.
    follower = ChannelIdentityFactory(unionid="u-same")
    CustomerUnionId.objects.create(unionid="u-same", customer=follower.customer)
    known = ChannelIdentityFactory(account=corp, kind=corp.identity_kind, external_id="wm-same", unionid="")
    sandbox.control.add_external_contact(corp.app_id, "alice", "wm-same", unionid="u-same")
    assert _sync(corp).created_count == 0
    known.refresh_from_db()
    assert (known.customer_id, known.unionid, known.owner_staff_id) == (follower.customer_id, "u-same", "alice")
