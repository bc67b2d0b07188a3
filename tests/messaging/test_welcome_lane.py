"""WeCom welcome messages on their own lane (messaging/channels/welcome.py), through the encrypted
callback path and against the sandbox: the welcome code works once and only for 20 s, so the welcome
must not wait behind a backlog of the `callbacks` queue; a used or expired code is recorded, not
retried."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from messaging.callbacks import enqueue
from messaging.callbacks.models import InboundMessage
from messaging.callbacks.parsing import xml_parse
from messaging.callbacks.services import inbound_process, inbound_store
from messaging.channels.clients import wecom_client
from messaging.channels.models import ChannelCode, WelcomeMessage
from messaging.channels.welcome import welcome_send
from messaging.sandbox.registration import sandbox_register_account
from scrm.celery import app as celery_app
from tests.factories import ChannelAccountFactory
from tests.plugins.callbacks import wechat_payload

CORP = "wwwelcomecorp0001"


def _wecom(sandbox):
    account = ChannelAccountFactory(
        kind="wecom", app_id=CORP, encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        api_base_url=sandbox.base_url, encrypt_mode="safe",
    )
    sandbox_register_account(account)
    sandbox.control.add_wecom_staff(CORP, "zhangsan")
    return account


def _add_event(sandbox, account, external: str, state: str = "store_1") -> str:
    welcome_code = sandbox.control.add_external_contact(CORP, "zhangsan", external, state=state)
    return wechat_payload(
        "wecom_add_external_contact.xml", to=account.app_id, staff="zhangsan", external_userid=external,
        state=state, welcome_code=welcome_code,
    )


def test_welcome_task_has_its_own_queue():
    route = celery_app.amqp.router.route({}, "messaging.channels.tasks.welcome_send_task")
    assert route["queue"].name == "welcome"
    assert "welcome" in {q.name for q in settings.CELERY_TASK_QUEUES}


@pytest.mark.django_db(transaction=True)
def test_welcome_goes_out_while_the_callbacks_queue_is_backlogged(sandbox, callback_client):
    account = _wecom(sandbox)
    ChannelCode.objects.create(account=account, kind="contact_way", name="Store 1", scene="store_1", welcome_text="欢迎 store 1")
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("callbacks", "welcome")
    try:
        # 1,000 callbacks waiting, and nobody consuming the callbacks queue.
        broker.lpush("callbacks", *[b"backlog"] * 1000)
        started = time.monotonic()
        response = callback_client(account).post(_add_event(sandbox, account, "wmBACKLOG1"))
        assert response.status_code == 200
        assert enqueue.flush(5)
        with start_worker(celery_app, queues=["welcome"], perform_ping_check=False, shutdown_timeout=5):
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not sandbox.control.sent_messages(app_id=CORP, api="welcome"):
                time.sleep(0.1)
        [sent] = sandbox.control.sent_messages(app_id=CORP, api="welcome")
        assert sent["touser"] == "wmBACKLOG1" and sent["payload"]["text"]["content"] == "欢迎 store 1"
        assert time.monotonic() - started < 15
        assert broker.llen("callbacks") >= 1000, "the backlog is still there: the welcome did not wait for it"
        message = WelcomeMessage.objects.get(account=account)
        assert (message.state, message.staff_userid, message.external_userid) == ("sent", "zhangsan", "wmBACKLOG1")
    finally:
        broker.delete("callbacks", "welcome")


def _stored(account, xml: str) -> int:
    """The callback stored as the view stores it; what it enqueues after commit is never run here."""
    return inbound_store(account_id=account.pk, fields=xml_parse(xml), raw=xml)


@pytest.mark.django_db
def test_a_used_welcome_code_is_recorded_and_not_retried(deliver, sandbox):
    account = _wecom(sandbox)
    ChannelCode.objects.create(account=account, kind="contact_way", name="S", scene="store_1", welcome_text="hi")
    xml = _add_event(sandbox, account, "wmUSED")
    # Another app of the corp used the code first.
    wecom_client(account).post(
        "externalcontact/send_welcome_msg", data={"welcome_code": xml_parse(xml)["WelcomeCode"], "text": {"content": "first"}}
    )
    deliver(account, xml)
    message = WelcomeMessage.objects.get(account=account)
    assert (message.state, message.error_code, message.attempts) == ("expired", "41051", 1)
    calls = sandbox.control.requests("send_welcome_msg", app_id=CORP)
    assert [c["errcode"] for c in calls] == [0, 41051], "41051 is final: one call, no retry"


@pytest.mark.django_db
def test_an_expired_welcome_code_is_recorded_as_expired(deliver, sandbox):
    account = _wecom(sandbox)
    ChannelCode.objects.create(account=account, kind="contact_way", name="S", scene="store_1", welcome_text="hi")
    xml = _add_event(sandbox, account, "wmLATE")
    sandbox.control.advance_clock(21)  # WeCom's 20 s have passed on WeCom's side
    deliver(account, xml)
    message = WelcomeMessage.objects.get(account=account)
    assert (message.state, message.error_code) == ("expired", "41051")
    assert sandbox.control.sent_messages(app_id=CORP, api="welcome") == []


@pytest.mark.django_db
def test_a_welcome_found_after_its_window_is_recorded_without_calling_wecom(sandbox):
    account = _wecom(sandbox)
    ChannelCode.objects.create(account=account, kind="contact_way", name="S", scene="store_1", welcome_text="hi")
    inbound_id = _stored(account, _add_event(sandbox, account, "wmSTALE"))
    InboundMessage.objects.filter(pk=inbound_id).update(received_at=timezone.now() - timedelta(seconds=25))
    assert welcome_send(inbound_id=inbound_id) == "expired"
    assert WelcomeMessage.objects.get(account=account).error_code == "welcome_window_passed"
    assert sandbox.control.requests("send_welcome_msg", app_id=CORP) == []
    assert welcome_send(inbound_id=inbound_id) == "already"


@pytest.mark.django_db
def test_the_callbacks_worker_sends_the_welcome_when_its_task_was_lost(sandbox, django_capture_on_commit_callbacks):
    account = _wecom(sandbox)
    ChannelCode.objects.create(account=account, kind="contact_way", name="S", scene="store_1", welcome_text="hi")
    inbound_id = _stored(account, _add_event(sandbox, account, "wmFALLBACK"))
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_process(inbound_id=inbound_id)
    assert [m["touser"] for m in sandbox.control.sent_messages(app_id=CORP, api="welcome")] == ["wmFALLBACK"]
    assert WelcomeMessage.objects.get(account=account).state == "sent"
    assert welcome_send(inbound_id=inbound_id) == "already"


@pytest.mark.django_db
def test_no_welcome_without_a_channel_code_welcome(sandbox):
    account = _wecom(sandbox)
    ChannelCode.objects.create(account=account, kind="contact_way", name="S", scene="store_1")
    assert welcome_send(inbound_id=_stored(account, _add_event(sandbox, account, "wmNONE"))) == "no_welcome"
    assert welcome_send(inbound_id=_stored(account, _add_event(sandbox, account, "wmNONE2", state="other"))) == "no_welcome"
    assert not WelcomeMessage.objects.exists()
