"""Production settings (issue 14, defect 9): `check --deploy` clean of security warnings, weak secret
keys refused, TLS behind a proxy, HTTPS redirect that spares /healthz and the callbacks, login
throttling on the admin and the token endpoint, and API docs behind a login."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k7Hq2-vN9xR4tZp8LmW3sYb6JcF1dGe5aUi0oPnQrSt-XwVyBzCk"  # 52 characters, varied
FERNET = Fernet.generate_key().decode()


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG", "SCRM_TESTING", "PYTEST_XDIST_WORKER"}}
    return subprocess.run(
        [sys.executable, *args], env={**clean, "DJANGO_SETTINGS_MODULE": "scrm.settings", **env},
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


PRODUCTION = {"DEBUG": "false", "SECRET_KEY": STRONG_KEY, "FIELD_ENCRYPTION_KEY": FERNET, "ALLOWED_HOSTS": "scrm.example.com"}


def test_check_deploy_raises_no_security_warning_in_production():
    result = _run(["manage.py", "check", "--deploy"], PRODUCTION)
    output = result.stdout + result.stderr
    security = [line for line in output.splitlines() if "(security." in line]
    assert security == [], output[-3000:]


@pytest.mark.parametrize("key", ["x", "x" * 60, "abcd" * 20, "django-insecure-" + STRONG_KEY, "short-but-varied-0123456789"])
def test_weak_secret_key_is_refused_in_production_naming_it(key):
    result = _run(["-c", "import django; django.setup()"], {**PRODUCTION, "SECRET_KEY": key})
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_production_settings_behind_a_tls_proxy():
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.SECURE_PROXY_SSL_HEADER, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.API_DOCS_PUBLIC, s.WECHAT_SANDBOX_URLS)")
    result = _run(["-c", code], {**PRODUCTION, "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["('HTTP_X_FORWARDED_PROTO',", "'https')", "31536000", "True", "True", "False", "[]"]


def test_development_keeps_http_and_open_docs():
    code = "import django; django.setup(); from django.conf import settings as s; print(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.API_DOCS_PUBLIC)"
    result = _run(["-c", code], {"DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "False", "True"]


@pytest.mark.django_db
def test_https_redirect_spares_healthz_and_callbacks_and_honours_the_proxy_header(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()  # built after the override: SecurityMiddleware reads the settings then
    assert client.get("/api/v1/customers/").status_code == 301
    assert client.get("/api/v1/customers/", HTTP_X_FORWARDED_PROTO="https").status_code == 401
    assert client.get("/healthz").status_code in (200, 503)
    # A callback POST is answered, not redirected (WeChat does not follow redirects).
    assert client.post("/callbacks/wechat/999999/", b"<xml/>", content_type="text/xml").status_code == 404


@pytest.mark.django_db
def test_token_endpoint_throttles_a_username_after_failed_logins(settings):
    settings.LOGIN_THROTTLE_FAILURES = 3
    name = f"victim-{uuid.uuid4().hex[:8]}"
    get_user_model().objects.create_user(name, password="right-password-123")
    client = APIClient()
    for _ in range(3):
        assert client.post("/api/v1/auth/token/", {"username": name, "password": "wrong"}, format="json").status_code == 400
    refused = client.post("/api/v1/auth/token/", {"username": name, "password": "right-password-123"}, format="json")
    assert refused.status_code == 429, refused.content
    assert refused.json()["code"] == "throttled"
    other = f"other-{uuid.uuid4().hex[:8]}"
    get_user_model().objects.create_user(other, password="right-password-123")
    assert client.post("/api/v1/auth/token/", {"username": other, "password": "right-password-123"}, format="json").status_code == 200


@pytest.mark.django_db
def test_admin_login_throttles_a_username_after_failed_logins(settings):
    settings.LOGIN_THROTTLE_FAILURES = 3
    name = f"admin-{uuid.uuid4().hex[:8]}"
    get_user_model().objects.create_superuser(name, f"{name}@example.com", "right-password-123")
    client = Client()
    for _ in range(3):
        assert client.post("/admin/login/", {"username": name, "password": "wrong"}).status_code == 200
    refused = client.post("/admin/login/", {"username": name, "password": "right-password-123"})
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_api_docs_need_a_login_unless_public(settings):
    settings.API_DOCS_PUBLIC = False
    anonymous = Client()
    assert anonymous.get("/api/schema/").status_code in (401, 403)
    assert anonymous.get("/api/docs/").status_code in (401, 403)
    operator = Client()
    operator.force_login(get_user_model().objects.create_user(f"op-{uuid.uuid4().hex[:8]}", password="pw-123456789", is_staff=True))
    assert operator.get("/api/schema/").status_code == 200
    assert operator.get("/api/docs/").status_code == 200
    settings.API_DOCS_PUBLIC = True
    assert anonymous.get("/api/schema/").status_code == 200
