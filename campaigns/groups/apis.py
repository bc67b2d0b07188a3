"""A group campaign's groups and their outcome: GET /api/v1/campaigns/{id}/groups/ (?state=)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from campaigns.apis import _CampaignActionApi
from campaigns.groups.models import GroupSend, GroupSendState
from scrm.pagination import DefaultPagination, paginated


class GroupSendOutput(serializers.ModelSerializer):
    name = serializers.CharField(source="group.name", read_only=True)

    class Meta:
        model = GroupSend
        fields = ["id", "group", "chat_id", "name", "owner_userid", "members", "state", "reason", "msgid", "error_code",
                  "sent_at", "delivered_at"]


class GroupSendQuery(serializers.Serializer):
    state = serializers.ChoiceField(choices=GroupSendState.choices, required=False)


class CampaignGroupsApi(_CampaignActionApi):
    _page = paginated(GroupSendOutput, "GroupSend")

    @extend_schema(parameters=[*_page["parameters"], OpenApiParameter("state", str, enum=GroupSendState.values)],
                   responses=_page["responses"])
    def get(self, request, pk: int):
        campaign = self.campaign(pk)
        query = GroupSendQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = GroupSend.objects.filter(campaign=campaign).select_related("group").order_by("pk")
        if query.validated_data.get("state"):
            rows = rows.filter(state=query.validated_data["state"])
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(GroupSendOutput(page, many=True).data)
