"""/api/docs/ works on a deployment without internet access: Swagger UI comes from our own static
files (drf-spectacular-sidecar), never from a CDN."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|["']([^"'\s]+\.(?:js|css|png))["']""")


def test_api_docs_load_every_asset_from_the_server_itself():
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("docs", "docs@example.com", "pw"))
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = {a or b for a, b in ASSET.findall(html)}
    external = sorted(a for a in assets if re.match(r"^(https?:)?//", a))
    assert external == [], external
    local_files = sorted(a for a in assets if a.startswith("/static/"))
    assert any(a.endswith("swagger-ui-bundle.js") for a in local_files), local_files
    for asset in local_files:
        assert client.get(asset).status_code == 200, asset


def test_the_schema_generates_without_warnings_or_errors(tmp_path):
    # A warning means a lie in the schema: an APIView left out, a paginated list declared as a bare
    # array, two operations sharing an operationId, an enum named KindE12Enum.
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yml"))
