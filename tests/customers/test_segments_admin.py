"""Admin segment builder: the form with the builder and JSON, the live count endpoint, CSV upload."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from customers.segments.models import Segment, SegmentStaticMember
from customers.services import tags_assign_bulk
from tests.factories import ChannelIdentityFactory, CustomerFactory, SegmentFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_add_page_shows_the_builder_beside_the_json(admin_client):
    tag = TagFactory(name="coffee")
    page = admin_client.get("/admin/customers/segment/add/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "segment-builder" in html and "segment-rule-json" in html
    assert "/admin/customers/segment/preview/" in html
    assert f'"label": "{tag}"' in html or "coffee" in html


def test_live_count_endpoint_counts_and_reports_errors(admin_client):
    tag = TagFactory()
    customers = [CustomerFactory() for _ in range(3)]
    tags_assign_bulk(tag_ids=[tag.pk], customers=[c.pk for c in customers[:2]], source="manual")
    ok = admin_client.post("/admin/customers/segment/preview/", json.dumps({"rule": {"all": [{"type": "tag", "op": "has", "tag": tag.pk}]}}), content_type="application/json")
    assert ok.status_code == 200 and ok.json()["count"] == 2
    bad = admin_client.post("/admin/customers/segment/preview/", json.dumps({"rule": {"all": [{"type": "tag", "op": "has"}]}}), content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["errors"] == [{"path": "$.all[0].tag", "message": "expected a tag id (a positive integer)"}]


def test_saving_an_invalid_rule_shows_the_paths(admin_client):
    response = admin_client.post("/admin/customers/segment/add/", {
        "name": "x", "kind": "dynamic", "description": "", "rule": json.dumps({"any": [{"type": "pushes", "op": "often"}]}),
        "count_history-TOTAL_FORMS": "0", "count_history-INITIAL_FORMS": "0",
    })
    assert response.status_code == 200
    assert "$.any[0].op" in response.content.decode()
    assert not Segment.objects.exists()
    created = admin_client.post("/admin/customers/segment/add/", {
        "name": "y", "kind": "dynamic", "description": "", "rule": json.dumps({"all": []}),
        "count_history-TOTAL_FORMS": "0", "count_history-INITIAL_FORMS": "0",
    })
    assert created.status_code == 302
    assert Segment.objects.get().rule == {"all": []}


def test_static_upload_page_reports_unmatched_rows(admin_client):
    ChannelIdentityFactory(external_id="oKNOWN")
    segment = SegmentFactory()
    page = admin_client.post(f"/admin/customers/segment/{segment.pk}/upload/", {
        "file": SimpleUploadedFile("l.csv", b"oKNOWN\noUNKNOWN\n"), "id_kind": "openid",
    })
    assert page.status_code == 200
    assert "oUNKNOWN" in page.content.decode()
    assert SegmentStaticMember.objects.filter(segment=segment).count() == 1
