"""Every operator write through the console lands in the audit trail, secrets masked, and the trail
itself cannot be edited."""

import pytest
from django.contrib.auth.models import Group

from accounts.models import ChannelAccount
from audit.models import AuditEntry
from campaigns.models import Campaign
from console.roles import OPERATOR
from customers.models import Tag
from tests.factories import CampaignFactory, ChannelAccountFactory, TagFactory, TagGroupFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _entries(model: str, **filters):
    return list(AuditEntry.objects.filter(model=model, **filters).order_by("id"))


def test_change_records_who_what_before_and_after_of_changed_fields_only(admin_client, admin_user):
    group = TagGroupFactory(name="Interests")
    tag = TagFactory(name="coffee", group=group, description="old")
    response = admin_client.post(
        f"/admin/customers/tag/{tag.pk}/change/",
        {"name": "coffee lovers", "group": group.pk, "description": "old"},
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302, response.content[:2000]
    [entry] = _entries("tag", action="change")
    assert entry.user == admin_user and entry.username == admin_user.username
    assert entry.object_id == str(tag.pk) and entry.object_repr
    assert entry.changes == {"name": {"before": "coffee", "after": "coffee lovers"}}
    assert entry.ip == "10.1.2.3"


def test_add_and_delete_are_recorded_with_the_values(admin_client):
    group = TagGroupFactory(name="Interests")
    assert admin_client.post("/admin/customers/tag/add/", {"name": "tea", "group": group.pk}).status_code == 302
    tag = Tag.objects.get(name="tea")
    [added] = _entries("tag", action="add")
    assert added.changes["name"] == {"before": None, "after": "tea"}
    response = admin_client.post(f"/admin/customers/tag/{tag.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    [deleted] = _entries("tag", action="delete")
    assert deleted.object_id == str(tag.pk) and deleted.changes["name"] == {"before": "tea", "after": None}


def test_bulk_delete_records_each_object_once_and_no_action_row(admin_client):
    tags = [TagFactory(), TagFactory()]
    ids = [t.pk for t in tags]
    # The confirmation page writes nothing.
    admin_client.post("/admin/customers/tag/", {"action": "delete_selected", "_selected_action": ids})
    assert not AuditEntry.objects.exists()
    admin_client.post("/admin/customers/tag/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert sorted(e.object_id for e in _entries("tag", action="delete")) == sorted(map(str, ids))
    assert not AuditEntry.objects.filter(action="action").exists()


def test_admin_action_records_its_name_and_the_objects(admin_client):
    campaigns = [CampaignFactory(), CampaignFactory()]
    admin_client.post(
        "/admin/campaigns/campaign/", {"action": "cancel", "_selected_action": [c.pk for c in campaigns]}
    )
    [entry] = _entries("campaign", action="action")
    assert entry.action_name == "cancel"
    assert sorted(entry.detail["object_ids"]) == sorted(str(c.pk) for c in campaigns) and entry.detail["count"] == 2
    assert sorted(entry.detail["object_names"]) == sorted(c.name for c in campaigns)


def test_secrets_are_never_stored_only_that_they_changed(admin_client):
    account = ChannelAccountFactory(app_secret="a" * 32)
    data = {
        "kind": "oa", "name": account.name, "app_id": account.app_id, "agent_id": "", "is_active": "on",
        "app_secret": "b" * 32, "token": "", "encoding_aes_key": "", "encrypt_mode": account.encrypt_mode,
        "api_base_url": "", "timezone": account.timezone, "rate_limit_per_second": account.rate_limit_per_second,
        "daily_quota": account.daily_quota or "", "template_daily_quota": account.template_daily_quota,
    }
    response = admin_client.post(f"/admin/accounts/channelaccount/{account.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ChannelAccount.objects.get(pk=account.pk).app_secret == "b" * 32
    [entry] = _entries("channelaccount", action="change")
    assert entry.changes["app_secret"] == {"before": "<set>", "after": "<changed>"}
    stored = str(AuditEntry.objects.values("changes", "detail", "message").get(pk=entry.pk))
    assert "a" * 32 not in stored and "b" * 32 not in stored and account.token not in stored


def test_custom_views_logging_a_change_are_recorded(rf, admin_user):
    from django.contrib import admin as django_admin

    campaign = CampaignFactory()
    request = rf.post("/", REMOTE_ADDR="10.9.9.9")
    request.user = admin_user
    django_admin.site._registry[Campaign].log_change(request, campaign, "Scheduled from the wizard")
    [entry] = _entries("campaign")
    assert entry.action == "change" and entry.message == "Scheduled from the wizard" and entry.ip == "10.9.9.9"


def test_api_writes_by_operators_are_recorded(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    group = api_client.post("/api/v1/tag-groups/", {"name": "From the API"}, format="json")
    assert group.status_code == 201, group.content
    [entry] = list(AuditEntry.objects.filter(action="api"))
    assert entry.username == admin_user.username and entry.message == "POST /api/v1/tag-groups/"
    assert entry.model == "taggroup" and entry.object_id == str(group.json()["id"])


def test_the_audit_log_is_listed_filtered_and_cannot_be_changed_or_deleted(admin_client, admin_user):
    tag = TagFactory(name="coffee")
    admin_client.post(f"/admin/customers/tag/{tag.pk}/change/", {"name": "tea", "group": tag.group_id})
    entry = AuditEntry.objects.get()
    page = admin_client.get("/admin/audit/auditentry/", {"q": str(tag.pk)}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200 and "审计日志" in page.content.decode()
    assert "已修改 名称。" in page.content.decode()  # the summary names the changed field in Chinese
    assert f"/admin/audit/auditentry/{entry.pk}/change/" in page.content.decode()
    detail = admin_client.get(f"/admin/audit/auditentry/{entry.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "coffee" in detail.content.decode() and "tea" in detail.content.decode()
    for filters in ({"action__exact": "change"}, {"user__id__exact": admin_user.pk}, {"model": "tag"},
                    {"created_at__year": "2026"}):
        assert admin_client.get("/admin/audit/auditentry/", filters).status_code == 200
    assert admin_client.post(f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.post(f"/admin/audit/auditentry/{entry.pk}/change/", {"message": "x"}).status_code == 403
    assert admin_client.get("/admin/audit/auditentry/add/").status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk, message="").exists()


def test_an_operator_without_view_permission_on_the_log_cannot_open_it(client, django_user_model):
    user = django_user_model.objects.create_user("op", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATOR))
    client.force_login(user)
    assert client.get("/admin/audit/auditentry/").status_code == 403
