"""The Celery queues, one per concern, and which tasks go on which (settings CELERY_TASK_QUEUES /
CELERY_TASK_ROUTES; README "Scaling out"). Routing by module keeps a task's queue next to its concern."""

from kombu import Queue

TASK_QUEUES = [Queue(name) for name in ("default", "callbacks", "welcome", "dispatch", "planning", "analytics")]

TASK_ROUTES = {
    # The dispatch watchdog must not wait behind the pumps it watches.
    "campaigns.tasks.campaign_pumps_watchdog_task": {"queue": "default"},
    "messaging.callbacks.tasks.*": {"queue": "callbacks"},
    "messaging.channels.tasks.sync_*": {"queue": "planning"},
    # WeCom welcome codes work for 20 s: never behind a callbacks backlog (messaging/channels/welcome.py).
    "messaging.channels.tasks.welcome_*": {"queue": "welcome"},
    "messaging.channels.tasks.*": {"queue": "dispatch"},
    "messaging.inbox.tasks.*": {"queue": "dispatch"},
    "messaging.template_library.tasks.*": {"queue": "planning"},
    "messaging.content.tasks.*": {"queue": "analytics"},
    "campaigns.reports.tasks.*": {"queue": "analytics"},
    "campaigns.tasks.dispatch_*": {"queue": "dispatch"},
    "campaigns.tasks.*": {"queue": "planning"},
    "customers.segments.tasks.*": {"queue": "planning"},
    "customers.engagement.tasks.*": {"queue": "analytics"},
    "console.tasks.*": {"queue": "analytics"},
}
