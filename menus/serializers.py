"""Serializers of the menus API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import AccountKind, ChannelAccount
from customers.models import Segment
from menus.models import Menu, MenuVersion
from scrm.api_fields import IdField


class MenuVersionOutput(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()
    buttons = serializers.JSONField()

    class Meta:
        model = MenuVersion
        fields = ["id", "menu", "number", "buttons", "note", "created_by", "created_at", "published_at"]

    def get_created_by(self, obj: MenuVersion) -> str:
        return obj.created_by.get_username() if obj.created_by else ""


class MenuOutput(serializers.ModelSerializer):
    is_default = serializers.BooleanField(read_only=True)
    published_version_number = serializers.SerializerMethodField()
    latest_version = serializers.SerializerMethodField()

    class Meta:
        model = Menu
        fields = [
            "id",
            "account",
            "name",
            "segment",
            "is_default",
            "published_version",
            "published_version_number",
            "published_at",
            "wechat_menuid",
            "wechat_tag_id",
            "latest_version",
            "created_at",
            "updated_at",
        ]

    def get_published_version_number(self, obj: Menu) -> int | None:
        return obj.published_version.number if obj.published_version_id else None

    @extend_schema_field(MenuVersionOutput(allow_null=True))
    def get_latest_version(self, obj: Menu) -> dict | None:
        latest = obj.versions.order_by("-number").first()
        return MenuVersionOutput(latest).data if latest else None


class MenuCreateInput(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=ChannelAccount.objects.filter(kind=AccountKind.OA))
    name = serializers.CharField(max_length=64)
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.all(), required=False, allow_null=True, default=None)


class MenuUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=64)


class MenuButtonsInput(serializers.Serializer):
    buttons = serializers.ListField(child=serializers.DictField(), max_length=20, help_text="WeChat's `button` array; key items carry `action`, any item `topics`.")
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class MenuValidateInput(MenuButtonsInput):
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.all(), required=False, allow_null=True, default=None)


class MenuProblem(serializers.Serializer):
    path = serializers.CharField()
    limit = serializers.CharField()
    message = serializers.CharField()


class MenuValidateOutput(serializers.Serializer):
    valid = serializers.BooleanField()
    problems = MenuProblem(many=True)


class MenuPublishInput(serializers.Serializer):
    version = IdField(required=False, allow_null=True, default=None, help_text="A version of this menu; the newest when left out.")


class AccountQuery(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=ChannelAccount.objects.filter(kind=AccountKind.OA))


class PreviewQuery(AccountQuery):
    customer = IdField()


class AnalyticsQuery(AccountQuery):
    start = serializers.DateField()
    end = serializers.DateField()

    def validate(self, attrs):
        from menus.analytics import MAX_DAYS

        if attrs["end"] < attrs["start"] or (attrs["end"] - attrs["start"]).days >= MAX_DAYS:
            raise serializers.ValidationError({"end": f"end is on or after start, at most {MAX_DAYS} days in all."})
        return attrs


class MenuPreviewOutput(serializers.Serializer):
    openid = serializers.CharField()
    button = serializers.ListField(child=serializers.DictField())
    menu_id = serializers.IntegerField(allow_null=True)
    menu_name = serializers.CharField()
    segment_id = serializers.IntegerField(allow_null=True)


class DailyRow(serializers.Serializer):
    day = serializers.DateField()
    menu_id = serializers.IntegerField()
    menu_version_id = serializers.IntegerField(allow_null=True)
    menu_version = serializers.IntegerField(allow_null=True)
    segment_id = serializers.IntegerField(allow_null=True)
    item = serializers.CharField(allow_null=True)
    item_name = serializers.CharField(allow_blank=True)
    clicks = serializers.IntegerField()
    unique_clickers = serializers.IntegerField()


class ItemRow(serializers.Serializer):
    menu_id = serializers.IntegerField()
    menu_version_id = serializers.IntegerField(allow_null=True)
    menu_version = serializers.IntegerField(allow_null=True)
    segment_id = serializers.IntegerField(allow_null=True)
    item = serializers.CharField(allow_null=True)
    item_name = serializers.CharField(allow_blank=True)
    customers = serializers.IntegerField()
    clicks = serializers.IntegerField()
    conversations_7d = serializers.IntegerField()
    conversions_7d = serializers.IntegerField()


class MenuAnalyticsOutput(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    follow_up_days = serializers.IntegerField()
    daily = DailyRow(many=True)
    items = ItemRow(many=True)
