"""GET /healthz: database and Redis/broker status, 200 when healthy, 503 naming what is down."""

from __future__ import annotations

import os

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from scrm.backends import describe_backends
from scrm.redis import get_redis


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def check_broker() -> str:
    client = get_redis()
    if client is not None:
        client.ping()
        return "ok"
    # Embedded mode: the filesystem broker only needs its folder to be writable.
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]

    os.makedirs(folder, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise OSError(f"{folder} is not writable")
    return "ok"


@require_GET
def healthz(request):
    checks: dict[str, str] = {}
    down: list[str] = []
    for name, check in (("database", check_database), ("broker", check_broker)):
        try:
            checks[name] = check()
        except Exception as exc:  # report any failure of a dependency, do not raise
            checks[name] = f"down: {exc.__class__.__name__}"
            down.append(name)
    body = {"status": "ok" if not down else "down", "checks": checks, "backends": describe_backends()}
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)
