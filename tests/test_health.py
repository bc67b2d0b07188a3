import pytest
from django.test import override_settings

from scrm.redis import get_redis

pytestmark = pytest.mark.django_db


def test_healthz_is_200_when_database_and_redis_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    assert "PostgreSQL" in body["backends"]


@pytest.fixture
def redis_down():
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    get_redis.cache_clear()
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        yield
    get_redis.cache_clear()


def test_healthz_is_503_naming_redis_when_redis_is_down(client, redis_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["down"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("down")


def test_healthz_does_not_leak_credentials(client):
    with override_settings(REDIS_URL="redis://:supersecretpw@127.0.0.1:1/0"):
        get_redis.cache_clear()
        try:
            text = client.get("/healthz").content.decode()
        finally:
            get_redis.cache_clear()
    assert "supersecretpw" not in text
