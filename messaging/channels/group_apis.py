"""Operator API for WeCom customer groups (客户群): list and detail with members and daily joins and
leaves, and the group welcome templates (thin views: selectors read, services write)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AccountKind, ChannelAccount
from customers.wecom.models import WeComGroupChat
from customers.wecom.selectors import group_daily_stats, group_member_counts, group_members, groups_list
from messaging.channels.group_welcome import (
    group_welcome_create,
    group_welcome_delete,
    group_welcome_fetch,
    group_welcome_update,
)
from messaging.channels.models import GroupWelcomeTemplate
from scrm.pagination import DefaultPagination, paginated


class WeComGroupOutput(serializers.ModelSerializer):
    owner_name = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = WeComGroupChat
        fields = ["id", "account", "chat_id", "name", "owner_userid", "owner_name", "notice", "status", "member_count",
                  "created_at_wecom", "dismissed_at", "synced_at"]


class GroupMemberOutput(serializers.Serializer):
    member_id = serializers.CharField()
    member_type = serializers.IntegerField(help_text="1 staff member, 2 external contact")
    customer_id = serializers.IntegerField(allow_null=True)
    customer_name = serializers.SerializerMethodField()
    join_time = serializers.DateTimeField(allow_null=True)
    join_scene = serializers.IntegerField(help_text="1 invited, 2 by link, 3 by QR code")
    left_at = serializers.DateTimeField(allow_null=True)

    def get_customer_name(self, obj) -> str:
        return str(obj.customer) if obj.customer_id else ""


class GroupDayOutput(serializers.Serializer):
    day = serializers.DateField()
    joins = serializers.IntegerField()
    leaves = serializers.IntegerField()


class GroupDetailOutput(WeComGroupOutput):
    counts = serializers.SerializerMethodField()
    members = serializers.SerializerMethodField()
    daily_stats = serializers.SerializerMethodField()

    class Meta(WeComGroupOutput.Meta):
        fields = [*WeComGroupOutput.Meta.fields, "counts", "members", "daily_stats"]

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField(), help_text="staff, external, linked"))
    def get_counts(self, obj) -> dict[str, int]:
        return group_member_counts(group_id=obj.pk)

    @extend_schema_field(GroupMemberOutput(many=True))
    def get_members(self, obj) -> list[dict]:
        return GroupMemberOutput(group_members(group_id=obj.pk), many=True).data

    @extend_schema_field(GroupDayOutput(many=True))
    def get_daily_stats(self, obj) -> list[dict]:
        return GroupDayOutput(group_daily_stats(group_id=obj.pk, days=self.context.get("days", 30)), many=True).data


class GroupQuery(serializers.Serializer):
    account = serializers.IntegerField(required=False, min_value=1)
    owner = serializers.CharField(required=False, max_length=64, allow_blank=True, default="")
    q = serializers.CharField(required=False, max_length=128, allow_blank=True, default="", help_text="name contains")
    include_dismissed = serializers.BooleanField(required=False, default=False)


class DetailQuery(serializers.Serializer):
    days = serializers.IntegerField(required=False, min_value=1, max_value=365, default=30)


class GroupListApi(APIView):
    queryset = WeComGroupChat.objects.all()

    _page = paginated(WeComGroupOutput, "WeComGroup")

    @extend_schema(
        operation_id="v1_wecom_groups_list",
        parameters=[
            *_page["parameters"],
            OpenApiParameter("account", int, description="A WeCom corp account id"),
            OpenApiParameter("owner", str, description="The owner's staff userid"),
            OpenApiParameter("q", str, description="Name contains"),
            OpenApiParameter("include_dismissed", bool),
        ],
        responses=_page["responses"],
    )
    def get(self, request):
        query = GroupQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        groups = groups_list(account_id=q.get("account"), owner_userid=q["owner"], name_contains=q["q"],
                             include_dismissed=q["include_dismissed"])
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(groups, request, view=self)
        return paginator.get_paginated_response(WeComGroupOutput(page, many=True).data)


class GroupDetailApi(APIView):
    queryset = WeComGroupChat.objects.all()

    @extend_schema(parameters=[OpenApiParameter("days", int, description="Days of joins and leaves (default 30)")],
                   responses=GroupDetailOutput)
    def get(self, request, pk: int):
        query = DetailQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        group = get_object_or_404(groups_list(include_dismissed=True), pk=pk)
        return Response(GroupDetailOutput(group, context={"days": query.validated_data["days"]}).data)


# --- group welcome templates (入群欢迎语素材) -------------------------------------------------------


class WelcomeTemplateOutput(serializers.ModelSerializer):
    class Meta:
        model = GroupWelcomeTemplate
        fields = ["id", "account", "name", "text", "attachment", "notify", "template_id", "created_at", "updated_at"]


class WelcomeTemplateInput(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=ChannelAccount.objects.filter(kind=AccountKind.WECOM))
    name = serializers.CharField(max_length=128)
    text = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                 help_text="At most 3000 bytes; %NICKNAME% becomes the joining customer's nickname.")
    attachment = serializers.JSONField(required=False, allow_null=True, default=None,
                                       help_text='One attachment spec: {"msgtype": "image"|"link"|"miniprogram"|"file"|"video", …}')
    notify = serializers.BooleanField(required=False, default=True)


class WelcomeTemplateUpdate(serializers.Serializer):
    name = serializers.CharField(max_length=128, required=False)
    text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    attachment = serializers.JSONField(required=False, allow_null=True)


class WelcomeTemplateListApi(APIView):
    queryset = GroupWelcomeTemplate.objects.all()

    @extend_schema(operation_id="v1_wecom_group_welcome_templates_list", **paginated(WelcomeTemplateOutput, "GroupWelcomeTemplate"))
    def get(self, request):
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(GroupWelcomeTemplate.objects.order_by("-created_at", "-pk"), request, view=self)
        return paginator.get_paginated_response(WelcomeTemplateOutput(page, many=True).data)

    @extend_schema(request=WelcomeTemplateInput, responses={201: WelcomeTemplateOutput})
    def post(self, request):
        data = WelcomeTemplateInput(data=request.data)
        data.is_valid(raise_exception=True)
        template = group_welcome_create(**data.validated_data, user=request.user)
        return Response(WelcomeTemplateOutput(template).data, status=status.HTTP_201_CREATED)


class WelcomeTemplateDetailApi(APIView):
    queryset = GroupWelcomeTemplate.objects.all()

    def _template(self, pk: int) -> GroupWelcomeTemplate:
        return get_object_or_404(GroupWelcomeTemplate.objects.select_related("account"), pk=pk)

    @extend_schema(parameters=[OpenApiParameter("remote", bool, description="Also read WeCom's copy (group_welcome_template/get)")],
                   responses=WelcomeTemplateOutput)
    def get(self, request, pk: int):
        template = self._template(pk)
        data = dict(WelcomeTemplateOutput(template).data)
        if request.query_params.get("remote") in ("1", "true"):
            data["remote"] = group_welcome_fetch(template=template)
        return Response(data)

    @extend_schema(request=WelcomeTemplateUpdate, responses=WelcomeTemplateOutput)
    def patch(self, request, pk: int):
        template = self._template(pk)
        data = WelcomeTemplateUpdate(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        template = group_welcome_update(
            template=template, name=given.get("name", template.name), text=given.get("text", template.text),
            attachment=given.get("attachment", _as_spec(template.attachment)),
        )
        return Response(WelcomeTemplateOutput(template).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        group_welcome_delete(template=self._template(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _as_spec(attachment):
    return dict(attachment) if attachment else None
