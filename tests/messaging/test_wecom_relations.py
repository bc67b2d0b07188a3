"""WeCom relationships: one row per (external contact, staff member), driven by real-format
change_external_contact events (made by the sandbox from the user action, posted encrypted to the
callback view, processed by the task) and the sandbox's externalcontact/get."""

from __future__ import annotations

import importlib
import itertools
import time

import pytest
from django.db import connection
from django.db.migrations.state import ProjectState

from customers.models import ChannelIdentity, CustomerTag, EngagementEvent
from customers.wecom.models import WeComRelation
from messaging.channels.wecom import group_message_reports_dispatch
from messaging.sandbox.registration import sandbox_register_account
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory

pytestmark = pytest.mark.django_db

_clock = itertools.count(int(time.time()) - 200)


@pytest.fixture
def corp(sandbox, callback_receiver):
    account = ChannelAccountFactory(
        kind="wecom", app_id="wwrelationcorp01", encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        api_base_url=sandbox.base_url, encrypt_mode="safe",
    )
    sandbox_register_account(account)
    sandbox.control.app_settings(account.app_id, callback_url=callback_receiver.url)
    for staff in ("alice", "bob"):
        sandbox.control.add_wecom_staff(account.app_id, staff)
    return account


@pytest.fixture
def wecom_event(sandbox, corp, deliver):
    """wecom_event(change, staff, external, **params): the user action in the sandbox, and its
    event XML (as WeCom renders it) delivered encrypted to the callback view."""

    def post(change: str, staff: str, external: str, *, at: int | None = None, **params):
        at = at or next(_clock)
        xml = sandbox.control.post_event(
            corp.app_id, event=change, staff_userid=staff, external_userid=external, create_time=at, **params
        )["xml"]
        deliver(corp, xml)
        return xml

    return post


def _identity(corp, external) -> ChannelIdentity:
    return ChannelIdentity.objects.get(account=corp, external_id=external)


def _pairs(identity) -> dict[str, str]:
    return dict(WeComRelation.objects.filter(identity=identity).values_list("staff_userid", "state"))


def _gold_tag(sandbox, corp) -> str:
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    group = client.post("externalcontact/add_corp_tag", data={"group_name": "Level", "tag": [{"name": "Gold"}]})
    return group["tag_group"]["tag"][0]["id"]


def test_a_customer_shared_by_two_staff_stays_reachable_when_one_deletes_them(sandbox, corp, wecom_event, api_client):
    wecom_event("add_external_contact", "alice", "wm-lin", unionid="u-lin", name="Lin")
    wecom_event("add_external_contact", "bob", "wm-lin")
    identity = _identity(corp, "wm-lin")
    assert _pairs(identity) == {"alice": "active", "bob": "active"}
    assert identity.follow_state == "following"
    assert identity.owner_staff_id == "bob"  # the latest interaction: bob added the customer last
    assert ChannelIdentity.objects.filter(account=corp).count() == 1

    # alice edits the customer in the WeCom client (a remark and a corp tag): no owner change.
    gold = _gold_tag(sandbox, corp)
    wecom_event("edit_external_contact", "alice", "wm-lin", remark="Lin (VIP)", remark_mobiles=["13800000000"], add_tags=[gold])
    identity.refresh_from_db()
    assert identity.owner_staff_id == "bob"
    alice = WeComRelation.objects.get(identity=identity, staff_userid="alice")
    assert (alice.remark, alice.remark_mobiles, [t["name"] for t in alice.tags]) == ("Lin (VIP)", ["13800000000"], ["Gold"])
    link = CustomerTag.objects.select_related("tag").get(customer_id=identity.customer_id)
    assert (link.tag.name, link.source) == ("Gold", "wecom")

    # bob deletes the customer: only bob's pair ends; the customer is still reachable through alice.
    wecom_event("del_external_contact", "bob", "wm-lin")
    identity.refresh_from_db()
    assert _pairs(identity) == {"alice": "active", "bob": "deleted_by_staff"}
    assert identity.follow_state == "following"
    assert identity.owner_staff_id == "alice"
    types = list(EngagementEvent.objects.filter(customer_id=identity.customer_id).order_by("id").values_list("event_type", flat=True))
    assert types == ["wecom.add_contact", "wecom.add_staff", "wecom.edit_contact", "wecom.del_staff"]

    answer = api_client.get(f"/api/v1/customers/{identity.customer_id}/").json()
    relations = {r["staff_userid"]: r for r in answer["wecom_relations"]}
    assert relations["alice"]["state"] == "active" and relations["alice"]["remark"] == "Lin (VIP)"
    assert [t["name"] for t in relations["alice"]["tags"]] == ["Gold"]
    assert relations["bob"]["state"] == "deleted_by_staff"
    assert relations["alice"]["added_at"] and relations["alice"]["last_interaction_at"]

    # Then the customer deletes alice: no pair left, the customer is no longer reachable on WeCom
    # and the tag that only alice's pair carried leaves.
    wecom_event("del_follow_user", "alice", "wm-lin")
    identity.refresh_from_db()
    assert _pairs(identity) == {"alice": "deleted_by_customer", "bob": "deleted_by_staff"}
    assert identity.follow_state == "unfollowed"
    assert not CustomerTag.objects.filter(customer_id=identity.customer_id).exists()
    assert EngagementEvent.objects.filter(customer_id=identity.customer_id, event_type="wecom.del_contact").count() == 1


def test_tags_removed_in_the_client_leave_but_other_sources_stay(sandbox, corp, wecom_event):
    gold = _gold_tag(sandbox, corp)
    wecom_event("add_external_contact", "alice", "wm-t")
    wecom_event("edit_external_contact", "alice", "wm-t", add_tags=[gold])
    identity = _identity(corp, "wm-t")
    link = CustomerTag.objects.get(customer_id=identity.customer_id)
    CustomerTag.objects.filter(pk=link.pk).update(source="manual")  # an operator assigned it too
    wecom_event("edit_external_contact", "alice", "wm-t", remove_tags=[gold])
    assert CustomerTag.objects.filter(customer_id=identity.customer_id, source="manual").count() == 1
    assert WeComRelation.objects.get(identity=identity).tags == []


def test_half_added_contact_is_reachable_and_becomes_full_when_the_staff_adds_back(corp, wecom_event):
    wecom_event("add_half_external_contact", "alice", "wm-half")
    identity = _identity(corp, "wm-half")
    relation = WeComRelation.objects.get(identity=identity)
    assert (relation.state, relation.half, identity.follow_state) == ("active", True, "following")
    wecom_event("add_external_contact", "alice", "wm-half")
    relation.refresh_from_db()
    assert (relation.state, relation.half) == ("active", False)


def test_an_older_add_arriving_after_a_newer_delete_changes_nothing(corp, wecom_event):
    first = next(_clock)
    wecom_event("add_external_contact", "alice", "wm-late", at=first)
    wecom_event("del_follow_user", "alice", "wm-late", at=first + 20)
    wecom_event("add_external_contact", "alice", "wm-late", at=first + 10)  # WeCom's retry, late
    identity = _identity(corp, "wm-late")
    assert _pairs(identity) == {"alice": "deleted_by_customer"}
    assert identity.follow_state == "unfollowed"


def test_a_removal_by_hand_over_marks_the_pair_transferred(corp, wecom_event):
    wecom_event("add_external_contact", "alice", "wm-x")
    wecom_event("del_external_contact", "alice", "wm-x", source="DELETE_BY_TRANSFER")
    assert _pairs(_identity(corp, "wm-x")) == {"alice": "transferred"}


def test_a_repeated_event_is_applied_once(corp, wecom_event, deliver):
    xml = wecom_event("add_external_contact", "alice", "wm-r")
    deliver(corp, xml)
    identity = _identity(corp, "wm-r")
    assert WeComRelation.objects.filter(identity=identity).count() == 1
    assert EngagementEvent.objects.filter(customer_id=identity.customer_id).count() == 1


def test_transfer_fail_is_recorded_and_leaves_the_pair(corp, wecom_event):
    wecom_event("add_external_contact", "alice", "wm-tf")
    wecom_event("transfer_fail", "bob", "wm-tf", fail_reason="customer_refused")
    identity = _identity(corp, "wm-tf")
    assert _pairs(identity) == {"alice": "active"}
    event = EngagementEvent.objects.get(customer_id=identity.customer_id, event_type="wecom.transfer_fail")
    assert event.properties == {"takeover": "bob", "reason": "customer_refused"}


def test_data_migration_turns_the_single_owner_into_a_relationship(db):
    corp = ChannelAccountFactory(kind="wecom")
    following = ChannelIdentityFactory(account=corp, external_id="wm-f", follow_state="following", owner_staff_id="zhang")
    gone = ChannelIdentityFactory(account=corp, external_id="wm-g", follow_state="unfollowed", owner_staff_id="li")
    EngagementEvent.objects.create(customer=gone.customer, account=corp, event_type="wecom.del_contact", properties={"removed_by": "staff"})
    ChannelIdentityFactory(account=corp, external_id="wm-n", follow_state="following", owner_staff_id="")
    migration = importlib.import_module("customers.migrations.0015_wecom_relations_from_owner")
    with connection.schema_editor() as editor:
        migration.relations_from_owner(ProjectState().apps, editor)
        migration.relations_from_owner(ProjectState().apps, editor)  # a second run adds nothing
    assert dict(WeComRelation.objects.values_list("identity__external_id", "staff_userid")) == {"wm-f": "zhang", "wm-g": "li"}
    assert WeComRelation.objects.get(identity=following).state == "active"
    assert WeComRelation.objects.get(identity=gone).state == "deleted_by_staff"


def test_a_delivered_group_message_makes_its_sender_the_latest_interaction(sandbox, corp, wecom_event):
    wecom_event("add_external_contact", "alice", "wm-g")
    wecom_event("add_external_contact", "bob", "wm-g")
    identity = _identity(corp, "wm-g")
    assert identity.owner_staff_id == "bob"
    sandbox.control.set_last_chat(corp.app_id, "wm-g", "alice")
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    task = client.external_contact.add_msg_template({"chat_type": "single", "sender": "alice", "external_userid": ["wm-g"],
                                                      "text": {"content": "hi"}})
    sandbox.control.advance_clock(5)
    sandbox.control.confirm_group_task(corp.app_id, task["msgid"])
    assert group_message_reports_dispatch(corp, msgid=task["msgid"]) == {"delivered": 1}
    identity.refresh_from_db()
    assert identity.owner_staff_id == "alice"
