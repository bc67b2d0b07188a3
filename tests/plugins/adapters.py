"""Fixtures for the channel adapter, sync and channel-code tests: product accounts registered with
the sandbox (no callback URL, so the sandbox posts no delivery reports)."""

from __future__ import annotations

import pytest

from scrm.celery import app as celery_app
from tests.factories import ChannelAccountFactory


def _account(sandbox, kind: str, **fields):
    account = ChannelAccountFactory(kind=kind, api_base_url=sandbox.base_url, rate_limit_per_second=1000, **fields)
    sandbox.control.register_app(kind=kind, app_id=account.app_id, secret=account.app_secret, auto_report=False)
    return account


@pytest.fixture
def oa_account(db, sandbox):
    return _account(sandbox, "oa")


@pytest.fixture
def mp_account(db, sandbox):
    return _account(sandbox, "miniprogram")


@pytest.fixture
def wecom_account(db, sandbox):
    return _account(sandbox, "wecom")


@pytest.fixture
def celery_eager(monkeypatch):
    """Run Celery tasks inline (on_commit callbacks still need django_capture_on_commit_callbacks)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
