"""Processes a benchmark starts (gunicorn, Celery workers) use the database this process is connected
to — under pytest the `test_…` database — not the DATABASE_URL the process was started with."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from devtools.benchmarks.common import subprocess_env

pytestmark = pytest.mark.django_db


def test_subprocess_env_names_the_database_in_use(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/some_other_database")
    env = subprocess_env(EXTRA="1")
    assert env["EXTRA"] == "1"
    assert env["DATABASE_URL"].endswith("/" + connection.settings_dict["NAME"])
    with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)) as other:
        assert other.execute("SELECT current_database()").fetchone()[0] == connection.settings_dict["NAME"]
