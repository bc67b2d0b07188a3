from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers

from customers.segments.models import Segment, SegmentCountHistory, SegmentKind, SegmentSnapshot
from customers.segments.services import UPLOAD_ID_KINDS
from scrm.api_fields import IdField


class SegmentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["id", "name", "kind", "rule", "description", "member_count", "counted_at", "created_at", "updated_at"]


class SegmentCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128)
    kind = serializers.ChoiceField(choices=SegmentKind.choices, default=SegmentKind.DYNAMIC)
    rule = serializers.JSONField(required=False, allow_null=True)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class SegmentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128, required=False)
    rule = serializers.JSONField(required=False)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)


class RuleInputSerializer(serializers.Serializer):
    rule = serializers.JSONField()
    # The segment being edited, so a rule referring back to it is reported as a cycle.
    segment_id = serializers.IntegerField(required=False, allow_null=True)
    sample_size = serializers.IntegerField(required=False, min_value=0, max_value=100, default=20)


class PreviewOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    duration_ms = serializers.IntegerField()
    sample = serializers.ListField(child=serializers.DictField())


class SnapshotOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = SegmentSnapshot
        fields = ["id", "segment", "kind", "rule", "member_count", "created_at"]


class CountHistoryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = SegmentCountHistory
        fields = ["member_count", "counted_at", "duration_ms"]


class MemberOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    city = serializers.CharField()
    last_engaged_at = serializers.DateTimeField(allow_null=True)


class StaticUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    id_kind = serializers.ChoiceField(choices=UPLOAD_ID_KINDS)


class StaticAddSerializer(serializers.Serializer):
    customer_ids = serializers.ListField(child=IdField(), required=False, max_length=100_000)
    # A customer search expressed as a rule: every customer it matches now is added.
    rule = serializers.JSONField(required=False)
    # The operator customer search's filters (tag, tag_all, account, follow_state, search).
    filters = serializers.DictField(required=False)

    def validate(self, attrs):
        if sum(key in attrs for key in ("customer_ids", "rule", "filters")) != 1:
            raise serializers.ValidationError(_("Give exactly one of customer_ids, rule or filters."))
        return attrs


class StaticRemoveSerializer(serializers.Serializer):
    customer_ids = serializers.ListField(child=IdField(), max_length=100_000)
