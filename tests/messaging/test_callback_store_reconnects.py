"""The callback INSERT survives its connection being ended mid-statement more than once (drill 3 of
`make chaos` terminates every backend of the database every second): WeChat gets `success`, not 500."""

import pytest
from django.db import OperationalError, connection

from messaging.callbacks import services


def _ended_twice_then(statement):
    calls = []

    def execute():
        calls.append(connection.connection.info.backend_pid if connection.connection else None)
        connection.ensure_connection()
        if len(calls) <= 2:
            # The server ends this very backend, as pg_terminate_backend from an administrator would.
            with connection.wrap_database_errors, connection.connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchone()[0]

    return execute, calls


@pytest.mark.django_db(transaction=True)
def test_an_insert_whose_connection_is_ended_twice_runs_on_a_third_one():
    execute, calls = _ended_twice_then("SELECT 42")
    assert services._insert_once(execute) == 42
    assert len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_a_connection_ended_at_every_attempt_still_fails():
    def always_ended():
        connection.ensure_connection()
        with connection.wrap_database_errors, connection.connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with pytest.raises(OperationalError):
        services._insert_once(always_ended)
    connection.close()
