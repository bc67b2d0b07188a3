"""The deployed WSGI entry (scrm.wsgi.application): callback URLs take the lean, middleware-free path
and still enforce every check; all other URLs keep the full middleware stack."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from io import BytesIO

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import RequestFactory
from django.urls import reverse

from messaging.callbacks.crypto import signature_compute
from messaging.callbacks.models import InboundMessage
from messaging.callbacks.wsgi import LEAN_PREFIXES, LeanWSGIHandler
from scrm.wsgi import application
from tests.factories import ChannelAccountFactory
from tests.plugins.callbacks import CallbackClient, wechat_payload


@dataclass
class WSGIResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes


class DeployedClient:
    """Calls scrm.wsgi.application with a real WSGI environ, as gunicorn does."""

    def __init__(self, keep_connections: bool = True):
        self.factory = RequestFactory()
        # Like django.test.Client: inside a test transaction the connection must not be closed.
        self.keep_connections = keep_connections

    def _call(self, request: WSGIRequest) -> WSGIResponse:
        environ = dict(request.environ)
        body = request.read() if environ.get("CONTENT_LENGTH") else b""
        environ["wsgi.input"] = BytesIO(body)
        captured = {}

        def start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = int(status.split()[0]), dict(headers)

        if self.keep_connections:
            request_started.disconnect(close_old_connections)
            request_finished.disconnect(close_old_connections)
        try:
            result = application(environ, start_response)
            try:
                content = b"".join(result)
            finally:
                result.close()
        finally:
            if self.keep_connections:
                request_started.connect(close_old_connections)
                request_finished.connect(close_old_connections)
        return WSGIResponse(captured["status"], captured["headers"], content)

    def post(self, url, data=b"", content_type="text/xml", **extra):
        return self._call(self.factory.post(url, data=data, content_type=content_type, **extra))

    def get(self, url, **extra):
        return self._call(self.factory.get(url, **extra))

    def put(self, url, data=b"", content_type="text/xml"):
        return self._call(self.factory.put(url, data=data, content_type=content_type))


@pytest.fixture
def deployed():
    return DeployedClient()


def test_callback_urls_are_served_by_the_lean_handler():
    assert "/callbacks/wechat/1/".startswith(LEAN_PREFIXES)
    assert "/callbacks/wecom/1/".startswith(LEAN_PREFIXES)
    assert not "/admin/".startswith(LEAN_PREFIXES)
    assert not "/callbacks/_bench/empty/".startswith(LEAN_PREFIXES)
    handler = LeanWSGIHandler()
    assert handler._view_middleware == [] and handler._exception_middleware == []


@pytest.mark.django_db
def test_accepted_callback_is_stored_and_answered_success_without_middleware(deployed, callback_oa_account):
    response = CallbackClient(deployed, callback_oa_account).post(wechat_payload("text.xml", content="hi"))
    assert response.status_code == 200
    assert response.content == b"success"
    assert response.headers["Content-Length"] == "7"
    # No middleware ran: no clickjacking header, no session / CSRF cookie, no Vary: Cookie.
    assert "X-Frame-Options" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers
    row = InboundMessage.objects.get()
    assert row.parsed["Content"] == "hi"


@pytest.mark.django_db
def test_retry_through_the_lean_path_is_stored_once(deployed, callback_oa_account):
    poster = CallbackClient(deployed, callback_oa_account)
    xml = wechat_payload("subscribe.xml", openid="o-retry")
    assert poster.post(xml).status_code == 200
    assert poster.post(xml, nonce="777").status_code == 200
    assert InboundMessage.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("bad_signature", 403),
        ("replayed", 403),
        ("unknown_account", 404),
        ("oversized", 413),
        ("billion_laughs", 400),
        ("external_entity", 400),
        ("malformed", 400),
        ("wrong_app_id", 400),
        ("plaintext_to_safe", 400),
    ],
)
def test_every_rejection_holds_on_the_lean_path(deployed, callback_oa_account, settings, caplog, case, status):
    settings.CALLBACK_MAX_BODY_BYTES = 2048
    account = callback_oa_account
    if case in ("billion_laughs", "external_entity"):
        account = ChannelAccountFactory(kind="oa", encrypt_mode="compatible")
    poster = CallbackClient(deployed, account)
    if case == "bad_signature":
        response = poster.post(wechat_payload("text.xml"), signature="0" * 40)
    elif case == "replayed":
        response = poster.post(wechat_payload("text.xml"), timestamp=str(int(time.time()) - 3600))
    elif case == "unknown_account":
        response = deployed.post(reverse("callbacks:wechat", kwargs={"account_id": 987654}), data="<xml/>")
    elif case == "oversized":
        response = poster.post(wechat_payload("text.xml", content="x" * 4000))
    elif case in ("billion_laughs", "external_entity"):
        response = poster.post(wechat_payload(f"{case}.xml"), encrypted=False)
    elif case == "malformed":
        response = poster.post("", body="<xml><Encrypt>abc</Encr")
    elif case == "wrong_app_id":
        response = poster.post(wechat_payload("text.xml"), app_id="wx0000000000000bad")
    else:
        response = poster.post(wechat_payload("text.xml"), encrypted=False)
    assert response.status_code == status
    assert not InboundMessage.objects.exists()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text


@pytest.mark.django_db
def test_other_methods_are_405_on_the_lean_path(deployed, callback_oa_account):
    response = deployed.put(reverse("callbacks:wechat", kwargs={"account_id": callback_oa_account.pk}))
    assert response.status_code == 405


@pytest.mark.django_db
def test_url_verification_works_on_the_lean_path(deployed, callback_oa_account):
    ts, nonce = str(int(time.time())), "123"
    signature = signature_compute(callback_oa_account.token, ts, nonce)
    url = reverse("callbacks:wechat", kwargs={"account_id": callback_oa_account.pk})
    response = deployed.get(f"{url}?signature={signature}&timestamp={ts}&nonce={nonce}&echostr=hello")
    assert (response.status_code, response.content) == (200, b"hello")


@pytest.mark.django_db
def test_admin_keeps_sessions_csrf_and_clickjacking_protection(deployed):
    page = deployed.get(reverse("admin:login"))
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "csrftoken=" in page.headers.get("Set-Cookie", "")
    # A login POST without the CSRF token is refused by CsrfViewMiddleware.
    response = deployed.post(reverse("admin:login"), data="username=a&password=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_callback_is_stored_when_the_persistent_connection_was_dropped(callback_oa_account):
    deployed = DeployedClient(keep_connections=False)
    poster = CallbackClient(deployed, callback_oa_account)
    assert poster.post(wechat_payload("text.xml")).status_code == 200
    connection.ensure_connection()
    backend_pid = connection.connection.info.backend_pid
    # The server ends the persistent connection between two requests (restart, idle timeout, …).
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")}, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
    for _ in range(50):
        with psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")}) as check:
            if not check.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend_pid]).fetchone():
                break
        time.sleep(0.05)

    response = poster.post(wechat_payload("text.xml", content="after the drop"))

    assert response.status_code == 200
    assert InboundMessage.objects.filter(parsed__Content="after the drop").exists()
