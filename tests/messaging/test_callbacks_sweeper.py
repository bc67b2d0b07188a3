"""Zero lost events: with the broker unreachable the callback is still stored and answered, and the
sweeper hands it over once the broker is back."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from customers.models import ChannelIdentity
from messaging.callbacks import enqueue, services
from messaging.callbacks.enqueue import _fast_path, publish_inbound
from messaging.callbacks.models import InboundMessage
from messaging.callbacks.tasks import inbound_process_task, inbound_sweep_task
from scrm.celery import app as celery_app
from tests.plugins.callbacks import wechat_payload

pytestmark = pytest.mark.django_db


def test_broker_down_callbacks_are_stored_answered_and_later_swept(
    callback_client, callback_oa_account, broker_down, django_capture_on_commit_callbacks, caplog, request
):
    poster = callback_client(callback_oa_account)
    caplog.set_level(logging.WARNING, logger="messaging.callbacks.services")
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        first = poster.post(wechat_payload("subscribe.xml", openid="o-down-1"))
        second = poster.post(wechat_payload("text.xml", openid="o-down-2"))
    assert (first.status_code, first.content, second.content) == (200, b"success", b"success")
    assert time.monotonic() - started < 3, "a dead broker must not hold WeChat's request"
    assert enqueue.flush(timeout=10)
    assert "not enqueued" in caplog.text
    assert list(InboundMessage.objects.values_list("state", flat=True)) == ["received", "received"]
    assert not ChannelIdentity.objects.exists()

    # The broker comes back; the sweeper finds the rows (not handed over for a while) and enqueues them.
    broker_down.restore()
    request.getfixturevalue("callback_celery_eager")
    InboundMessage.objects.update(last_enqueued_at=timezone.now() - timedelta(seconds=services.RECEIVED_STALE_SECONDS + 1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.inbound_sweep() == 2
    assert set(InboundMessage.objects.values_list("state", flat=True)) == {"processed"}
    assert set(ChannelIdentity.objects.values_list("external_id", flat=True)) == {"o-down-1", "o-down-2"}
    # Nothing left for the next sweep.
    assert services.inbound_sweep() == 0


def test_sweeper_leaves_recently_enqueued_rows_alone(callback_client, callback_oa_account, django_capture_on_commit_callbacks):
    callback_client(callback_oa_account).post(wechat_payload("subscribe.xml"))
    assert services.inbound_sweep() == 0
    assert services.inbound_sweep(received_older_than=0) == 1


def test_sweeper_reclaims_a_row_abandoned_in_processing(callback_client, callback_oa_account, callback_celery_eager):
    callback_client(callback_oa_account).post(wechat_payload("subscribe.xml", openid="o-killed"))
    # A worker claimed it and died.
    InboundMessage.objects.update(
        state="processing", attempts=1, processing_started_at=timezone.now() - timedelta(seconds=services.PROCESSING_STALE_SECONDS + 5)
    )
    assert services.inbound_sweep() == 1
    row = InboundMessage.objects.get()
    assert (row.state, row.attempts) == ("processed", 2)
    assert ChannelIdentity.objects.filter(external_id="o-killed").exists()


def test_a_row_being_processed_now_is_not_claimed_twice(callback_client, callback_oa_account):
    callback_client(callback_oa_account).post(wechat_payload("subscribe.xml"))
    InboundMessage.objects.update(state="processing", attempts=1, processing_started_at=timezone.now())
    assert services.inbound_process(inbound_id=InboundMessage.objects.get().pk) is False
    assert services.inbound_sweep(received_older_than=0) == 0


def test_process_task_run_twice_is_idempotent(callback_client, callback_oa_account):
    callback_client(callback_oa_account).post(wechat_payload("subscribe.xml", openid="o-task"))
    row = InboundMessage.objects.get()
    inbound_process_task.apply(args=[row.pk])
    inbound_process_task.apply(args=[row.pk])
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("processed", 1)
    assert ChannelIdentity.objects.filter(external_id="o-task").count() == 1


def test_process_task_for_a_deleted_row_does_nothing(callback_client, callback_oa_account):
    callback_client(callback_oa_account).post(wechat_payload("subscribe.xml"))
    other = InboundMessage.objects.get()

    result = inbound_process_task.apply(args=[other.pk + 10**9])

    # Succeeds without retrying (a retry would mean the task treats the missing row as an error) and
    # leaves the stored callbacks alone.
    assert result.successful() and result.get() is None
    assert services.inbound_process(inbound_id=other.pk + 10**9) is False
    other.refresh_from_db()
    assert (other.state, other.attempts) == ("received", 0)
    assert not ChannelIdentity.objects.exists()


def test_failed_processing_returns_the_row_for_retry_then_gives_up(callback_client, callback_oa_account, monkeypatch):
    # The one fake here: a processing step that fails, to exercise the retry bookkeeping.
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "process_fields", broken)
    callback_client(callback_oa_account).post(wechat_payload("subscribe.xml"))
    row = InboundMessage.objects.get()
    for attempt in range(1, services.MAX_ATTEMPTS):
        with pytest.raises(RuntimeError):
            services.inbound_process(inbound_id=row.pk)
        row.refresh_from_db()
        assert (row.state, row.attempts, row.last_error) == ("received", attempt, "RuntimeError: boom")
    assert services.inbound_process(inbound_id=row.pk) is False
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("failed", services.MAX_ATTEMPTS)
    assert services.inbound_sweep(received_older_than=0) == 0


def test_sweeper_is_scheduled_on_beat_and_routed_to_callbacks_queue(settings):
    entries = [e for e in celery_app.conf.beat_schedule.values() if e["task"] == inbound_sweep_task.name]
    assert entries and entries[0]["schedule"] <= 60
    assert celery_app.amqp.router.route({}, inbound_process_task.name)["queue"].name == "callbacks"


def test_fast_path_message_matches_what_apply_async_publishes():
    assert _fast_path(inbound_process_task) is not None, "the test broker is Redis: the fast path must apply"
    redis.Redis.from_url(celery_app.conf.broker_url).delete("callbacks")
    publish_inbound(inbound_process_task, 4242)
    inbound_process_task.apply_async(args=[4242], retry=False)
    with celery_app.connection_for_read() as connection:
        queue = connection.SimpleQueue("callbacks")
        ours, celerys = queue.get(timeout=2), queue.get(timeout=2)
        queue.close()
    # LPUSH + BRPOP: the first published comes out first.
    assert ours.headers["argsrepr"] == celerys.headers["argsrepr"] == "[4242]"
    assert ours.decode() == celerys.decode() == [[4242], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    assert set(ours.headers) == set(celerys.headers)
    volatile = {"id", "root_id", "origin"}
    assert {k: v for k, v in ours.headers.items() if k not in volatile} == {k: v for k, v in celerys.headers.items() if k not in volatile}
    assert ours.headers["id"] == ours.headers["root_id"] != celerys.headers["id"]
    assert ours.delivery_info["routing_key"] == celerys.delivery_info["routing_key"] == "callbacks"
    assert ours.content_type == celerys.content_type == "application/json"
    assert set(ours.properties) == set(celerys.properties)


def test_committed_callbacks_reach_the_broker_queue(callback_client, callback_oa_account, django_capture_on_commit_callbacks):
    redis.Redis.from_url(celery_app.conf.broker_url).delete("callbacks")
    poster = callback_client(callback_oa_account)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            poster.post(wechat_payload("text.xml", openid=f"o-q{n}"))
    assert enqueue.flush(timeout=10)
    ids = list(InboundMessage.objects.order_by("pk").values_list("pk", flat=True))
    with celery_app.connection_for_read() as connection:
        queue = connection.SimpleQueue("callbacks")
        messages = [queue.get(timeout=2) for _ in ids]
        queue.close()
    assert [m.headers["task"] for m in messages] == [inbound_process_task.name] * 3
    assert [m.decode()[0][0] for m in messages] == ids, "published once each, in commit order"
