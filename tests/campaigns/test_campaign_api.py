"""The operator API: CRUD, validate, preview funnel, schedule/approve, pause/resume/cancel, test send, stats."""

from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from campaigns import dispatch, services
from campaigns.models import Delivery, OperatorIdentity
from campaigns.tasks import campaign_due_plan_task
from tests.factories import CampaignFactory, ContactPolicyFactory

pytestmark = pytest.mark.django_db


def payload(account, segment, **extra):
    data = {
        "name": "Weekend sale",
        "account": account.pk,
        "message_type": "customer_service",
        "priority_class": "marketing",
        "content": {"text": "Hi {{ customer.display_name }}"},
        "segment_id": segment.pk,
    }
    data.update(extra)
    return data


def test_create_validate_preview_schedule_and_stats(api_client, plan_account, make_audience, static_segment, contact_policy, django_capture_on_commit_callbacks):
    people = make_audience(plan_account, 4)
    for _, identity in people[1:]:
        identity.last_interaction_at = timezone.now()
        identity.save()
    people[1][1].do_not_disturb = True
    people[1][1].save()
    segment = static_segment([c for c, _ in people])
    response = api_client.post("/api/v1/campaigns/", payload(plan_account, segment), format="json")
    assert response.status_code == 201, response.json()
    campaign_id = response.json()["id"]
    assert response.json()["state"] == "draft"

    response = api_client.post(f"/api/v1/campaigns/{campaign_id}/validate/")
    assert response.status_code == 200 and response.json()["sample"]

    response = api_client.get(f"/api/v1/campaigns/{campaign_id}/preview/")
    assert response.status_code == 200
    assert response.json() == {
        "audience": 4,
        "suppressed": [{"reason": "do_not_disturb", "count": 1}, {"reason": "outside_cs_window", "count": 1}],
        "held_out": 0,
        "predicted_reach": 2,
    }
    # The preview planned nothing.
    assert not Delivery.objects.filter(campaign_id=campaign_id).exists()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.post(f"/api/v1/campaigns/{campaign_id}/schedule/", {}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "scheduled"
    assert len(callbacks) == 1  # the plan task, enqueued on commit

    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_plan(campaign_id=campaign_id)
    stats = api_client.get(f"/api/v1/campaigns/{campaign_id}/stats/").json()
    assert stats["audience"] == 4 and stats["planned"] == 2
    assert stats["progress"]["counts"]["planned"] == 2
    deliveries = api_client.get(f"/api/v1/deliveries/?campaign={campaign_id}&state=planned").json()
    assert deliveries["count"] == 2


def test_bad_input_is_a_4xx_with_what_was_wrong(api_client, plan_account, static_segment):
    segment = static_segment([])
    response = api_client.post("/api/v1/campaigns/", payload(plan_account, segment, message_type="nope", content=[]), format="json")
    assert response.status_code == 400
    assert set(response.json()["detail"]) >= {"message_type", "content"}
    created = api_client.post("/api/v1/campaigns/", payload(plan_account, segment, content={"text": "{{ customer.phone }}"}), format="json")
    response = api_client.post(f"/api/v1/campaigns/{created.json()['id']}/schedule/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_campaign"
    assert "templates" in response.json()["detail"]


def test_large_audience_waits_for_an_approver(api_client, plan_account, make_audience, static_segment, django_capture_on_commit_callbacks):
    ContactPolicyFactory(approval_threshold=2)
    people = make_audience(plan_account, 3)
    campaign = CampaignFactory(account=plan_account, segment=static_segment([c for c, _ in people]))
    response = api_client.post(f"/api/v1/campaigns/{campaign.pk}/schedule/", {}, format="json")
    assert response.json()["state"] == "pending_approval"

    operator = get_user_model().objects.create_user("op", password="pw-op-123456")
    operator.user_permissions.add(*Permission.objects.filter(codename__in=["change_campaign", "view_campaign"]))
    client = APIClient()
    client.force_authenticate(operator)
    response = client.post(f"/api/v1/campaigns/{campaign.pk}/approve/")
    assert response.status_code == 403
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(f"/api/v1/campaigns/{campaign.pk}/approve/")
    assert response.status_code == 200 and response.json()["state"] == "scheduled"
    assert response.json()["approved_by"] is not None


def test_editing_is_refused_once_scheduled(api_client, plan_account, contact_policy, django_capture_on_commit_callbacks):
    campaign = CampaignFactory(account=plan_account)
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_schedule(campaign=campaign)
    response = api_client.patch(f"/api/v1/campaigns/{campaign.pk}/", {"name": "new"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "campaign_not_editable"


def test_pause_resume_cancel_through_the_api(api_client, plan_account, contact_policy, django_capture_on_commit_callbacks):
    campaign = CampaignFactory(account=plan_account, state="sending", planned_at=timezone.now())
    assert api_client.post(f"/api/v1/campaigns/{campaign.pk}/pause/").json()["state"] == "paused"
    assert api_client.post(f"/api/v1/campaigns/{campaign.pk}/pause/").status_code == 409
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert api_client.post(f"/api/v1/campaigns/{campaign.pk}/resume/").json()["state"] == "sending"
    assert callbacks  # the dispatch pumps
    assert api_client.post(f"/api/v1/campaigns/{campaign.pk}/cancel/").json()["state"] == "cancelled"


def test_recurring_campaign_creates_a_periodic_task_and_each_run_is_a_child(plan_account, make_audience, static_segment, contact_policy, django_capture_on_commit_callbacks):
    people = make_audience(plan_account, 2)
    for _, identity in people:
        identity.last_interaction_at = timezone.now()
        identity.save()
    campaign = CampaignFactory(account=plan_account, segment=static_segment([c for c, _ in people]), priority_class="transactional", recurrence="0 10 * * 1")
    services.campaign_schedule(campaign=campaign)
    task = PeriodicTask.objects.get(name=f"campaign-{campaign.pk}")
    assert task.task == "campaigns.tasks.campaign_run_recurring_task" and task.crontab.hour == "10"
    with django_capture_on_commit_callbacks(execute=False):
        first = services.campaign_run_recurring(campaign_id=campaign.pk)
        second = services.campaign_run_recurring(campaign_id=campaign.pk)
    assert first.parent_id == campaign.pk and first.state == "sending"
    assert Delivery.objects.filter(campaign=first).count() == 2 and Delivery.objects.filter(campaign=second).count() == 2
    services.campaign_pause(campaign=campaign)
    task.refresh_from_db()
    assert not task.enabled


def test_test_send_goes_only_to_the_operators_own_identity(api_client, admin_user, sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy):
    people = sandbox_followers(sandbox_oa, 3)
    mine = people[0][1]
    OperatorIdentity.objects.create(user=admin_user, identity=mine)
    campaign = CampaignFactory(
        account=sandbox_oa, segment=static_segment([c for c, _ in people]), message_type="template", priority_class="transactional",
        content={"template_id": "T1", "template_keys": ["first"], "fields": {"first": "Hi {{ customer.display_name }}"}},
    )
    response = api_client.post(f"/api/v1/campaigns/{campaign.pk}/test-send/", {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["results"][0]["status"] == "sent"
    sent = sandbox.control.sent_messages(app_id=sandbox_oa.app_id, api="template")
    assert Counter(m["touser"] for m in sent) == Counter({mine.external_id: 1})
    assert not Delivery.objects.filter(campaign=campaign).exists()
    OperatorIdentity.objects.all().delete()
    assert api_client.post(f"/api/v1/campaigns/{campaign.pk}/test-send/", {}, format="json").json()["code"] == "no_test_identity"


def test_admin_campaign_pages_render_with_progress(client, admin_user, plan_account, contact_policy):
    client.force_login(admin_user)
    campaign = CampaignFactory(account=plan_account, state="sending")
    assert client.get("/admin/campaigns/campaign/").status_code == 200
    assert client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").status_code == 200
    assert client.get(f"/admin/campaigns/campaign/{campaign.pk}/progress/").status_code == 200
    response = client.post(f"/admin/campaigns/campaign/{campaign.pk}/do/pause/")
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == "paused"
    assert dispatch.campaign_dispatch(campaign_id=campaign.pk).stopped == "paused"


def test_a_campaign_whose_planning_task_was_lost_is_planned_by_the_beat_sweep(plan_account, make_audience, static_segment, contact_policy, django_capture_on_commit_callbacks):
    people = make_audience(plan_account, 2)
    for _, identity in people:
        identity.last_interaction_at = timezone.now()
        identity.save()
    segment = static_segment([c for c, _ in people])
    campaign = CampaignFactory(account=plan_account, segment=segment, priority_class="transactional", scheduled_now=True)
    later = CampaignFactory(account=plan_account, segment=segment, priority_class="transactional", state="scheduled", scheduled_at=timezone.now() + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=False):
        campaign_due_plan_task()
        campaign_due_plan_task()
    campaign.refresh_from_db()
    later.refresh_from_db()
    assert campaign.state == "sending" and Delivery.objects.filter(campaign=campaign).count() == 2
    assert later.state == "scheduled" and not Delivery.objects.filter(campaign=later).exists()
