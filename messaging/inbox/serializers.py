"""Shapes of the inbox API (/api/v1/conversations/…)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from messaging.inbox.models import Conversation, ConversationMessage, ConversationState, QuickReply

REPLY_KINDS = (("text", _("Text")), ("image", _("Image (media_id)")), ("miniprogrampage", _("Mini-program card")))


class ConversationFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=ConversationState.choices, required=False)
    assignee = serializers.IntegerField(required=False, min_value=1)
    account = serializers.IntegerField(required=False, min_value=1)
    mine = serializers.BooleanField(required=False, default=False)


class SlaSerializer(serializers.Serializer):
    timer = serializers.CharField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    at_risk = serializers.BooleanField()
    breached = serializers.BooleanField()


class ConversationSerializer(serializers.ModelSerializer):
    customer_name = serializers.SerializerMethodField()
    assignee_name = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id", "account", "customer", "customer_name", "state", "assignee", "assignee_name", "source", "opened_at",
            "awaiting_since", "first_response_at", "resolved_at", "last_message_at", "last_preview", "kf_account", "kf_since", "sla",
        ]
        read_only_fields = fields

    def get_assignee_name(self, obj) -> str:
        return obj.assignee.get_username() if obj.assignee_id else ""

    def get_customer_name(self, obj) -> str:
        name = obj.customer_name if hasattr(obj, "customer_name") else obj.customer.display_name
        return name or ""

    @extend_schema_field(SlaSerializer)
    def get_sla(self, obj) -> dict:
        return SlaSerializer(self.context.get("sla", {}).get(obj.pk, {"timer": None, "due_at": None, "at_risk": False, "breached": False})).data


class MessageSerializer(serializers.ModelSerializer):
    operator_name = serializers.SerializerMethodField()

    class Meta:
        model = ConversationMessage
        fields = ["id", "inbound", "msg_type", "body", "status", "reason", "operator", "operator_name", "created_at"]
        read_only_fields = fields

    def get_operator_name(self, obj) -> str:
        return obj.operator.get_username() if obj.operator_id else ""


class WindowSerializer(serializers.Serializer):
    open = serializers.BooleanField()
    kind = serializers.CharField()
    closes_at = serializers.DateTimeField(allow_null=True)
    allowed = serializers.IntegerField()
    remaining = serializers.IntegerField()


class ConversationDetailSerializer(serializers.Serializer):
    conversation = ConversationSerializer()
    window = WindowSerializer()
    messages = MessageSerializer(many=True)


class MessagesQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0, default=0, help_text=_("Only messages with a greater id (polling)."))


class ReplySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=REPLY_KINDS)
    text = serializers.CharField(required=False, allow_blank=False, max_length=600)
    media_id = serializers.CharField(required=False, max_length=128)
    title = serializers.CharField(required=False, max_length=64)
    appid = serializers.CharField(required=False, max_length=32)
    pagepath = serializers.CharField(required=False, max_length=256)
    thumb_media_id = serializers.CharField(required=False, max_length=128)
    kf_account = serializers.CharField(
        required=False, allow_blank=True, max_length=41,
        help_text=_("Send as this WeChat kf account; by default the kf account holding the conversation, if any."),
    )
    idempotency_key = serializers.CharField(max_length=64, help_text=_("The same key again returns the first attempt and sends nothing."))

    NEEDS = {"text": ("text",), "image": ("media_id",), "miniprogrampage": ("title", "appid", "pagepath", "thumb_media_id")}

    def validate(self, attrs):
        missing = [name for name in self.NEEDS[attrs["kind"]] if not attrs.get(name)]
        if missing:
            raise serializers.ValidationError({name: _("This field is required for this kind of reply.") for name in missing})
        return attrs


class TransferSerializer(serializers.Serializer):
    operator = serializers.IntegerField(min_value=1)


class PresenceSerializer(serializers.Serializer):
    online = serializers.BooleanField()


class QuickReplySerializer(serializers.ModelSerializer):
    class Meta:
        model = QuickReply
        fields = ["id", "title", "text"]


class AnalyticsQuerySerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    account = serializers.IntegerField(required=False, min_value=1)

    def validate(self, attrs):
        if attrs["until"] < attrs["since"]:
            raise serializers.ValidationError({"until": _("until must not be before since.")})
        if (attrs["until"] - attrs["since"]).days > 366:
            raise serializers.ValidationError({"until": _("At most 366 days at a time.")})
        return attrs


class DayCountSerializer(serializers.Serializer):
    day = serializers.DateField()
    conversations = serializers.IntegerField()


class MenuItemCountSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    conversations = serializers.IntegerField()


class AnalyticsSerializer(serializers.Serializer):
    conversations = serializers.IntegerField()
    resolved = serializers.IntegerField()
    resolution_rate = serializers.FloatField(allow_null=True)
    first_response_p50_seconds = serializers.FloatField(allow_null=True)
    first_response_p90_seconds = serializers.FloatField(allow_null=True)
    per_day = DayCountSerializer(many=True)
    per_menu_item = MenuItemCountSerializer(many=True)
