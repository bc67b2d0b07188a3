"""The WeCom staff directory (synced from the sandbox's address book, kept current by change_contact
events) and the corp-tag mirror kept current by change_external_tag events; the contact sync writes
one relationship per pair. Events are the sandbox's real XML, delivered encrypted to the view."""

from __future__ import annotations

import itertools
import time

import pytest

from customers.models import ChannelIdentity, CustomerTag, Tag
from customers.wecom.models import WeComRelation, WeComStaff
from messaging.channels.models import SyncJob, TagMirror
from messaging.channels.sync import sync_job_run
from messaging.channels.wecom_directory import staff_directory_sync

pytestmark = pytest.mark.django_db

_clock = itertools.count(int(time.time()) - 100)


@pytest.fixture
def corp(wecom_sandbox_corp):
    return wecom_sandbox_corp("wwdirectorycorp1", staff=(("alice", "Alice Wang"), ("bob", "Bob Li")))


@pytest.fixture
def corp_event(sandbox, corp, deliver):
    def post(event: str, **params):
        xml = sandbox.control.post_event(corp.app_id, event=event, create_time=next(_clock), **params)["xml"]
        deliver(corp, xml)
        return xml

    return post


def _staff(corp) -> dict[str, tuple[str, bool]]:
    return {s.userid: (s.name, s.departed) for s in WeComStaff.objects.filter(account=corp)}


def test_directory_sync_reads_the_visible_range(corp):
    assert staff_directory_sync(corp) == 2
    assert _staff(corp) == {"alice": ("Alice Wang", False), "bob": ("Bob Li", False)}
    assert staff_directory_sync(corp) == 2  # again: the same rows
    assert WeComStaff.objects.filter(account=corp).count() == 2


def test_change_contact_events_keep_the_directory_current(sandbox, corp, corp_event, api_client):
    staff_directory_sync(corp)
    sandbox.control.add_external_contact(corp.app_id, "alice", "wm-1")
    corp_event("change_external_contact", change_type="add_external_contact", staff_userid="alice", external_userid="wm-2")
    corp_event("create_user", userid="carol", name="Carol Zhao")
    corp_event("update_user", userid="bob", name="Bob Li (Sales)")
    corp_event("update_user", userid="alice", new_userid="alice.wang")
    corp_event("delete_user", userid="bob")
    assert _staff(corp) == {"alice.wang": ("Alice Wang", False), "bob": ("Bob Li (Sales)", True), "carol": ("Carol Zhao", False)}
    # The renamed userid is renamed on its relationships and as the owner.
    identity = ChannelIdentity.objects.get(account=corp, external_id="wm-2")
    assert list(WeComRelation.objects.filter(identity=identity).values_list("staff_userid", flat=True)) == ["alice.wang"]
    assert identity.owner_staff_id == "alice.wang"
    relations = api_client.get(f"/api/v1/customers/{identity.customer_id}/").json()["wecom_relations"]
    assert [(r["staff_userid"], r["staff_name"], r["staff_departed"]) for r in relations] == [("alice.wang", "Alice Wang", False)]


def test_departed_staff_are_flagged_on_their_relationships(sandbox, corp, corp_event, api_client):
    staff_directory_sync(corp)
    corp_event("change_external_contact", change_type="add_external_contact", staff_userid="bob", external_userid="wm-9")
    corp_event("delete_user", userid="bob")
    identity = ChannelIdentity.objects.get(account=corp, external_id="wm-9")
    [relation] = api_client.get(f"/api/v1/customers/{identity.customer_id}/").json()["wecom_relations"]
    assert (relation["staff_userid"], relation["staff_departed"], relation["state"]) == ("bob", True, "active")


def test_contact_sync_writes_one_relationship_per_pair_and_the_staff(sandbox, corp):
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    gold = client.post("externalcontact/add_corp_tag", data={"group_name": "Level", "tag": [{"name": "Gold"}]})["tag_group"]["tag"][0]["id"]
    sandbox.control.add_external_contact(corp.app_id, "alice", "wm-shared", unionid="u-shared")
    sandbox.control.add_external_contact(corp.app_id, "bob", "wm-shared")
    sandbox.control.add_external_contact(corp.app_id, "bob", "wm-solo")
    client.post("externalcontact/mark_tag", data={"userid": "bob", "external_userid": "wm-shared", "add_tag": [gold]})
    job = SyncJob.objects.create(account=corp, kind="wecom_contacts")
    assert sync_job_run(job_id=job.pk).status == "done"
    shared = ChannelIdentity.objects.get(account=corp, external_id="wm-shared")
    pairs = {r.staff_userid: r for r in WeComRelation.objects.filter(identity=shared)}
    assert set(pairs) == {"alice", "bob"} and {r.state for r in pairs.values()} == {"active"}
    assert [t["name"] for t in pairs["bob"].tags] == ["Gold"] and pairs["alice"].tags == []
    assert shared.follow_state == "following"
    assert CustomerTag.objects.get(customer_id=shared.customer_id).source == "wecom"
    assert WeComRelation.objects.filter(identity__account=corp).count() == 3
    assert _staff(corp) == {"alice": ("Alice Wang", False), "bob": ("Bob Li", False)}
    # A second sync changes nothing.
    job2 = SyncJob.objects.create(account=corp, kind="wecom_contacts")
    sync_job_run(job_id=job2.pk)
    assert WeComRelation.objects.filter(identity__account=corp).count() == 3


def test_corp_tag_events_keep_the_mirror_current(sandbox, corp, corp_event):
    corp_event("change_external_tag", change_type="create", group_name="Level", name="Gold")
    mirror = TagMirror.objects.get(account=corp)
    assert (mirror.remote_name, mirror.tag.name, mirror.tag.group.name) == ("Gold", "Gold", "WeCom · Level")
    corp_event("change_external_tag", change_type="update", id=mirror.remote_id, name="Platinum")
    assert Tag.objects.get(pk=mirror.tag_id).name == "Platinum"
    assert TagMirror.objects.get(pk=mirror.pk).remote_name == "Platinum"

    # A staff member had set it on a customer; deleting it in WeCom removes it there and here.
    corp_event("change_external_contact", change_type="add_external_contact", staff_userid="alice", external_userid="wm-t")
    corp_event("change_external_contact", change_type="edit_external_contact", staff_userid="alice", external_userid="wm-t",
               add_tags=[mirror.remote_id])
    identity = ChannelIdentity.objects.get(account=corp, external_id="wm-t")
    assert CustomerTag.objects.filter(customer_id=identity.customer_id, source="wecom").count() == 1
    corp_event("change_external_tag", change_type="delete", id=mirror.remote_id)
    assert not TagMirror.objects.filter(account=corp).exists()
    assert not CustomerTag.objects.filter(customer_id=identity.customer_id).exists()
    assert WeComRelation.objects.get(identity=identity).tags == []


def test_shuffle_pulls_tags_not_mirrored_yet(sandbox, corp, corp_event):
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    client.post("externalcontact/add_corp_tag", data={"group_name": "Interest", "tag": [{"name": "Tea"}, {"name": "Coffee"}]})
    corp_event("change_external_tag", change_type="shuffle", id="")
    assert sorted(TagMirror.objects.filter(account=corp).values_list("remote_name", flat=True)) == ["Coffee", "Tea"]


def test_two_tag_changes_in_one_second_are_two_events(corp, corp_event, sandbox, deliver):
    at = next(_clock)
    first = sandbox.control.post_event(corp.app_id, event="change_external_tag", change_type="create", group_name="G", name="A", create_time=at)["xml"]
    second = sandbox.control.post_event(corp.app_id, event="change_external_tag", change_type="create", group_name="G", name="B", create_time=at)["xml"]
    deliver(corp, first)
    deliver(corp, second)
    assert sorted(TagMirror.objects.filter(account=corp).values_list("remote_name", flat=True)) == ["A", "B"]


def test_a_departed_staff_member_stops_leading_their_shared_customers(corp, corp_event):
    staff_directory_sync(corp)
    corp_event("change_external_contact", change_type="add_external_contact", staff_userid="alice", external_userid="wm-d")
    corp_event("change_external_contact", change_type="add_external_contact", staff_userid="bob", external_userid="wm-d")
    identity = ChannelIdentity.objects.get(account=corp, external_id="wm-d")
    assert identity.owner_staff_id == "bob"
    corp_event("delete_user", userid="bob")
    identity.refresh_from_db()
    assert (identity.owner_staff_id, identity.follow_state) == ("alice", "following")
