"""Admin segment builder: the form with the builder and JSON, the live count endpoint, CSV upload."""

import json
import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from customers.segments import services
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


def _builder_config(html: str) -> dict:
    match = re.search(r'<script id="id_rule_builder_config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the builder's config is on the page"
    config = json.loads(match.group(1))
    assert isinstance(config, dict)
    return config


def test_add_page_config_is_valid_json_and_the_rule_starts_as_everyone(admin_client):
    html = admin_client.get("/admin/customers/segment/add/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    config = _builder_config(html)
    assert config["preview_url"] == "/admin/customers/segment/preview/" and config["segment_id"] is None
    assert config["customer_url"] == "/admin/customers/customer/0/360/"  # sample members open their 360 page
    # The textarea holds an empty group, never "null" (the builder used to crash reading null.all).
    textarea = re.search(r"<textarea[^>]*segment-rule-json[^>]*>(.*?)</textarea>", html, re.S).group(1)
    assert json.loads(unescape(textarea)) == {"all": []}
    assert "customers/segment_builder.js" in html


def test_builder_vocabulary_covers_the_rule_language_and_is_chinese(admin_client):
    from customers.segments.language import (
        CHANNEL_OPS,
        CONDITION_KEYS,
        COUNT_OPS,
        ENGAGEMENT_OPS,
        FIELD_OPS,
        FIELD_TYPES,
        PUSH_OPS,
        TAG_OPS,
    )

    zh = _builder_config(admin_client.get("/admin/customers/segment/add/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode())
    en = _builder_config(admin_client.get("/admin/customers/segment/add/", HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert {t["value"] for t in zh["types"]} == set(CONDITION_KEYS)
    for kind, ops in (("tag", TAG_OPS), ("channel", CHANNEL_OPS), ("events", COUNT_OPS), ("engagement", ENGAGEMENT_OPS), ("pushes", PUSH_OPS)):
        assert {o["value"] for o in zh["ops"][kind]} == ops, kind
    assert {ftype: {o["value"] for o in ops} for ftype, ops in zh["field_ops"].items()} == FIELD_OPS
    assert {f["value"] for f in zh["fields"]} == set(FIELD_TYPES)

    def words(config):
        return ([t["label"] for t in config["types"]] + [o["label"] for ops in config["ops"].values() for o in ops]
                + [o["label"] for ops in config["field_ops"].values() for o in ops] + [f["label"] for f in config["fields"]]
                + [e["label"] for e in config["event_types"]] + list(config["labels"].values()) + list(config["hints"].values()))

    untranslated = [w for w, e in zip(words(zh), words(en), strict=True) if w == e]
    assert not untranslated
    assert all(re.search(r"[\u4e00-\u9fff]", w) for w in words(zh))
    assert zh["labels"]["all"] == "满足以下全部条件"


def test_change_page_shows_the_size_history_chart(admin_client):
    segment = SegmentFactory(kind="dynamic", rule={"all": [{"type": "engagement", "op": "last_engaged_within_days", "value": 30}]})
    services.segment_count_refresh(segment=segment)
    services.segment_count_refresh(segment=segment)
    html = admin_client.get(f"/admin/customers/segment/{segment.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    config = _builder_config(html)
    assert config["segment_id"] == segment.pk
    assert 'data-testid="segment-history-chart"' in html and "人数变化" in html
    chart = re.search(r'data-testid="segment-history".*?data-value="([^"]*)"', html, re.S).group(1)
    data = json.loads(unescape(chart))
    assert data["datasets"][0]["data"] == [0, 0]
    textarea = re.search(r"<textarea[^>]*segment-rule-json[^>]*>(.*?)</textarea>", html, re.S).group(1)
    assert json.loads(unescape(textarea)) == segment.rule


def test_static_and_invalid_segments_render_and_invalid_rules_are_explained_in_chinese(admin_client):
    static = SegmentFactory(kind="static")
    assert admin_client.get(f"/admin/customers/segment/{static.pk}/change/").status_code == 200
    broken = SegmentFactory(kind="dynamic", rule={"all": [{"type": "tag", "op": "has"}]})
    assert admin_client.get(f"/admin/customers/segment/{broken.pk}/change/").status_code == 200
    response = admin_client.post("/admin/customers/segment/add/", {
        "name": "z", "kind": "dynamic", "description": "", "rule": json.dumps({"all": [{"type": "tag", "op": "has"}]}),
    }, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert "请选择一个标签。 ($.all[0].tag)" in unescape(response.content.decode())
    # A static segment keeps no rule, whatever the textarea held.
    created = admin_client.post("/admin/customers/segment/add/", {"name": "s", "kind": "static", "description": "", "rule": "null"})
    assert created.status_code == 302 and Segment.objects.get(name="s").rule == {}
    # An empty rule on a dynamic segment is everyone.
    created = admin_client.post("/admin/customers/segment/add/", {"name": "d", "kind": "dynamic", "description": "", "rule": ""})
    assert created.status_code == 302 and Segment.objects.get(name="d").rule == {"all": []}


def test_preview_rejects_a_body_that_is_not_an_object(admin_client):
    for body in ("[1, 2]", "3", "not json"):
        response = admin_client.post("/admin/customers/segment/preview/", body, content_type="application/json")
        assert response.status_code == 400 and response.json()["errors"][0]["path"] == "$"


def test_preview_sample_has_what_the_builder_links_and_shows(admin_client):
    customer = CustomerFactory(display_name="Sampled", city="杭州")
    response = admin_client.post("/admin/customers/segment/preview/", json.dumps({"rule": {"all": []}}), content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["sample"][0]["id"] == customer.pk
    assert set(body["sample"][0]) >= {"id", "display_name", "city", "last_engaged_at"}
