"""Operator API: conversions reported by the brand's own systems (orders, sign-ups …)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.errors import CustomerError
from customers.models import ChannelIdentity, Customer, EngagementEvent
from customers.services import events_record_bulk
from scrm.api_fields import IdField
from scrm.errors import ApplicationError


class ConversionInSerializer(serializers.Serializer):
    customer_id = IdField(required=False)
    account_id = IdField(required=False)
    external_id = serializers.CharField(required=False, max_length=128, help_text="openid / external_userid on account_id")
    unionid = serializers.CharField(required=False, max_length=64)
    order_id = serializers.CharField(required=False, max_length=120, help_text="Makes a retried report count once.")
    name = serializers.CharField(required=False, max_length=64, default="purchase")
    value = serializers.DecimalField(required=False, max_digits=14, decimal_places=2)
    currency = serializers.CharField(required=False, max_length=8, default="CNY")
    occurred_at = serializers.DateTimeField(required=False)
    campaign_id = IdField(required=False)
    delivery_id = IdField(required=False)
    topics = serializers.ListField(child=IdField(), required=False, max_length=20)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("customer_id") and not attrs.get("unionid") and not (attrs.get("account_id") and attrs.get("external_id")):
            raise serializers.ValidationError(gettext("Give customer_id, unionid, or account_id with external_id."))
        return attrs


def _resolve_customer(data: dict[str, Any]) -> int | None:
    if data.get("customer_id"):
        return Customer.objects.filter(pk=data["customer_id"]).values_list("pk", flat=True).first()
    if data.get("unionid"):
        return Customer.objects.filter(unionids__unionid=data["unionid"]).values_list("pk", flat=True).first()
    return (
        ChannelIdentity.objects.filter(account_id=data["account_id"], external_id=data["external_id"])
        .values_list("customer_id", flat=True)
        .first()
    )


class ConversionsApi(APIView):
    """POST one conversion (object) or many (list). Unknown customers are reported back, not stored."""

    queryset = EngagementEvent.objects.none()  # permission: customers.add_engagementevent

    @extend_schema(request=ConversionInSerializer(many=False), responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT})
    def post(self, request):
        many = isinstance(request.data, list)
        if many and len(request.data) > 1000:
            raise ApplicationError(gettext("At most %(limit)s conversions per request.") % {"limit": 1000}, code=CustomerError.TOO_MANY)
        serializer = ConversionInSerializer(data=request.data, many=many)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data if many else [serializer.validated_data]
        events, unknown = [], []
        for index, data in enumerate(items):
            customer_id = _resolve_customer(data)
            if customer_id is None:
                unknown.append(index)
                continue
            properties: dict[str, Any] = {"name": data["name"], "currency": data["currency"]}
            if data.get("value") is not None:
                properties["value"] = str(data["value"])
            if data.get("order_id"):
                properties["order_id"] = data["order_id"]
            if data.get("topics"):
                properties["topics"] = data["topics"]
            events.append(
                {
                    "customer_id": customer_id,
                    "event_type": "conversion",
                    "occurred_at": data.get("occurred_at") or timezone.now(),
                    "properties": properties,
                    "account_id": data.get("account_id") if data.get("external_id") else None,
                    "campaign_id": data.get("campaign_id"),
                    "delivery_id": data.get("delivery_id"),
                    "dedupe_key": f"conversion:{data['order_id']}" if data.get("order_id") else None,
                }
            )
        if not many and unknown:
            raise ApplicationError(gettext("No customer matches this conversion."), code=CustomerError.CUSTOMER_NOT_FOUND)
        created = events_record_bulk(events) if events else []
        return Response(
            {"received": len(items), "recorded": len(created), "duplicates": len(events) - len(created), "unknown_customers": unknown},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
