"""Celery discovers `<app>.tasks`; the feature modules hold the tasks."""

from customers.engagement.tasks import *  # noqa: F403
from customers.segments.tasks import *  # noqa: F403
