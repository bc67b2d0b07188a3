"""The role groups seeded by migrate: a viewer reads, an operator runs campaigns but cannot approve,
a publisher approves, an admin does everything."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from campaigns.models import Campaign
from console.roles import ADMIN, OPERATOR, PUBLISHER, ROLES, VIEWER, roles_seed
from tests.factories import CampaignFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def login(client, django_user_model):
    def as_role(role: str):
        user = django_user_model.objects.create_user(f"user-{ROLES.index(role)}", password="x", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return user

    return as_role


def _action(client, name: str, campaign: Campaign) -> Campaign:
    client.post("/admin/campaigns/campaign/", {"action": name, "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    return campaign


def test_migrate_seeds_the_four_roles_and_seeding_again_changes_nothing():
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)
    assert roles_seed() == dict.fromkeys(ROLES, 0)
    admin_group = Group.objects.get(name=ADMIN)
    assert admin_group.permissions.filter(codename="view_personal_data").exists()
    assert not Group.objects.get(name=PUBLISHER).permissions.filter(codename="view_personal_data").exists()


def test_a_viewer_reads_but_cannot_add_change_or_schedule(client, login):
    login(VIEWER)
    campaign = CampaignFactory()
    tag = TagFactory(name="coffee")
    assert client.get("/admin/campaigns/campaign/").status_code == 200
    assert client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").status_code == 200
    assert client.get("/admin/campaigns/campaign/add/").status_code == 403
    assert client.post(f"/admin/customers/tag/{tag.pk}/change/", {"name": "tea", "group": tag.group_id}).status_code == 403
    tag.refresh_from_db()
    assert tag.name == "coffee"
    page = client.get("/admin/campaigns/campaign/").content.decode()
    assert 'value="schedule"' not in page and 'value="cancel"' not in page
    assert _action(client, "cancel", campaign).state == "draft"


def test_an_operator_runs_campaigns_but_cannot_approve(client, login):
    login(OPERATOR)
    assert client.get("/admin/campaigns/campaign/add/").status_code == 200
    page = client.get("/admin/campaigns/campaign/").content.decode()
    assert 'value="schedule"' in page and 'value="pause"' in page and 'value="approve"' not in page
    waiting = CampaignFactory(state="pending_approval", scheduled_at=timezone.now() + timedelta(days=1))
    assert _action(client, "approve", waiting).state == "pending_approval"
    assert _action(client, "cancel", CampaignFactory()).state == "cancelled"


def test_a_publisher_approves(client, login):
    user = login(PUBLISHER)
    assert 'value="approve"' in client.get("/admin/campaigns/campaign/").content.decode()
    waiting = CampaignFactory(state="pending_approval", scheduled_at=timezone.now() + timedelta(days=1))
    approved = _action(client, "approve", waiting)
    assert approved.state == "scheduled" and approved.approved_by == user
