"""Starting a WeCom hand-over from the console (the admin's add form, through Django's test client):
which customers (all, a segment, a pasted list), on-job or resigned, the notice, clear errors, the
audit entry; and beat's periodic transfer_result poll against the sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from audit.models import AuditEntry
from messaging.channels.handover import handovers_poll_due
from messaging.channels.models import WeComHandover
from messaging.channels.tasks import handovers_poll_due_task
from scrm.celery import app as celery_app
from tests.factories import CustomerFactory, SegmentFactory
from tests.messaging.test_wecom_handover import DAY, _pairs, add, corp, corp_event  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

ADD = "/admin/messaging/wecomhandover/add/"


def operator(*codenames: str) -> Client:
    user = get_user_model().objects.create_user(f"op{get_user_model().objects.count()}", password="pw-operator-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="messaging", codename__in=codenames))
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def console(callback_celery_eager, django_capture_on_commit_callbacks):
    client = operator("add_wecomhandover", "view_wecomhandover")

    def post(data: dict, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(ADD, data, **headers)

    post.client = client
    return post


def form(account, **fields):
    data = {"account": account.pk, "kind": "on_job", "handover_userid": "alice", "takeover_userid": "bob", "customers": "all",
            "segment": "", "external_userids": "", "transfer_message": ""}
    data.update(fields)
    return data


def test_the_form_starts_an_audited_hand_over_of_all_a_list_or_a_segment(sandbox, corp, add, console):  # noqa: F811
    for external in ("wm-1", "wm-2", "wm-3"):
        add("alice", external)
    page = console.client.get(ADD, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200 and "转接" in page.content.decode()

    # A pasted list (any separator), with the notice.
    response = console(form(corp, customers="list", external_userids="wm-1,\nwm-2", transfer_message="您好，后续由 Bob 为您服务"))
    assert response.status_code == 302, response.content.decode()[:2000]
    listed = WeComHandover.objects.get()
    assert response["Location"].endswith(f"/admin/messaging/wecomhandover/{listed.pk}/change/")
    assert sorted(listed.items.values_list("external_userid", "state")) == [("wm-1", "waiting"), ("wm-2", "waiting")]
    [sent] = sandbox.control.requests("transfer_customer")
    assert sent["body"]["transfer_success_msg"].startswith("您好")
    entry = AuditEntry.objects.get(object_id=str(listed.pk), action="add")
    assert entry.user == console.client.user

    # A segment: only its members who are alice's active contacts.
    corp_customers = {i.external_id: i.customer for i in corp_identities(corp)}
    segment = SegmentFactory(members=[corp_customers["wm-3"], CustomerFactory()])
    assert console(form(corp, customers="segment", segment=segment.pk, takeover_userid="carol")).status_code == 302
    assert list(WeComHandover.objects.get(takeover_userid="carol").items.values_list("external_userid", flat=True)) == ["wm-3"]

    # All: every active customer of the staff member (after the transfers above complete).
    sandbox.control.advance_clock(DAY + 1)
    handovers_poll_due()
    assert console(form(corp, handover_userid="bob", takeover_userid="alice")).status_code == 302
    assert sorted(WeComHandover.objects.get(handover_userid="bob").items.values_list("external_userid", flat=True)) == ["wm-1", "wm-2"]


@pytest.mark.parametrize(
    ("fields", "field", "expected"),
    [
        ({"takeover_userid": "alice"}, "takeover_userid", "请选择另一位成员"),
        ({"takeover_userid": "nobody"}, "takeover_userid", "不在企业的成员通讯录中"),
        ({"customers": "segment"}, "segment", "请选择分群"),
        ({"customers": "list"}, "external_userids", "请至少粘贴一个"),
        ({"kind": "resigned", "transfer_message": "hi"}, "transfer_message", "离职成员的客户"),
        ({"transfer_message": "x" * 201}, "transfer_message", "200"),
        # Checked by the service: the directory says alice is still serving.
        ({"kind": "resigned"}, None, "尚未离职"),
        ({"customers": "list", "external_userids": "wm-1 wm-stranger"}, None, "wm-stranger"),
    ],
)
def test_problems_are_clear_form_errors_in_chinese_and_start_nothing(corp, add, console, fields, field, expected):  # noqa: F811
    add("alice", "wm-1")
    response = console(form(corp, **fields), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert expected in " ".join(errors.get(field if field else "__all__", [])), errors
    assert not WeComHandover.objects.exists() and not AuditEntry.objects.filter(model="wecomhandover").exists()


def test_starting_a_hand_over_needs_the_add_permission(corp):  # noqa: F811
    viewer = operator("view_wecomhandover")
    assert viewer.get(ADD).status_code == 403
    assert viewer.post(ADD, form(corp)).status_code == 403
    assert not WeComHandover.objects.exists()


def test_beat_polls_open_hand_overs_hourly_and_applies_the_results(sandbox, corp, add, console):  # noqa: F811
    add("alice", "wm-p1")
    add("alice", "wm-p2")
    assert console(form(corp)).status_code == 302
    handover = WeComHandover.objects.get()
    entry = next(e for e in celery_app.conf.beat_schedule.values() if e["task"] == handovers_poll_due_task.name)
    assert entry["schedule"] <= 600

    def result_calls() -> int:
        return len(sandbox.control.requests("transfer_result"))

    # Within the 24 hours: polled once, nothing decided; a run right after does not call WeCom again.
    assert handovers_poll_due_task.run() == {"polled": 1, "failed": 0, "decided": 0}
    calls = result_calls()
    assert handovers_poll_due_task.run() == {"polled": 0, "failed": 0, "decided": 0}
    assert result_calls() == calls

    # An hour later and past WeCom's 24 hours: the customers are handed over and the hand-over ends.
    sandbox.control.advance_clock(DAY + 1)
    WeComHandover.objects.filter(pk=handover.pk).update(last_polled_at=timezone.now() - timedelta(hours=1, minutes=1))
    assert handovers_poll_due_task.run() == {"polled": 1, "failed": 0, "decided": 2}
    handover.refresh_from_db()
    assert handover.finished_at is not None
    assert _pairs(corp, "wm-p1") == {"alice": "transferred", "bob": "active"}
    # Finished hand-overs are not polled again.
    WeComHandover.objects.filter(pk=handover.pk).update(last_polled_at=None)
    assert handovers_poll_due_task.run()["polled"] == 0


def corp_identities(account):
    from customers.models import ChannelIdentity

    return ChannelIdentity.objects.filter(account=account).select_related("customer")
