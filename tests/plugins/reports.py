"""Fixtures for delivery results of list sends: a WeCom corp in the sandbox with staff and their
external contacts, and a look into the real Celery broker queue."""

from __future__ import annotations

import base64
import json

import pytest
import redis
from django.conf import settings

from messaging import reports
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory, CustomerFactory


@pytest.fixture
def sandbox_corp(sandbox):
    """sandbox_corp({"alice": 3, ...}) → (corp account, [(customer, identity)]) with owners in the sandbox and here."""

    def make(staff_counts: dict[str, int], **account_fields):
        corp = ChannelAccountFactory(kind="wecom", api_base_url=sandbox.base_url, rate_limit_per_second=1000, **account_fields)
        sandbox.control.register_app(kind="wecom", app_id=corp.app_id, secret=corp.app_secret, auto_report=False)
        people = []
        for staff, count in staff_counts.items():
            sandbox.control.add_wecom_staff(corp.app_id, staff)
            for external in sandbox.control.add_external_contacts(corp.app_id, staff, count):
                customer = CustomerFactory()
                people.append((customer, ChannelIdentityFactory(customer=customer, account=corp, external_id=external, owner_staff_id=staff)))
        return corp, people

    return make


class BrokerQueue:
    """The messages waiting in one queue of the test's Redis broker (kombu's Redis transport keeps a
    queue as a list of JSON envelopes)."""

    def __init__(self, name: str):
        self.name = name
        self.redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def clear(self) -> None:
        self.redis.delete(self.name)

    def messages(self, task: str) -> list[dict]:
        out = []
        for raw in self.redis.lrange(self.name, 0, -1):
            envelope = json.loads(raw)
            headers = envelope.get("headers") or {}
            if headers.get("task") != task:
                continue
            args, kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
            out.append({"args": args, "kwargs": kwargs, "eta": headers.get("eta")})
        return out


@pytest.fixture
def dispatch_queue():
    queue = BrokerQueue("dispatch")
    queue.clear()
    yield queue
    queue.clear()


@pytest.fixture
def aggregate_reports():
    """The AggregateReports the inbound loop dispatches during the test."""
    received: list = []
    reports.register_aggregate_report_handler(received.append)
    yield received
    reports._aggregate_handlers.remove(received.append)
