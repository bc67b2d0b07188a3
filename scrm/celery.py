import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

app = Celery("scrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every periodic task of the product, in one place (the DB scheduler of django-celery-beat adds
# operator-made schedules such as recurring campaigns).
app.conf.beat_schedule = {
    "segments-count-refresh": {"task": "customers.segments.tasks.segments_count_refresh_all_task", "schedule": 3600.0},
    "sync-jobs-sweep": {"task": "messaging.channels.tasks.sync_jobs_sweep_task", "schedule": 300.0},
    "callbacks-inbound-sweep": {"task": "messaging.callbacks.tasks.inbound_sweep_task", "schedule": 30.0},
}
