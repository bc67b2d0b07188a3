import os

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

app = Celery("scrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class WorkerHeartbeat(bootsteps.StartStopStep):
    """The worker's main process records its heartbeat on start and then on a timer, so a worker whose
    pool is busy with long tasks (or whose queues are backlogged) still shows as alive."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        self.timer_entry = None

    def start(self, worker):
        from scrm.heartbeat import WORKER_HEARTBEAT_SECONDS, heartbeat_record_safely

        heartbeat_record_safely("worker")
        self.timer_entry = worker.timer.call_repeatedly(WORKER_HEARTBEAT_SECONDS, heartbeat_record_safely, ("worker",))

    def stop(self, worker):
        if self.timer_entry is not None:
            self.timer_entry.cancel()


app.steps["worker"].add(WorkerHeartbeat)

# Every periodic task of the product, in one place (the DB scheduler of django-celery-beat adds
# operator-made schedules such as recurring campaigns).
app.conf.beat_schedule = {
    "campaigns-due-plan": {"task": "campaigns.tasks.campaign_due_plan_task", "schedule": 60.0},
    "campaigns-dispatch-sweep": {"task": "campaigns.tasks.dispatch_sweep_task", "schedule": 60.0},
    # Dead workers' claims back to planned, campaigns without a live pump re-pumped: with the 20 s
    # lease and stall grace (settings), a campaign resumes within ~30 s of its worker's death.
    # Expires: a late run is pointless, the next one is seconds away.
    "campaigns-pumps-watchdog": {"task": "campaigns.tasks.campaign_pumps_watchdog_task", "schedule": 10.0, "options": {"expires": 10}},
    "engagement-events-sweep": {"task": "customers.engagement.tasks.engagement_events_sweep_task", "schedule": 60.0, "options": {"expires": 60}},
    "engagement-events-rollup": {"task": "customers.engagement.tasks.engagement_events_rollup_task", "schedule": 24 * 3600},
    "callbacks-inbound-sweep": {"task": "messaging.callbacks.tasks.inbound_sweep_task", "schedule": 30.0},
    "miniprogram-sessions-purge": {"task": "messaging.miniprogram.tasks.mp_sessions_purge_task", "schedule": 24 * 3600},
    "segments-count-refresh": {"task": "customers.segments.tasks.segments_count_refresh_all_task", "schedule": 3600.0},
    "menus-segment-tags-sync": {"task": "menus.tasks.menu_segment_tags_sync_task", "schedule": 1800.0},
    "sync-jobs-sweep": {"task": "messaging.channels.tasks.sync_jobs_sweep_task", "schedule": 300.0},
    # WeCom media_ids live 3 days: welcome attachments are uploaded again before they age out.
    "welcome-media-refresh": {"task": "messaging.channels.tasks.media_refresh_for_welcomes_task", "schedule": 3600.0},
    # WeCom hand-overs waiting for customers (24 h to refuse): transfer_result, each at most hourly.
    "wecom-handovers-poll": {"task": "messaging.channels.tasks.handovers_poll_due_task", "schedule": 600.0, "options": {"expires": 540}},
    # A worker took a task from the broker (scrm/heartbeat.py); expires so a backlog never piles up.
    "worker-heartbeat": {"task": "scrm.tasks.worker_heartbeat_task", "schedule": 30.0, "options": {"expires": 25}},
    # The dashboard's slow figures (followers, active customers, recent funnels) kept warm in the cache.
    # Campaign reports' lift counts while a campaign's attribution window is open (campaigns/reports/lift.py).
    "campaigns-lift-refresh": {"task": "campaigns.reports.tasks.campaign_lift_refresh_task", "schedule": 300.0, "options": {"expires": 280}},
    "dashboard-refresh": {"task": "console.tasks.dashboard_refresh_task", "schedule": 240.0, "options": {"expires": 200}},
    "message-templates-sync": {"task": "messaging.template_library.tasks.message_templates_sync_all_task", "schedule": 6 * 3600.0},
    "article-stats-poll": {"task": "messaging.content.tasks.article_stats_poll_all_task", "schedule": 24 * 3600.0},
    # WeCom pushes no moment comments or likes: moments' job results and engagement are polled
    # (each moment at most every 30 minutes for 30 days; messaging/channels/wecom_moments.py).
    "wecom-moments-poll": {"task": "messaging.channels.tasks.moments_poll_due_task", "schedule": 600.0, "options": {"expires": 540}},
}
