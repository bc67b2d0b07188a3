"""Product tags mirrored to WeChat tags and WeCom corp tags, with the platform's limits reported."""

from __future__ import annotations

import pytest

from customers.models import CustomerTag
from messaging.channels.clients import wechat_client, wecom_client
from messaging.channels.models import SyncJob, TagMirror
from messaging.channels.sync import sync_job_run
from messaging.channels.tagsync import tag_mirror_push, tags_pull
from tests.factories import ChannelIdentityFactory, TagFactory

pytestmark = pytest.mark.django_db


def _tag_customers(tag, identities):
    CustomerTag.objects.bulk_create([CustomerTag(customer_id=i.customer_id, tag=tag) for i in identities])


def test_product_tag_is_pushed_to_wechat_with_its_members(sandbox, oa_account):
    openids = sandbox.control.add_followers(oa_account.app_id, 60)
    identities = [ChannelIdentityFactory(account=oa_account, external_id=o) for o in openids]
    tag = TagFactory(name="Loyal")
    _tag_customers(tag, identities[:55])
    report = tag_mirror_push(account=oa_account, tag=tag)
    assert report["status"] == "ok" and report["added"] == 55
    remote_id = int(TagMirror.objects.get(account=oa_account, tag=tag).remote_id)
    # ≤50 openids per batchtagging call
    assert [len(r["body"]["openid_list"]) for r in sandbox.control.requests("batchtagging")] == [50, 5]
    assert sandbox.control.user(oa_account.app_id, openids[0])["tags"] == [remote_id]

    # A customer losing the tag in the product loses it on WeChat at the next push.
    CustomerTag.objects.filter(tag=tag, customer=identities[0].customer).delete()
    again = tag_mirror_push(account=oa_account, tag=tag)
    assert (again["added"], again["removed"]) == (0, 1)
    assert sandbox.control.user(oa_account.app_id, openids[0])["tags"] == []


def test_the_100_tag_limit_is_reported_not_hidden(sandbox, oa_account):
    client = wechat_client(oa_account)
    for i in range(100):
        client.tag.create(f"t{i}")
    report = tag_mirror_push(account=oa_account, tag=TagFactory(name="One too many"))
    assert report["status"] == "refused"
    assert report["errors"][0]["code"] == "wechat_tag_limit" and "100" in report["errors"][0]["message"]
    assert not TagMirror.objects.filter(account=oa_account, tag__name="One too many").exists()


def test_followers_at_20_tags_are_named_in_the_report(sandbox, oa_account):
    client = wechat_client(oa_account)
    full = [client.tag.create(f"t{i}")["id"] for i in range(20)]
    sandbox.control.add_followers(oa_account.app_id, [{"openid": "o-full", "tags": full}, {"openid": "o-free"}])
    tag = TagFactory(name="New")
    _tag_customers(tag, [ChannelIdentityFactory(account=oa_account, external_id=o) for o in ("o-full", "o-free")])
    report = tag_mirror_push(account=oa_account, tag=tag)
    assert report["status"] == "partial" and report["added"] == 1
    assert report["over_user_limit"] == ["o-full"]
    assert report["errors"][0]["code"] == "wechat_user_tag_limit"


def test_wecom_corp_tags_pull_and_push(sandbox, wecom_account):
    control = sandbox.control
    control.add_wecom_staff(wecom_account.app_id, "staff-1")
    [contact] = control.add_external_contacts(wecom_account.app_id, "staff-1", 1)
    client = wecom_client(wecom_account)
    client.external_contact.add_corp_tag(None, "Interests", None, [{"name": "Tea"}])
    assert tags_pull(account=wecom_account) == 1
    assert TagMirror.objects.get(account=wecom_account).tag.name == "Tea"

    identity = ChannelIdentityFactory(account=wecom_account, external_id=contact, owner_staff_id="staff-1")
    tag = TagFactory(name="Gold")
    _tag_customers(tag, [identity])
    report = tag_mirror_push(account=wecom_account, tag=tag)
    assert report["status"] == "ok" and report["added"] == 1
    follow = client.external_contact.get(contact)["follow_user"][0]
    assert [t["tag_name"] for t in follow["tags"]] == ["Gold"]


def test_tags_push_runs_as_a_sync_job_with_a_report(sandbox, oa_account):
    tag = TagFactory(name="Pushed")
    job = SyncJob.objects.create(account=oa_account, kind="tags_push", params={"tag_ids": [tag.pk]})
    result = sync_job_run(job_id=job.pk)
    assert result.status == "done"
    assert result.job.report["tags"][0]["status"] == "ok"


def test_tags_push_through_the_api_reports_the_platform_limit(sandbox, oa_account, api_client, celery_eager, django_capture_on_commit_callbacks):
    client = wechat_client(oa_account)
    for i in range(100):
        client.tag.create(f"t{i}")
    tag = TagFactory(name="Overflow")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/sync-jobs/", {"account": oa_account.pk, "kind": "tags_push", "tag_ids": [tag.pk]}, format="json"
        )
    assert response.status_code == 202, response.content
    job = api_client.get(f"/api/v1/sync-jobs/{response.json()['id']}/").json()
    assert job["state"] == "done"
    [tag_report] = job["report"]["tags"]
    assert tag_report["status"] == "refused" and tag_report["errors"][0]["code"] == "wechat_tag_limit"
