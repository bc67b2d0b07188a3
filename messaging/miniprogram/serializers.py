"""Request and response shapes of the mini-program API (also the OpenAPI schema)."""

from __future__ import annotations

import json
import zoneinfo
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.models import Customer, Gender, InboxMessage, PushFrequency
from customers.services import normalize_phone

MAX_EVENTS_PER_BATCH = 500
MAX_EVENT_PROPERTIES_BYTES = 4096
# How far a client clock may be ahead, and how old a queued event may be (offline mini-program).
EVENT_FUTURE_SKEW = timedelta(minutes=10)
EVENT_MAX_AGE = timedelta(days=30)


# DRF coerces 5 → "5", "true" → True, "5" → 5. The schema promises JSON types, and a client that
# sends the wrong one has a bug it should hear about, so request fields here take only their type.
class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid_choice", input=data)
        if not any(type(data) is type(key) and data == key for key in self.choices):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


# One schema for both directions: what is stored is the normalised number (e.g. without +86), which
# need not match the input pattern, and phones imported by operators can have any shape.
@extend_schema_field({"type": "string", "maxLength": 24, "description": "Digits, optional leading +, spaces or dashes."})
class PhoneField(StrictRegexField):
    def __init__(self, **kwargs):
        super().__init__(r"^\+?[0-9][0-9 \-]{4,23}$", **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value and len(normalize_phone(value)) < 5:
            raise serializers.ValidationError(_("Phone number is too short."))
        return value


class LoginRequestSerializer(serializers.Serializer):
    appid = StrictCharField(max_length=64, help_text="The mini-program's app id (wx…), as in its project config.")
    code = StrictCharField(max_length=128, help_text="The code from wx.login().")


class RefreshRequestSerializer(serializers.Serializer):
    refresh_token = StrictCharField(max_length=128)


class TokenResponseSerializer(serializers.Serializer):
    token_type = serializers.CharField()
    access_token = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")
    refresh_token = serializers.CharField()
    refresh_expires_in = serializers.IntegerField()
    customer_id = serializers.IntegerField()


class MeSerializer(serializers.ModelSerializer):
    phone = PhoneField(required=False, allow_blank=True, max_length=24)
    timezone = StrictCharField(required=False, allow_blank=True, max_length=64)
    avatar_url = serializers.URLField(required=False, allow_blank=True, max_length=512)
    display_name = StrictCharField(required=False, allow_blank=True, max_length=128)
    city = StrictCharField(required=False, allow_blank=True, max_length=64)
    province = StrictCharField(required=False, allow_blank=True, max_length=64)
    country = StrictCharField(required=False, allow_blank=True, max_length=64)
    language = StrictCharField(required=False, allow_blank=True, max_length=16)
    gender = StrictChoiceField(choices=Gender.choices, required=False)

    class Meta:
        model = Customer
        fields = [
            "id", "display_name", "avatar_url", "gender", "city", "province", "country", "language", "timezone",
            "phone", "first_seen_at",
        ]  # fmt: skip
        read_only_fields = ["id", "first_seen_at"]

    def validate_timezone(self, value: str) -> str:
        if value:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise serializers.ValidationError(_("Unknown time zone.")) from exc
        return value


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.TimeField(help_text="Local time, e.g. 22:00")
    end = serializers.TimeField(help_text="Local time, e.g. 08:00 (may be before start: overnight)")

    def validate(self, attrs):
        # Minute precision, local wall-clock time: an offset or seconds would mean nothing here.
        attrs = {k: v.replace(second=0, microsecond=0, tzinfo=None) for k, v in attrs.items()}
        if attrs["start"] == attrs["end"]:
            raise serializers.ValidationError(_("Quiet hours need a start different from the end."))
        return attrs


@extend_schema_field({"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "example": "22:00"})
class HourMinuteField(serializers.TimeField):
    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


class QuietHoursOutSerializer(serializers.Serializer):
    start = HourMinuteField()
    end = HourMinuteField()


class TopicChoiceSerializer(serializers.Serializer):
    id = StrictIntegerField(min_value=1, max_value=2**63 - 1)
    subscribed = StrictBooleanField()


class TopicSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    group = serializers.CharField()
    subscribed = serializers.BooleanField(allow_null=True, help_text="null: no explicit choice")


class PreferencesSerializer(serializers.Serializer):
    frequency = StrictChoiceField(choices=PushFrequency.choices)
    quiet_hours = QuietHoursSerializer(allow_null=True)
    topics = TopicChoiceSerializer(many=True, max_length=200)

    def validate_topics(self, value):
        ids = [item["id"] for item in value]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError(_("A topic appears twice."))
        return value


class PreferencesResponseSerializer(serializers.Serializer):
    frequency = serializers.ChoiceField(choices=PushFrequency.choices)
    quiet_hours = QuietHoursOutSerializer(allow_null=True)
    topics = TopicSerializer(many=True)


class SubscribeResultSerializer(serializers.Serializer):
    template_id = StrictCharField(max_length=128)
    status = StrictChoiceField(choices=["accept", "reject", "ban", "filter"])


class SubscriptionsRequestSerializer(serializers.Serializer):
    request_id = StrictRegexField(
        r"^[A-Za-z0-9_.:\-]+$", max_length=64, required=False,
        help_text="Client id of this report; a retried report with the same id is applied once.",
    )  # fmt: skip
    results = SubscribeResultSerializer(many=True, min_length=1, max_length=20)


class CreditSerializer(serializers.Serializer):
    template_id = serializers.CharField()
    remaining = serializers.IntegerField()


class SubscriptionsResponseSerializer(serializers.Serializer):
    applied = serializers.BooleanField(help_text="False when this request_id was already applied.")
    credits = CreditSerializer(many=True)


class EventSerializer(serializers.Serializer):
    id = StrictRegexField(r"^[A-Za-z0-9_.:\-]+$", max_length=64, help_text="Client event id, unique per client.")
    type = StrictRegexField(
        r"^[a-z][a-z0-9_]{0,39}$", help_text="page_view, product_view, add_to_cart, purchase, share … (stored as mp.<type>)"
    )
    occurred_at = serializers.DateTimeField(required=False)
    properties = serializers.DictField(required=False, help_text=f"At most {MAX_EVENT_PROPERTIES_BYTES} bytes as JSON.")

    def validate_occurred_at(self, value):
        now = timezone.now()
        if value > now + EVENT_FUTURE_SKEW:
            raise serializers.ValidationError(_("Event time is in the future."))
        if value < now - EVENT_MAX_AGE:
            raise serializers.ValidationError(_("Event is older than 30 days."))
        return value

    def validate_properties(self, value):
        if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_EVENT_PROPERTIES_BYTES:
            raise serializers.ValidationError(_("Properties exceed %(limit)s bytes.") % {"limit": MAX_EVENT_PROPERTIES_BYTES})
        return value

    def validate(self, attrs):
        attrs.setdefault("occurred_at", timezone.now())
        return attrs


class EventBatchSerializer(serializers.Serializer):
    """The envelope. Items are validated one by one so that a bad event does not reject the batch."""

    events = serializers.ListField(
        child=serializers.JSONField(allow_null=True), min_length=1, max_length=MAX_EVENTS_PER_BATCH
    )


class EventErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.CharField(allow_null=True)
    errors = serializers.DictField()


class EventBatchResponseSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Stored now.")
    duplicates = serializers.IntegerField(help_text="Already stored earlier (same client id).")
    rejected = serializers.IntegerField()
    errors = EventErrorSerializer(many=True)


class InboxMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = InboxMessage
        fields = ["id", "title", "body", "link_url", "mp_page", "created_at", "read_at"]
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    detail = serializers.JSONField(allow_null=True)
