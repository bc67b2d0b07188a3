import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from scrm.redis import get_redis


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each xdist worker has its own Redis database; start every test from an empty one."""
    client = get_redis()
    if client is not None:
        client.flushdb()
    yield


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-admin-123")


@pytest.fixture
def api_client(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client
