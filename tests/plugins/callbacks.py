"""Fixtures for the callback endpoints: accounts, payload files, and a client that signs and
encrypts like WeChat's and WeCom's servers (with wechatpy's own crypto)."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from string import Template

import pytest
from django.urls import reverse
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from messaging import reports
from messaging.callbacks.crypto import signature_compute
from messaging.callbacks.selectors import account_cache_clear
from scrm.celery import app as celery_app
from tests.factories import ChannelAccountFactory

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "wechat"
_counter = itertools.count(1)


def wechat_payload(name: str, **values) -> str:
    """A payload file from tests/fixtures/wechat with its $placeholders filled."""
    n = next(_counter)
    defaults = {
        "to": "gh_brand",
        "openid": f"o-openid-{n:06d}",
        "create_time": str(int(time.time())),
        "msg_id": str(6057404712141979648 + n),
        "content": "hello",
    }
    return Template((FIXTURES / name).read_text()).substitute({**defaults, **values})


class CallbackClient:
    """Posts callbacks to the real view as WeChat / WeCom would."""

    def __init__(self, client, account):
        self.client = client
        self.account = account
        self.is_wecom = account.kind == "wecom"
        self.url = reverse("callbacks:wecom" if self.is_wecom else "callbacks:wechat", kwargs={"account_id": account.pk})

    def _crypto(self):
        cls = WeComCrypto if self.is_wecom else WeChatCrypto
        return cls(self.account.token, self.account.encoding_aes_key, self.account.app_id)

    def encrypt(self, xml: str, *, timestamp: str, nonce: str, key: str | None = None, app_id: str | None = None) -> tuple[str, str]:
        """(body, msg_signature) of the safe-mode envelope."""
        cls = WeComCrypto if self.is_wecom else WeChatCrypto
        crypto = cls(self.account.token, key or self.account.encoding_aes_key, app_id or self.account.app_id)
        envelope = crypto.encrypt_message(xml, nonce, timestamp)
        encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", envelope).group(1)
        signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]></MsgSignature>", envelope).group(1)
        body = f"<xml><ToUserName><![CDATA[{self.account.app_id}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return body, signature

    def post(self, xml: str, *, encrypted: bool | None = None, timestamp: str | None = None, nonce: str = "298025754",
             key: str | None = None, app_id: str | None = None, signature: str | None = None, body: str | bytes | None = None):
        timestamp = timestamp or str(int(time.time()))
        if encrypted is None:
            encrypted = self.is_wecom or self.account.encrypt_mode == "safe"
        query = {"timestamp": timestamp, "nonce": nonce}
        if encrypted:
            envelope, msg_signature = self.encrypt(xml, timestamp=timestamp, nonce=nonce, key=key, app_id=app_id)
            query["msg_signature"] = signature if signature is not None else msg_signature
            if not self.is_wecom:
                query.update(encrypt_type="aes", openid="o-openid", signature=signature_compute(self.account.token, timestamp, nonce))
            payload = envelope if body is None else body
        else:
            query["signature"] = signature if signature is not None else signature_compute(self.account.token, timestamp, nonce)
            payload = xml if body is None else body
        url = self.url + "?" + "&".join(f"{k}={v}" for k, v in query.items())
        return self.client.post(url, data=payload, content_type="text/xml")

    def decrypt_reply(self, content: str) -> str:
        encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", content).group(1)
        signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]></MsgSignature>", content).group(1)
        timestamp = re.search(r"<TimeStamp>(.*?)</TimeStamp>", content).group(1)
        nonce = re.search(r"<Nonce><!\[CDATA\[(.*?)\]\]></Nonce>", content).group(1)
        crypto = self._crypto()
        body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return crypto.decrypt_message(body, signature, timestamp, nonce)


@pytest.fixture(autouse=True)
def _callback_account_cache():
    account_cache_clear()
    yield
    account_cache_clear()


@pytest.fixture
def callback_oa_account(db):
    return ChannelAccountFactory(kind="oa", encrypt_mode="safe")


@pytest.fixture
def callback_wecom_account(db):
    return ChannelAccountFactory(kind="wecom", app_id="wwcorp0000000001", encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")


@pytest.fixture
def callback_mp_account(db):
    return ChannelAccountFactory(kind="miniprogram", encrypt_mode="safe")


@pytest.fixture
def callback_client(client):
    """callback_client(account) → CallbackClient posting to that account's callback URL."""
    return lambda account: CallbackClient(client, account)


@pytest.fixture
def callback_celery_eager(monkeypatch):
    """Tasks run in-process when enqueued (use with django_capture_on_commit_callbacks(execute=True))."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


def _reset_broker_pools():
    celery_app._pool = None
    amqp = celery_app.amqp
    if getattr(amqp, "_producer_pool", None) is not None:
        amqp._producer_pool = None


class _BrokerOutage:
    def __init__(self):
        # Its own MonkeyPatch, so that a test can end the outage midway without undoing its other patches.
        self._patch = pytest.MonkeyPatch()
        self.down = False

    def start(self):
        self._patch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
        _reset_broker_pools()
        self.down = True

    def restore(self):
        if self.down:
            self._patch.undo()
            _reset_broker_pools()
            self.down = False


@pytest.fixture
def broker_down():
    """The Celery broker is unreachable (a closed loopback port) until `.restore()` or the test ends."""
    outage = _BrokerOutage()
    outage.start()
    yield outage
    outage.restore()


@pytest.fixture
def deliver(callback_client, callback_celery_eager, django_capture_on_commit_callbacks):
    """Post a callback as WeChat would and run its processing task (eagerly, after commit)."""

    def _deliver(account, xml: str, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            response = callback_client(account).post(xml, **kwargs)
        assert response.status_code == 200, response.content
        return response

    return _deliver


@pytest.fixture
def delivery_reports():
    """The DeliveryReports the inbound loop dispatches during the test."""
    received: list = []
    reports.register_delivery_report_handler(received.append)
    yield received
    reports._handlers.remove(received.append)
