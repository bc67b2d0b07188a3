"""Hand-over of customers (在职继承 / 离职继承) through the API against the sandbox: submission, the
24-hour acceptance, transfer_result polling, transfer_fail events, WeCom's limits, the departed staff
member's unassigned customers, and the audit entry."""

from __future__ import annotations

import itertools
import time

import pytest

from audit.models import AuditEntry
from customers.models import ChannelIdentity
from customers.wecom.models import WeComRelation
from messaging.channels.models import WeComHandover
from messaging.channels.wecom_directory import staff_directory_sync

pytestmark = pytest.mark.django_db

_clock = itertools.count(int(time.time()) - 100)
DAY = 24 * 3600


@pytest.fixture
def corp(wecom_sandbox_corp):
    account = wecom_sandbox_corp("wwhandovercorp01", staff=("alice", "bob", "carol"))
    staff_directory_sync(account)
    return account


@pytest.fixture
def corp_event(sandbox, corp, deliver):
    def post(event: str, **params):
        xml = sandbox.control.post_event(corp.app_id, event=event, create_time=next(_clock), **params)["xml"]
        deliver(corp, xml)

    return post


@pytest.fixture
def add(corp_event):
    def make(staff: str, external: str):
        corp_event("change_external_contact", change_type="add_external_contact", staff_userid=staff, external_userid=external)

    return make


@pytest.fixture
def api(api_client, callback_celery_eager, django_capture_on_commit_callbacks):
    """POST with the on-commit tasks run (eagerly)."""

    def post(url: str, body: dict | None = None):
        with django_capture_on_commit_callbacks(execute=True):
            return api_client.post(url, body or {}, format="json")

    return post


def _pairs(corp, external) -> dict[str, str]:
    identity = ChannelIdentity.objects.get(account=corp, external_id=external)
    return dict(WeComRelation.objects.filter(identity=identity).values_list("staff_userid", "state"))


def test_on_job_hand_over_completes_after_24_hours_and_moves_the_pairs(sandbox, corp, add, api, api_client):
    add("alice", "wm-1")
    add("alice", "wm-2")
    answer = api("/api/v1/wecom/handovers/", {"account": corp.pk, "handover_userid": "alice", "takeover_userid": "bob",
                                              "transfer_message": "您好，后续由同事 Bob 为您服务"})
    assert answer.status_code == 202, answer.content
    handover = api_client.get(f"/api/v1/wecom/handovers/{answer.json()['id']}/").json()  # after the submission
    assert handover["kind"] == "on_job" and handover["items"]["waiting"] == 2
    [sent] = sandbox.control.requests("transfer_customer")
    assert sent["body"]["transfer_success_msg"].startswith("您好")

    # Within the 24 hours nothing is decided yet.
    api(f"/api/v1/wecom/handovers/{handover['id']}/poll/")
    assert api_client.get(f"/api/v1/wecom/handovers/{handover['id']}/").json()["items"]["waiting"] == 2
    sandbox.control.advance_clock(DAY + 1)
    api(f"/api/v1/wecom/handovers/{handover['id']}/poll/")
    done = api_client.get(f"/api/v1/wecom/handovers/{handover['id']}/").json()
    assert done["items"]["done"] == 2 and done["finished_at"]
    assert _pairs(corp, "wm-1") == {"alice": "transferred", "bob": "active"}
    assert ChannelIdentity.objects.get(account=corp, external_id="wm-1").owner_staff_id == "bob"
    assert AuditEntry.objects.filter(object_id=str(handover["id"]), action="add").exists()


def test_a_customer_who_refuses_stays_with_the_staff_member(sandbox, corp, add, api, corp_event):
    add("alice", "wm-r")
    handover = api("/api/v1/wecom/handovers/", {"account": corp.pk, "handover_userid": "alice", "takeover_userid": "bob"}).json()
    corp_event("change_external_contact", change_type="transfer_fail", staff_userid="bob", external_userid="wm-r",
               fail_reason="customer_refused")
    assert WeComHandover.objects.get(pk=handover["id"]).items.get().state == "customer_refused"
    assert _pairs(corp, "wm-r") == {"alice": "active"}


def test_wecom_limits_are_refused_with_a_clear_4xx_or_recorded_per_customer(sandbox, corp, add, api):
    add("alice", "wm-l")
    add("bob", "wm-b")
    too_long = api("/api/v1/wecom/handovers/", {"account": corp.pk, "handover_userid": "alice", "takeover_userid": "bob",
                                                "transfer_message": "x" * 201})
    assert too_long.status_code == 400
    stranger = api("/api/v1/wecom/handovers/", {"account": corp.pk, "handover_userid": "alice", "takeover_userid": "bob",
                                                "external_userids": ["wm-b"]})
    assert stranger.status_code == 400 and stranger.json()["code"] == "wecom_handover_invalid"
    assert stranger.json()["detail"] == {"external_userids": ["wm-b"]}
    same = api("/api/v1/wecom/handovers/", {"account": corp.pk, "handover_userid": "alice", "takeover_userid": "alice"})
    assert same.status_code == 400

    # Twice in 90 days per customer: the third transfer is refused by WeCom for that customer.
    for source, target in (("alice", "carol"), ("carol", "alice")):
        handover = api("/api/v1/wecom/handovers/", {"account": corp.pk, "handover_userid": source, "takeover_userid": target,
                                                    "external_userids": ["wm-l"]}).json()
        sandbox.control.advance_clock(DAY + 1)
        api(f"/api/v1/wecom/handovers/{handover['id']}/poll/")
        assert _pairs(corp, "wm-l")[target] == "active"
    third = api("/api/v1/wecom/handovers/", {"account": corp.pk, "handover_userid": "alice", "takeover_userid": "carol",
                                             "external_userids": ["wm-l"]}).json()
    item = WeComHandover.objects.get(pk=third["id"]).items.get()
    assert (item.state, item.errcode) == ("refused", 40129)


def test_departed_staff_customers_are_listed_and_handed_over_as_resigned(sandbox, corp, add, api, api_client, corp_event):
    add("bob", "wm-d1")
    add("bob", "wm-d2")
    corp_event("delete_user", userid="bob")
    unassigned = api_client.get(f"/api/v1/wecom/unassigned/?account={corp.pk}").json()
    assert sorted(r["external_userid"] for r in unassigned) == ["wm-d1", "wm-d2"]
    assert {r["handover_userid"] for r in unassigned} == {"bob"}
    with_notice = api("/api/v1/wecom/handovers/", {"account": corp.pk, "handover_userid": "bob", "takeover_userid": "alice",
                                                   "transfer_message": "hi"})
    assert with_notice.status_code == 400  # WeCom sends no notice for a departed member's customers
    created = api("/api/v1/wecom/handovers/", {"account": corp.pk, "handover_userid": "bob", "takeover_userid": "alice"}).json()
    handover = api_client.get(f"/api/v1/wecom/handovers/{created['id']}/").json()
    assert handover["kind"] == "resigned" and handover["items"]["waiting"] == 2
    assert [r["path"] for r in sandbox.control.requests("resigned/transfer_customer")]
    assert api_client.get(f"/api/v1/wecom/unassigned/?account={corp.pk}").json() == []
    sandbox.control.advance_clock(DAY + 1)
    api(f"/api/v1/wecom/handovers/{handover['id']}/poll/")
    assert _pairs(corp, "wm-d1") == {"bob": "transferred", "alice": "active"}


def test_unassigned_needs_a_wecom_account(api_client):
    assert api_client.get("/api/v1/wecom/unassigned/").status_code == 400
    assert api_client.get("/api/v1/wecom/unassigned/?account=999999").status_code == 400
