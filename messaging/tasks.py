"""Celery discovers `<app>.tasks`; the feature modules hold the tasks."""

from messaging.callbacks.tasks import *  # noqa: F403
from messaging.channels.tasks import *  # noqa: F403
from messaging.content.tasks import *  # noqa: F403
from messaging.inbox.tasks import *  # noqa: F403
from messaging.miniprogram.tasks import *  # noqa: F403
from messaging.template_library.tasks import *  # noqa: F403
