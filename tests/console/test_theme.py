"""The console's own assets: its icon is declared and served locally (no /favicon.ico 404)."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_console_pages_declare_their_icon_and_it_is_served():
    client = Client()
    page = client.get("/admin/login/").content.decode()
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml"', page)
    assert icon, "the console declares no icon: browsers then ask /favicon.ico"
    response = client.get(icon.group(1))
    assert response.status_code == 200 and b"<svg" in b"".join(response.streaming_content)
