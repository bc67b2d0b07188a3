"""Segments API: CRUD, validate, preview, snapshot, members, static lists (upload with unmatched rows)."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from customers.models import CustomerUnionId, EngagementEvent
from customers.segments.models import Segment, SegmentCountHistory, SegmentKind, SegmentSnapshotMember
from customers.segments.selectors import segment_customer_queryset
from customers.segments.services import segment_snapshot_create, segment_static_upload
from customers.segments.tasks import segment_count_refresh_task, segments_count_refresh_all_task
from customers.services import customer_merge, customer_set_phone, tags_assign_bulk
from tests.factories import ChannelIdentityFactory, CustomerFactory, SegmentFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def coffee_world():
    tag = TagFactory(name="coffee")
    fans = [CustomerFactory() for _ in range(5)]
    others = [CustomerFactory() for _ in range(3)]
    tags_assign_bulk(tag_ids=[tag.pk], customers=[c.pk for c in fans], source="manual")
    return tag, fans, others


def test_crud_and_rule_validation_errors_over_http(api_client, coffee_world):
    tag, fans, _ = coffee_world
    response = api_client.post("/api/v1/segments/", {"name": "Coffee", "rule": {"type": "tag", "op": "has", "tag": tag.pk}}, format="json")
    assert response.status_code == 201, response.content
    segment_id = response.json()["id"]

    bad = api_client.post("/api/v1/segments/", {"name": "Bad", "rule": {"all": [{"type": "tag", "op": "has", "tag": 999999}]}}, format="json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "segment_rule_invalid"
    assert bad.json()["detail"]["errors"] == [{"path": "$.all[0].tag", "message": "unknown tag 999999"}]

    patched = api_client.patch(f"/api/v1/segments/{segment_id}/", {"description": "fans"}, format="json")
    assert patched.status_code == 200 and patched.json()["description"] == "fans"
    cyclic = api_client.patch(f"/api/v1/segments/{segment_id}/", {"rule": {"type": "segment", "segment": segment_id}}, format="json")
    assert cyclic.status_code == 400
    assert api_client.get("/api/v1/segments/").json()["count"] == 1
    assert api_client.delete(f"/api/v1/segments/{segment_id}/").status_code == 204
    assert not Segment.objects.exists()


def test_validate_endpoint_reports_paths_and_accepts_good_rules(api_client, coffee_world):
    tag, _, _ = coffee_world
    ok = api_client.post("/api/v1/segments/validate/", {"rule": {"type": "tag", "op": "has", "tag": tag.pk}}, format="json")
    assert ok.status_code == 200 and ok.json() == {"valid": True, "errors": []}
    bad = api_client.post("/api/v1/segments/validate/", {"rule": {"not": {"type": "pushes", "op": "sometimes"}}}, format="json")
    assert bad.status_code == 400
    assert [e["path"] for e in bad.json()["detail"]["errors"]] == ["$.not.op"]


def test_preview_counts_and_samples_a_draft_rule(api_client, coffee_world):
    tag, fans, _ = coffee_world
    response = api_client.post("/api/v1/segments/preview/", {"rule": {"type": "tag", "op": "has", "tag": tag.pk}, "sample_size": 3}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    assert [row["id"] for row in body["sample"]] == sorted((c.pk for c in fans), reverse=True)[:3]


def test_snapshot_freezes_members_and_members_are_paginated(api_client, coffee_world):
    tag, fans, _ = coffee_world
    segment = SegmentFactory(kind=SegmentKind.DYNAMIC, rule={"type": "tag", "op": "has", "tag": tag.pk})
    response = api_client.post(f"/api/v1/segments/{segment.pk}/snapshots/")
    assert response.status_code == 201
    snapshot_id = response.json()["id"]
    assert response.json()["member_count"] == 5
    assert set(SegmentSnapshotMember.objects.filter(snapshot_id=snapshot_id).values_list("customer_id", flat=True)) == {c.pk for c in fans}

    # Membership changes later; the snapshot does not.
    late = CustomerFactory()
    tags_assign_bulk(tag_ids=[tag.pk], customers=[late.pk], source="manual")
    page = api_client.get(f"/api/v1/segments/{segment.pk}/members/?page_size=4").json()
    assert page["count"] == 6 and len(page["results"]) == 4
    frozen = api_client.get(f"/api/v1/segments/snapshots/{snapshot_id}/members/").json()
    assert frozen["count"] == 5
    assert api_client.delete(f"/api/v1/segments/{segment.pk}/").status_code == 409


def test_snapshot_service_inserts_each_member_once():
    customers = [CustomerFactory() for _ in range(4)]
    now = timezone.now()
    for c in customers[:2]:
        for _ in range(3):
            EngagementEvent.objects.create(customer=c, event_type="mp.purchase", occurred_at=now - timedelta(days=1))
    segment = SegmentFactory(kind=SegmentKind.DYNAMIC, rule={"type": "events", "event_type": "mp.purchase", "op": "at_least", "count": 2, "days": 30})
    snapshot = segment_snapshot_create(segment=segment)
    assert snapshot.member_count == 2
    assert sorted(snapshot.members.values_list("customer_id", flat=True)) == [customers[0].pk, customers[1].pk]
    assert snapshot.rule == segment.rule


def test_static_upload_adds_matches_and_reports_unmatched_rows(api_client):
    by_openid = ChannelIdentityFactory(external_id="oOPENID1").customer
    by_unionid = CustomerFactory()
    CustomerUnionId.objects.create(unionid="UNION-1", customer=by_unionid)
    segment = SegmentFactory()

    upload = SimpleUploadedFile("list.csv", b"openid\noOPENID1\noMISSING\n\noOPENID1\n", content_type="text/csv")
    response = api_client.post(f"/api/v1/segments/{segment.pk}/static-members/upload/", {"file": upload, "id_kind": "openid"}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["added"] == 1 and body["customers"] == 1 and body["rows"] == 3
    assert body["unmatched"] == [{"line": 3, "value": "oMISSING"}]

    report = segment_static_upload(segment=segment, content="UNION-1\nUNION-X\n", id_kind="unionid")
    assert report["added"] == 1 and report["unmatched"] == [{"line": 2, "value": "UNION-X"}]
    members = api_client.get(f"/api/v1/segments/{segment.pk}/members/").json()
    assert {row["id"] for row in members["results"]} == {by_openid.pk, by_unionid.pk}


def test_static_upload_by_phone_matches_normalized_numbers():
    customer = CustomerFactory()
    customer_set_phone(customer=customer, phone="13800138000")
    customer.save()
    segment = SegmentFactory()
    report = segment_static_upload(segment=segment, content="+86 138-0013-8000\n13900000000\n", id_kind="phone")
    assert report["added"] == 1
    assert report["unmatched"] == [{"line": 2, "value": "13900000000"}]


def test_static_members_added_from_a_search_and_removed(api_client, coffee_world):
    tag, fans, others = coffee_world
    segment = SegmentFactory()
    added = api_client.post(f"/api/v1/segments/{segment.pk}/static-members/", {"rule": {"type": "tag", "op": "has", "tag": tag.pk}}, format="json")
    assert added.json() == {"added": 5}
    again = api_client.post(f"/api/v1/segments/{segment.pk}/static-members/", {"customer_ids": [fans[0].pk, others[0].pk]}, format="json")
    assert again.json() == {"added": 1}
    removed = api_client.delete(f"/api/v1/segments/{segment.pk}/static-members/", {"customer_ids": [others[0].pk]}, format="json")
    assert removed.json() == {"removed": 1}
    assert api_client.get(f"/api/v1/segments/{segment.pk}/preview/").json()["count"] == 5


def test_segment_membership_condition_uses_static_and_dynamic_segments(coffee_world):
    tag, fans, others = coffee_world
    static = SegmentFactory(members=[fans[0], others[0]])
    dynamic = SegmentFactory(kind=SegmentKind.DYNAMIC, rule={"type": "tag", "op": "has", "tag": tag.pk})
    combined = SegmentFactory(kind=SegmentKind.DYNAMIC, rule={"all": [{"type": "segment", "segment": static.pk}, {"not": {"type": "segment", "segment": dynamic.pk}}]})
    assert list(segment_customer_queryset(combined).values_list("pk", flat=True)) == [others[0].pk]


def test_scheduled_refresh_keeps_counts_and_history(coffee_world):
    tag, _, _ = coffee_world
    segment = SegmentFactory(kind=SegmentKind.DYNAMIC, rule={"type": "tag", "op": "has", "tag": tag.pk})
    segment_count_refresh_task(segment.pk)
    segment_count_refresh_task(segment.pk)
    segment.refresh_from_db()
    assert segment.member_count == 5 and segment.counted_at is not None
    assert list(SegmentCountHistory.objects.filter(segment=segment).values_list("member_count", flat=True)) == [5, 5]
    segment_count_refresh_task(999999)  # a deleted segment is skipped
    assert segments_count_refresh_all_task.run() == 1


def test_static_members_added_from_the_operator_customer_search(api_client, coffee_world):
    tag, fans, _ = coffee_world
    segment = SegmentFactory()
    added = api_client.post(f"/api/v1/segments/{segment.pk}/static-members/", {"filters": {"tag": [tag.pk]}}, format="json")
    assert added.status_code == 200, added.content
    assert added.json() == {"added": len(fans)}


def test_merging_customers_keeps_one_snapshot_membership_and_deleting_removes_it(coffee_world):
    tag, fans, _ = coffee_world
    segment = SegmentFactory(kind=SegmentKind.DYNAMIC, rule={"type": "tag", "op": "has", "tag": tag.pk})
    snapshot = segment_snapshot_create(segment=segment)
    customer_merge(survivor=fans[0], merged=fans[1], reason="test")
    members = list(SegmentSnapshotMember.objects.filter(snapshot=snapshot).values_list("customer_id", flat=True))
    assert sorted(members) == sorted([fans[0].pk, *[c.pk for c in fans[2:]]])
    fans[2].delete()
    assert not SegmentSnapshotMember.objects.filter(customer_id=fans[2].pk).exists()


def test_static_upload_of_a_binary_file_is_a_400_that_says_so(api_client):
    segment = SegmentFactory()
    upload = SimpleUploadedFile("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", content_type="text/csv")
    response = api_client.post(f"/api/v1/segments/{segment.pk}/static-members/upload/", {"file": upload, "id_kind": "openid"}, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "csv_unreadable"


def test_adding_no_customers_to_a_static_segment_adds_nothing(api_client):
    segment = SegmentFactory()
    response = api_client.post(f"/api/v1/segments/{segment.pk}/static-members/", {"customer_ids": []}, format="json")
    # Was a 500 (EmptyResultSet from an empty IN list).
    assert response.status_code == 200, response.content
    assert response.json() == {"added": 0}
