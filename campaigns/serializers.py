"""Input and output shapes of the campaigns API (no business logic: services decide)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers

from accounts.models import ChannelAccount
from campaigns.models import Campaign, Delivery, MessageType, PriorityClass, WeComSenderRule
from customers.models import Tag
from customers.segments.models import Segment


class CampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128)
    account = serializers.PrimaryKeyRelatedField(queryset=ChannelAccount.objects.all())
    message_type = serializers.ChoiceField(choices=MessageType.choices)
    priority_class = serializers.ChoiceField(choices=PriorityClass.choices, default=PriorityClass.MARKETING)
    content = serializers.JSONField()
    segment_id = serializers.IntegerField(required=False, allow_null=True)
    topics = serializers.PrimaryKeyRelatedField(queryset=Tag.objects.all(), many=True, required=False)
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)
    holdout_percent = serializers.IntegerField(min_value=0, max_value=90, required=False)
    policy_overrides = serializers.JSONField(required=False)
    send_window_start = serializers.TimeField(required=False, allow_null=True)
    send_window_end = serializers.TimeField(required=False, allow_null=True)
    send_time_optimization = serializers.BooleanField(required=False)
    min_predicted_engagement = serializers.FloatField(required=False, allow_null=True, min_value=0)
    top_percent = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=100)
    steer_by_expected_value = serializers.BooleanField(required=False)
    click_value = serializers.FloatField(required=False, min_value=0)
    wecom_sender_rule = serializers.ChoiceField(choices=WeComSenderRule.choices, required=False)
    recurrence = serializers.CharField(required=False, allow_blank=True, max_length=64)

    def validate_content(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("content must be an object"))
        return value

    def validate_segment_id(self, value):
        if value is not None and not Segment.objects.filter(pk=value).exists():
            raise serializers.ValidationError(_("no such segment"))
        return value


class CampaignSerializer(serializers.ModelSerializer):
    topics = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "account", "message_type", "priority_class", "content", "segment_id", "topics", "state",
            "scheduled_at", "holdout_percent", "policy_overrides", "send_window_start", "send_window_end",
            "send_time_optimization", "min_predicted_engagement", "top_percent", "steer_by_expected_value", "click_value",
            "wecom_sender_rule", "recurrence", "parent", "audience_count", "suppressed_count", "planned_count", "planned_at", "sending_started_at", "completed_at",
            "created_by", "approved_by", "approved_at", "created_at", "updated_at",
        ]
        read_only_fields = fields


class ScheduleSerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False, allow_null=True)


class TestSendSerializer(serializers.Serializer):
    identity_id = serializers.IntegerField(required=False, allow_null=True)


class DeliverySerializer(serializers.ModelSerializer):
    external_id = serializers.CharField(source="identity.external_id", default="", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id", "campaign", "customer", "identity", "external_id", "account", "state", "send_after", "attempts", "msgid",
            "error_code", "error_message", "sent_at", "delivered_at", "clicked_at", "created_at", "updated_at",
        ]
        read_only_fields = fields


class DeliveryFilterSerializer(serializers.Serializer):
    campaign = serializers.IntegerField(required=False)
    customer = serializers.IntegerField(required=False)
    account = serializers.IntegerField(required=False)
    state = serializers.CharField(required=False)
    msgid = serializers.CharField(required=False)
    error_code = serializers.CharField(required=False)
    sent_after = serializers.DateTimeField(required=False)
    sent_before = serializers.DateTimeField(required=False)
