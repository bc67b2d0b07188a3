"""Operator API serializers for customers and tags. Personal data is masked unless permitted."""

from __future__ import annotations

import zoneinfo

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.models import ChannelIdentity, Customer, CustomerTag, Gender, Tag, TagGroup, TagSource
from customers.services import normalize_phone
from customers.wecom.models import WeComRelation
from customers.wecom.selectors import relations_of_customer
from scrm.api_fields import FieldsBuiltOnce

PERSONAL_DATA_PERMISSION = "customers.view_personal_data"


def mask_phone(phone: str) -> str:
    """138****1234: enough to recognise a number, not enough to call it."""
    if not phone:
        return ""
    if len(phone) >= 7:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:] if len(phone) > 7 else phone[:3] + "****"
    return "****"


def can_view_personal_data(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(PERSONAL_DATA_PERMISSION))


class PhoneField(serializers.CharField):
    """Reads the phone masked unless the requesting operator may view personal data."""

    def to_representation(self, value):
        value = super().to_representation(value)
        request = self.context.get("request")
        if request is not None and can_view_personal_data(request.user):
            return value
        return mask_phone(value)


class IdentitySerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    account_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = ChannelIdentity
        fields = [
            "id",
            "account_id",
            "kind",
            "external_id",
            "unionid",
            "follow_state",
            "followed_at",
            "unfollowed_at",
            "subscribe_scene",
            "last_interaction_at",
            "do_not_disturb",
            "owner_staff_id",
        ]
        read_only_fields = fields


class CustomerTagSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    id = serializers.IntegerField(source="tag_id", read_only=True)
    name = serializers.CharField(source="tag.name", read_only=True)
    group = serializers.CharField(source="tag.group.name", read_only=True)

    class Meta:
        model = CustomerTag
        fields = ["id", "name", "group", "source", "assigned_at"]
        read_only_fields = fields


class CustomerSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    phone = PhoneField(read_only=True)
    identities = IdentitySerializer(many=True, read_only=True)
    tags = CustomerTagSerializer(source="tag_links", many=True, read_only=True)
    # Not a URLField: an unknown avatar is "", which is not a URI (the schema must not promise one).
    avatar_url = serializers.CharField(read_only=True, help_text="An https URL, or empty when unknown.")

    class Meta:
        model = Customer
        fields = [
            "id",
            "display_name",
            "avatar_url",
            "gender",
            "city",
            "province",
            "country",
            "language",
            "timezone",
            "phone",
            "attributes",
            "source",
            "identities",
            "tags",
            "first_seen_at",
            "last_engaged_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WeComRelationTagSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True, help_text="WeCom corp tag id")
    name = serializers.CharField(read_only=True)
    group = serializers.CharField(read_only=True)


class WeComRelationSerializer(serializers.ModelSerializer):
    """One (external contact, staff member) pair on a WeCom corp."""

    account_id = serializers.IntegerField(source="identity.account_id", read_only=True)
    external_userid = serializers.CharField(source="identity.external_id", read_only=True)
    staff_name = serializers.SerializerMethodField()
    staff_departed = serializers.SerializerMethodField()
    tags = WeComRelationTagSerializer(many=True, read_only=True)
    remark_mobiles = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = WeComRelation
        fields = [
            "account_id",
            "external_userid",
            "staff_userid",
            "staff_name",
            "staff_departed",
            "state",
            "half",
            "remark",
            "description",
            "remark_mobiles",
            "tags",
            "add_way",
            "channel_state",
            "added_at",
            "removed_at",
            "last_interaction_at",
        ]
        read_only_fields = fields

    def get_staff_name(self, relation) -> str:
        return getattr(relation, "staff_name", None) or ""

    def get_staff_departed(self, relation) -> bool:
        return getattr(relation, "staff_departed_at", None) is not None


class CustomerDetailSerializer(CustomerSerializer):
    """One customer: the list's fields and the WeCom relationships (one per staff member)."""

    wecom_relations = serializers.SerializerMethodField()

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "wecom_relations"]
        read_only_fields = fields

    @extend_schema_field(WeComRelationSerializer(many=True))
    def get_wecom_relations(self, customer) -> list[dict]:
        return WeComRelationSerializer(relations_of_customer(customer_id=customer.pk), many=True).data


class CustomerUpdateSerializer(serializers.Serializer):
    """PATCH body. `attributes` merges into the existing ones; a key set to null is removed."""

    display_name = serializers.CharField(max_length=128, required=False, allow_blank=True)
    avatar_url = serializers.URLField(max_length=512, required=False, allow_blank=True)
    gender = serializers.ChoiceField(choices=Gender.choices, required=False)
    city = serializers.CharField(max_length=64, required=False, allow_blank=True)
    province = serializers.CharField(max_length=64, required=False, allow_blank=True)
    country = serializers.CharField(max_length=64, required=False, allow_blank=True)
    language = serializers.CharField(max_length=16, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    attributes = serializers.DictField(required=False, allow_empty=True)

    def validate_timezone(self, value: str) -> str:
        if value:

            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise serializers.ValidationError(_("Unknown time zone.")) from exc
        return value

    def validate_phone(self, value: str) -> str:
        if value and len(normalize_phone(value).lstrip("+")) < 5:
            raise serializers.ValidationError(_("Not a phone number."))
        return value


class TagGroupSerializer(serializers.ModelSerializer):
    tag_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = TagGroup
        fields = ["id", "name", "description", "tag_count", "created_at"]
        read_only_fields = ["id", "tag_count", "created_at"]


class TagSerializer(serializers.ModelSerializer):
    group = serializers.PrimaryKeyRelatedField(queryset=TagGroup.objects.all())
    group_name = serializers.CharField(source="group.name", read_only=True)
    customer_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Tag
        fields = ["id", "group", "group_name", "name", "description", "customer_count", "created_at"]
        read_only_fields = ["id", "group_name", "customer_count", "created_at"]


class CustomerFilterSerializer(serializers.Serializer):
    tag = serializers.ListField(child=serializers.IntegerField(), required=False)
    tag_all = serializers.ListField(child=serializers.IntegerField(), required=False)
    account = serializers.ListField(child=serializers.IntegerField(), required=False)
    follow_state = serializers.CharField(required=False, allow_blank=True)
    search = serializers.CharField(required=False, allow_blank=True)


class BulkTagSerializer(serializers.Serializer):
    """Either `customer_ids` or `filter` (the same filters as the customer list) selects customers."""

    tag_ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
    customer_ids = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=100_000)
    filter = CustomerFilterSerializer(required=False)
    source = serializers.ChoiceField(choices=TagSource.choices, default=TagSource.MANUAL)

    def validate_tag_ids(self, value: list[int]) -> list[int]:
        found = set(Tag.objects.filter(pk__in=value).values_list("pk", flat=True))
        missing = sorted(set(value) - found)
        if missing:
            raise serializers.ValidationError(_("Unknown tag ids: %(ids)s") % {"ids": missing})
        return sorted(set(value))

    def validate(self, attrs):
        if ("customer_ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError(_("Give exactly one of customer_ids or filter."))
        return attrs


class BulkTagResultSerializer(serializers.Serializer):
    matched = serializers.IntegerField(required=False)
    changed = serializers.IntegerField()


class ImportResultSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())
