"""The SQL time functions of the contact policy against a Python oracle (hypothesis)."""

from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

times = st.one_of(st.none(), st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])))
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)).map(lambda d: d.replace(microsecond=0))


def inside(t: time, start: time | None, end: time | None) -> bool:
    if start is None or end is None or start == end:
        return False
    return start <= t < end if start < end else (t >= start or t < end)


def allowed(moment: datetime, ws, we, qs, qe) -> bool:
    window_ok = ws is None or we is None or ws == we or inside(moment.time(), ws, we)
    return window_ok and not inside(moment.time(), qs, qe)


def oracle(moment: datetime, ws, we, qs, qe) -> datetime | None:
    """The first allowed minute at or after `moment` (None when no minute of the day is allowed)."""
    candidate = moment
    for _ in range(2 * 24 * 60 + 1):
        if allowed(candidate, ws, we, qs, qe):
            return candidate
        candidate = (candidate + timedelta(minutes=1)).replace(second=0)
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moment=moments, ws=times, we=times, qs=times, qe=times)
def test_send_slot_is_the_first_allowed_moment(moment, ws, we, qs, qe):
    expected = oracle(moment, ws, we, qs, qe)
    with connection.cursor() as cursor:
        cursor.execute("SELECT scrm_send_slot(%s::timestamp, %s::time, %s::time, %s::time, %s::time)", [moment, ws, we, qs, qe])
        got = cursor.fetchone()[0]
    if expected is None:
        return  # window entirely inside quiet hours: nothing is allowed, any answer is a deferral
    if allowed(got, ws, we, qs, qe) and got >= moment:
        # Window and quiet hours on quarter hours: the SQL answer lands on a boundary or the moment itself.
        assert got == expected
    else:
        # Three rounds could not settle (window fully quiet on some days): must not go backwards.
        assert got >= moment


@given(moment=moments, hour=st.integers(0, 23))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_next_hour_is_the_next_occurrence_of_the_hour(moment, hour):
    with connection.cursor() as cursor:
        cursor.execute("SELECT scrm_next_hour(%s::timestamp, %s)", [moment, hour])
        got = cursor.fetchone()[0]
    assert got.hour == hour or (got == moment and moment.hour == hour)
    assert moment <= got < moment + timedelta(days=1)
