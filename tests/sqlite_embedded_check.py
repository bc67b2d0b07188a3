"""Run inside `manage.py shell` against the embedded SQLite database (see test_sqlite_embedded.py).

Not a pytest module: the suite runs on PostgreSQL, so this is executed in a subprocess whose
environment has no DATABASE_URL / REDIS_URL, the way `make run` starts on a bare machine.
"""

import json
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from accounts.models import ChannelAccount
from customers.engagement.models import EngagementDailyRollup
from customers.models import Customer, EngagementEvent
from scrm.beat import POSTGRESQL_ONLY_TASKS, Scheduler, beat_schedule_for_database
from scrm.celery import app
from tests.factories import CampaignFactory

assert connection.vendor == "sqlite", connection.vendor

# Beat's scheduler stores what it will run; every one of those tasks runs once without raising.
customer = Customer.objects.first()
old_event = EngagementEvent.objects.create(customer=customer, event_type="link.click", occurred_at=timezone.now() - timedelta(days=400))
Scheduler(app=app)
scheduled = dict(PeriodicTask.objects.filter(enabled=True).values_list("name", "task"))
assert set(scheduled) >= set(beat_schedule_for_database(app.conf.beat_schedule)), scheduled
assert len(scheduled) >= len(app.conf.beat_schedule) - len(POSTGRESQL_ONLY_TASKS), scheduled
assert not POSTGRESQL_ONLY_TASKS & set(scheduled.values()), scheduled
app.loader.import_default_modules()
for task_name in scheduled.values():
    app.tasks[task_name]()
    print("beat ok:", task_name)
# The retention rollup (PostgreSQL SQL on the server) has a portable path here.
assert not EngagementEvent.objects.filter(pk=old_event.pk).exists()
assert EngagementDailyRollup.objects.get(customer=customer, event_type="link.click").count == 1

# Planning is refused with a 400 that says what to do, through the API and the admin.
admin = get_user_model().objects.create_superuser("sqlite-check", "check@example.com", "pw")
account = ChannelAccount.objects.filter(kind="oa").first()
campaign = CampaignFactory(name="SQLite check", account=account, content={"text": "Hello"})

api = APIClient()
api.force_authenticate(admin)
for method, path in (("post", "schedule"), ("get", "preview")):
    response = getattr(api, method)(f"/api/v1/campaigns/{campaign.pk}/{path}/")
    body = response.json()
    assert response.status_code == 400, (path, response.status_code, body)
    assert body["code"] == "needs_postgresql", body
    assert "PostgreSQL" in body["message"] and "DATABASE_URL" in body["message"], body
    print("api ok:", path, json.dumps(body))

web = Client()
web.force_login(admin)
# The wizard's schedule button: its confirmation page says why it cannot be scheduled here...
page = web.get(f"/admin/campaigns/campaign/{campaign.pk}/do/schedule/").content.decode()
assert "营销活动规划需要 PostgreSQL" in page and "DATABASE_URL" in page, page[:2000]
# ...and confirming anyway is refused with the same message.
response = web.post(f"/admin/campaigns/campaign/{campaign.pk}/do/schedule/", follow=True)
assert response.status_code == 200, response.status_code
page = response.content.decode()
# The message follows the admin's language (Chinese by default): it names PostgreSQL and DATABASE_URL in both.
assert "营销活动规划需要 PostgreSQL" in page and "DATABASE_URL" in page, page[:2000]
campaign.refresh_from_db()
assert campaign.state == "draft", campaign.state
print("admin ok")

# The callback endpoint stores what WeChat posts (once, retries included) on SQLite too.
from messaging.callbacks.models import InboundMessage  # noqa: E402
from tests.plugins.callbacks import CallbackClient, wechat_payload  # noqa: E402

poster = CallbackClient(Client(), account)
message = wechat_payload("text.xml", openid="o-sqlite-check")
for _ in range(2):
    response = poster.post(message)
    assert response.status_code == 200 and response.content == b"success", (response.status_code, response.content[:500])
assert InboundMessage.objects.filter(account=account, from_user="o-sqlite-check").count() == 1
print("callback ok")

# A template delivery report settles its delivery on SQLite too (PostgreSQL serialises it with an
# advisory lock that SQLite neither has nor needs).
from campaigns.models import Delivery, DeliveryState  # noqa: E402
from messaging.callbacks.services import inbound_process  # noqa: E402
from tests.factories import DeliveryFactory  # noqa: E402

reported = DeliveryFactory(
    campaign=campaign, customer=customer, state=DeliveryState.SENT, sent_at=timezone.now(), msgid="424242"
)
# `make run` creates the filesystem broker's folders; this process enqueues the follow-up tasks there.
import os  # noqa: E402

from django.conf import settings  # noqa: E402

for folder in ("data_folder_in", "control_folder"):
    os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS[folder], exist_ok=True)
response = poster.post(wechat_payload("template_finish.xml", msg_id="424242", status="success"))
assert response.status_code == 200, response.status_code
report_row = InboundMessage.objects.filter(account=account, msg_type="event").order_by("-pk").first()
inbound_process(inbound_id=report_row.pk)
report_row.refresh_from_db()
assert report_row.state == "processed", (report_row.state, report_row.last_error)
assert Delivery.objects.get(pk=reported.pk).state == DeliveryState.DELIVERED
print("delivery report ok")
# The CSV import (customers' bulk upsert, row by row on SQLite) works on the embedded database too.
import io  # noqa: E402

from customers.imports import customers_import_csv  # noqa: E402

imported = customers_import_csv(stream=io.BytesIO(b"openid,display_name\no-sqlite-csv,From CSV\n"), default_account_id=account.pk)
assert imported.created == 1 and not imported.errors, imported.as_dict()
assert Customer.objects.filter(identities__external_id="o-sqlite-csv", display_name="From CSV").exists()
print("csv import ok")

# Reports answer on the embedded database too: the trends API and the campaign reports page.
DeliveryFactory(campaign=campaign, state=DeliveryState.SENT, sent_at=timezone.now())
EngagementEvent.objects.create(customer=customer, event_type="conversion", occurred_at=timezone.now())
response = api.get("/api/v1/reports/trends/")
assert response.status_code == 200, (response.status_code, response.content[:500])
today = response.json()["days"][-1]
sent_today = Delivery.objects.filter(sent_at__isnull=False).count()  # every one of them was sent just now
assert today["day"] == timezone.localdate().isoformat() and today["sent"] == sent_today == 2, (today, sent_today)
assert today["conversions"] == 1, today
response = web.get("/admin/campaign-reports/")
assert response.status_code == 200, (response.status_code, response.content[:500])
print("reports ok")

# The Customer 360 page (timeline of pushes, events and suppressions) and the segment builder.
for url in (f"/admin/customers/customer/{customer.pk}/360/", "/admin/customers/segment/add/"):
    response = web.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:500])
response = web.post("/admin/customers/segment/preview/", json.dumps({"rule": {"all": []}}), content_type="application/json")
assert response.status_code == 200 and response.json()["count"] >= 1, response.content[:500]
print("customer 360 and segment builder ok")

# The dashboard (the admin index) renders on SQLite, with the follow counted on its local day.
from django.utils import timezone as tz  # noqa: E402

from customers.engagement.models import AccountDailyCount  # noqa: E402
from customers.services.events import event_record  # noqa: E402


def follows_today() -> int:
    row = AccountDailyCount.objects.filter(account=account, metric="wechat.subscribe", day=tz.localdate()).first()
    return row.count if row else 0


before = follows_today()  # seed_demo's history may hold follows of today already
event_record(customer_id=customer.pk, event_type="wechat.subscribe", account_id=account.pk)
event_record(customer_id=customer.pk, event_type="wechat.subscribe", account_id=account.pk)
assert follows_today() == before + 2, (before, follows_today())
response = web.get(f"/admin/?account={account.pk}")
assert response.status_code == 200 and b'id="dash-chart-follows"' in response.content, (response.status_code, response.content[:500])
assert web.get("/admin/dashboard/in-flight.json").status_code == 200
print("dashboard ok")

# WeCom relationships: the identity's state and owner derived from its pairs (an UPDATE whose
# subquery reaches the identity's account two levels deep, which SQLite cannot resolve).
from customers.models import ChannelIdentity  # noqa: E402
from customers.wecom.models import WeComRelation  # noqa: E402
from customers.wecom.services import identities_reachability_refresh  # noqa: E402

corp = ChannelAccount.objects.create(kind="wecom", name="嵌入式企业微信", app_id="wwembedded0001", app_secret="s", token="t")
contact = ChannelIdentity.objects.create(customer=customer, account=corp, kind="wecom", external_id="wmembedded0001")
WeComRelation.objects.create(identity=contact, staff_userid="li", state="active", added_at=tz.now() - timedelta(days=2))
WeComRelation.objects.create(identity=contact, staff_userid="wang", state="active", added_at=tz.now())
assert identities_reachability_refresh(identity_ids=[contact.pk]) == 1
contact.refresh_from_db()
assert (contact.follow_state, contact.owner_staff_id) == ("following", "wang"), (contact.follow_state, contact.owner_staff_id)
print("wecom relationships ok")
print("SQLITE CHECK PASSED")
