"""Importing followers and external contacts from the sandbox: resumable, idempotent, set-based."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import ChannelIdentity, Customer, CustomerTag, CustomerUnionId
from messaging.channels import sync
from messaging.channels.clients import wechat_client
from messaging.channels.models import SyncJob, TagMirror
from messaging.channels.services import sync_job_start
from messaging.channels.sync import sync_job_run
from messaging.channels.tasks import sync_job_run_task, sync_jobs_sweep_task
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory

pytestmark = pytest.mark.django_db


def _start(account, kind="oa_followers", **kwargs):
    return SyncJob.objects.create(account=account, kind=kind, **kwargs)


def test_follower_import_interrupted_and_resumed_has_every_follower_once(sandbox, oa_account):
    control = sandbox.control
    openids = control.add_followers(oa_account.app_id, 25_000, unionid_prefix="u-")
    # Someone already known through the mini-program, by unionid: the follower joins that customer.
    mp = ChannelAccountFactory(kind="miniprogram")
    known = ChannelIdentityFactory(account=mp, external_id="mp-x", unionid="u-0000007")
    CustomerUnionId.objects.create(unionid="u-0000007", customer=known.customer)
    # And a follower the product met before the import (a callback), without unionid yet.
    met = ChannelIdentityFactory(account=oa_account, external_id=openids[12_345], follow_state="unknown")
    job = _start(oa_account)

    first = sync_job_run(job_id=job.pk, max_pages=1)
    assert first.status == "more" and first.job.processed == 10_000 and first.job.total == 25_000

    control.set_faults(rate_busy=1.0, paths=["user/info/batchget"])
    interrupted = sync_job_run(job_id=job.pk)
    assert interrupted.status == "paused" and interrupted.job.state == "paused"
    assert interrupted.job.last_error.startswith("-1")
    assert interrupted.job.processed == 10_000

    control.reset_faults()
    with CaptureQueriesContext(connection) as queries:
        resumed = sync_job_run(job_id=job.pk)
    assert resumed.status == "done" and resumed.job.state == "done"
    assert resumed.job.processed == 25_000

    identities = ChannelIdentity.objects.filter(account=oa_account)
    assert identities.count() == 25_000
    assert set(identities.values_list("external_id", flat=True)) == set(openids)
    assert identities.filter(follow_state="following").count() == 25_000
    assert identities.exclude(unionid="").count() == 25_000
    # One customer per person: 25,000 followers, of whom one was already the mini-program user.
    assert Customer.objects.count() == 25_000
    assert identities.get(external_id=openids[7]).customer_id == known.customer_id
    met.refresh_from_db()
    assert (met.follow_state, met.unionid) == ("following", "u-0012345")
    # Set-based: 15,000 followers imported with a few dozen INSERTs, not one per follower.
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) < 60

    # Running it again (a duplicate task) does nothing.
    assert sync_job_run(job_id=job.pk).status == "done"
    assert ChannelIdentity.objects.filter(account=oa_account).count() == 25_000


def test_a_second_import_creates_nothing_new(sandbox, oa_account):
    sandbox.control.add_followers(oa_account.app_id, 250, unionid_prefix="u-")
    sync_job_run(job_id=_start(oa_account).pk)
    again = sync_job_run(job_id=_start(oa_account).pk)
    assert again.status == "done" and again.job.created_count == 0 and again.job.processed == 250
    assert ChannelIdentity.objects.count() == Customer.objects.count() == 250


def test_follower_import_mirrors_wechat_tags_and_members(sandbox, oa_account):
    client = wechat_client(oa_account)
    vip = client.tag.create("VIP")["id"]
    sandbox.control.add_followers(oa_account.app_id, [{"openid": "o-a", "tags": [vip]}, {"openid": "o-b"}])
    sync_job_run(job_id=_start(oa_account).pk)
    mirror = TagMirror.objects.get(account=oa_account, remote_id=str(vip))
    assert mirror.tag.name == "VIP"
    tagged = CustomerTag.objects.filter(tag=mirror.tag).values_list("customer__identities__external_id", flat=True)
    assert list(tagged) == ["o-a"]
    assert CustomerTag.objects.get(tag=mirror.tag).source == "wechat_sync"


def test_wecom_contacts_import_per_staff_member(sandbox, wecom_account, monkeypatch):
    control = sandbox.control
    for staff in ("staff-a", "staff-b"):
        control.add_wecom_staff(wecom_account.app_id, staff)
    a = control.add_external_contacts(wecom_account.app_id, "staff-a", 3, unionid_prefix="wu-")
    b = control.add_external_contacts(wecom_account.app_id, "staff-b", 2)
    # A customer both staff members know is one identity.
    control.add_external_contact(wecom_account.app_id, "staff-b", a[0])
    monkeypatch.setattr(sync, "ROWS_PER_STEP", 2)
    monkeypatch.setattr(sync, "BATCH_LIMIT", 2)
    job = _start(wecom_account, kind="wecom_contacts")
    first = sync_job_run(job_id=job.pk, max_pages=1)
    assert first.status == "more" and first.job.processed == 2
    result = sync_job_run(job_id=job.pk)
    assert result.status == "done"
    identities = ChannelIdentity.objects.filter(account=wecom_account)
    assert set(identities.values_list("external_id", flat=True)) == {*a, *b}
    assert identities.get(external_id=a[1]).owner_staff_id == "staff-a"
    assert identities.get(external_id=b[0]).owner_staff_id == "staff-b"
    assert identities.get(external_id=a[2]).unionid.startswith("wu-")
    assert Customer.objects.count() == 5
    assert result.job.processed == 6  # pairs: a[0] is listed for both staff members


def test_wecom_contacts_import_reads_pages_of_staff_members_in_batches(sandbox, wecom_account):
    """batch/get_by_user: at most 100 staff members a call and 100 pairs a page (page 92994); a
    customer of three staff members is one customer with three relationships."""
    control = sandbox.control
    staff = [f"s{i:03d}" for i in range(130)]
    for member in staff:
        control.add_wecom_staff(wecom_account.app_id, member)
    shared = control.add_external_contacts(wecom_account.app_id, "s000", 40, also_staff=["s001", "s129"])
    single = control.add_external_contacts(wecom_account.app_id, "s129", 150)
    result = sync_job_run(job_id=_start(wecom_account, kind="wecom_contacts").pk)
    assert result.status == "done" and result.job.processed == 40 * 3 + 150
    assert ChannelIdentity.objects.filter(account=wecom_account).count() == Customer.objects.count() == 190
    identity = ChannelIdentity.objects.get(external_id=shared[5])
    assert set(identity.wecom_relations.values_list("staff_userid", flat=True)) == {"s000", "s001", "s129"}
    assert ChannelIdentity.objects.get(external_id=single[0]).owner_staff_id == "s129"
    calls = [r["path"] for r in control.requests(app_id=wecom_account.app_id)]
    assert not any(p.endswith("externalcontact/get") for p in calls)
    # 130 staff members: two lists (100 + 30); pages of at most 100 pairs.
    batch = [r for r in control.requests(app_id=wecom_account.app_id) if r["path"].endswith("batch/get_by_user")]
    assert {len(r["body"]["userid_list"]) for r in batch} == {100, 30}
    assert all(r["body"]["limit"] == 100 for r in batch)


def test_sandbox_batch_get_by_user_keeps_wecom_limits(sandbox, wecom_account):
    control = sandbox.control
    client = sandbox.wecom_client(wecom_account.app_id, wecom_account.app_secret)
    control.add_wecom_staff(wecom_account.app_id, "a")
    control.add_external_contacts(wecom_account.app_id, "a", 130)
    # limit above 100 is taken as 100; the default is 50.
    page = client.post("externalcontact/batch/get_by_user", data={"userid_list": ["a"], "limit": 500})
    assert len(page["external_contact_list"]) == 100 and page["next_cursor"]
    assert "tag_id" in page["external_contact_list"][0]["follow_info"]
    rest = client.post("externalcontact/batch/get_by_user", data={"userid_list": ["a"], "cursor": page["next_cursor"]})
    assert len(rest["external_contact_list"]) == 30 and rest["next_cursor"] == ""
    assert len(client.post("externalcontact/batch/get_by_user", data={"userid_list": ["a"]})["external_contact_list"]) == 50
    for body, code in (({"userid_list": [f"x{i}" for i in range(101)]}, 40058), ({"userid_list": ["nobody"]}, 60111),
                       ({"userid_list": ["a"], "cursor": "garbage"}, 40058)):
        with pytest.raises(Exception) as error:
            client.post("externalcontact/batch/get_by_user", data=body)
        assert getattr(error.value, "errcode", None) == code


def test_sync_job_api_starts_a_job_and_reports_progress(sandbox, oa_account, api_client, celery_eager, django_capture_on_commit_callbacks):
    sandbox.control.add_followers(oa_account.app_id, 120)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/sync-jobs/", {"account": oa_account.pk, "kind": "oa_followers"}, format="json")
    assert response.status_code == 202, response.content
    progress = api_client.get(f"/api/v1/sync-jobs/{response.json()['id']}/").json()
    assert progress["state"] == "done" and progress["processed"] == 120 and progress["progress"] == 1.0
    assert ChannelIdentity.objects.filter(account=oa_account).count() == 120


def test_sync_job_api_refuses_a_kind_that_does_not_fit_the_account(oa_account, api_client):
    response = api_client.post("/api/v1/sync-jobs/", {"account": oa_account.pk, "kind": "wecom_contacts"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "sync_bad_account"


def test_starting_a_sync_twice_returns_the_open_job(oa_account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = sync_job_start(account=oa_account, kind="oa_followers")
        second = sync_job_start(account=oa_account, kind="oa_followers")
    assert first.pk == second.pk


def test_sync_task_runs_to_the_end_and_a_second_run_does_nothing(sandbox, oa_account, celery_eager):
    sandbox.control.add_followers(oa_account.app_id, 30)
    job = _start(oa_account)
    assert sync_job_run_task.delay(job.pk).get() == "done"
    assert sync_job_run_task.delay(job.pk).get() == "skipped"
    assert ChannelIdentity.objects.filter(account=oa_account).count() == 30


def test_sweeper_re_enqueues_a_job_whose_worker_was_lost(sandbox, oa_account, celery_eager):
    sandbox.control.add_followers(oa_account.app_id, 20)
    lost = _start(oa_account, state="running", lease_until=timezone.now() - timedelta(minutes=1))
    SyncJob.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    fresh = _start(oa_account, kind="tags_push")
    assert sync_jobs_sweep_task.delay().get() == 1
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.state == "done" and fresh.state == "pending"
