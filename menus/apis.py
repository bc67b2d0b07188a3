"""Operator API for custom menus (thin views: validate, call one service or selector, serialize)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from menus import selectors, services
from menus.analytics import menu_analytics
from menus.models import Menu, MenuVersion
from menus.serializers import (
    AccountQuery,
    AnalyticsQuery,
    MenuAnalyticsOutput,
    MenuButtonsInput,
    MenuCreateInput,
    MenuOutput,
    MenuPreviewOutput,
    MenuPublishInput,
    MenuUpdateInput,
    MenuValidateInput,
    MenuValidateOutput,
    MenuVersionOutput,
    PreviewQuery,
)
from menus.validation import menu_problems
from scrm.pagination import PAGE_PARAMETERS, DefaultPagination, paginated
from scrm.permissions import OperatorModelPermissions


class ReadingPostPermissions(OperatorModelPermissions):
    """A POST that only reads (validate) needs the view permission."""

    perms_map = {**OperatorModelPermissions.perms_map, "POST": ["%(app_label)s.view_%(model_name)s"]}


class ChangingPostPermissions(OperatorModelPermissions):
    """A POST on an existing menu (a new version, publish, unpublish) needs the change permission."""

    perms_map = {**OperatorModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class _MenuView(APIView):
    queryset = Menu.objects.all()

    def get_menu(self, pk: int) -> Menu:
        return get_object_or_404(selectors.menu_list(), pk=pk)


def _query(serializer_class, request: Request):
    data = serializer_class(data=request.query_params)
    data.is_valid(raise_exception=True)
    return data.validated_data


class MenuListApi(_MenuView):
    @extend_schema(
        operation_id="v1_menus_list",
        responses=paginated(MenuOutput, "Menu")["responses"],
        parameters=[*PAGE_PARAMETERS, OpenApiParameter("account", int, description="Only this account's menus.")],
    )
    def get(self, request: Request) -> Response:
        account = request.query_params.get("account")
        menus = selectors.menu_list(account_id=int(account) if account and account.isdigit() and len(account) < 19 else None)
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(menus, request, view=self)
        return paginator.get_paginated_response(MenuOutput(page, many=True).data)

    @extend_schema(request=MenuCreateInput, responses={201: MenuOutput})
    def post(self, request: Request) -> Response:
        data = MenuCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        menu = services.menu_create(**data.validated_data)
        return Response(MenuOutput(menu).data, status=status.HTTP_201_CREATED)


class MenuDetailApi(_MenuView):
    @extend_schema(responses=MenuOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(MenuOutput(self.get_menu(pk)).data)

    @extend_schema(request=MenuUpdateInput, responses=MenuOutput)
    def patch(self, request: Request, pk: int) -> Response:
        menu = self.get_menu(pk)
        data = MenuUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(MenuOutput(services.menu_rename(menu=menu, name=data.validated_data["name"])).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.menu_delete(menu=self.get_menu(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MenuVersionsApi(_MenuView):
    permission_classes = [ChangingPostPermissions]

    @extend_schema(operation_id="v1_menus_versions_list", **paginated(MenuVersionOutput, "MenuVersion"))
    def get(self, request: Request, pk: int) -> Response:
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(selectors.menu_versions(menu=self.get_menu(pk)), request, view=self)
        return paginator.get_paginated_response(MenuVersionOutput(page, many=True).data)

    @extend_schema(request=MenuButtonsInput, responses={201: MenuVersionOutput})
    def post(self, request: Request, pk: int) -> Response:
        menu = self.get_menu(pk)
        data = MenuButtonsInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.menu_version_save(menu=menu, **data.validated_data, user=request.user)
        return Response(MenuVersionOutput(version).data, status=status.HTTP_201_CREATED)


class MenuPublishApi(_MenuView):
    permission_classes = [ChangingPostPermissions]

    @extend_schema(request=MenuPublishInput, responses=MenuOutput)
    def post(self, request: Request, pk: int) -> Response:
        menu = self.get_menu(pk)
        data = MenuPublishInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = None
        if data.validated_data["version"]:
            version = get_object_or_404(MenuVersion, pk=data.validated_data["version"], menu=menu)
        return Response(MenuOutput(services.menu_publish(menu=menu, version=version)).data)


class MenuUnpublishApi(_MenuView):
    permission_classes = [ChangingPostPermissions]

    @extend_schema(request=None, responses=MenuOutput)
    def post(self, request: Request, pk: int) -> Response:
        return Response(MenuOutput(services.menu_unpublish(menu=self.get_menu(pk))).data)


class MenuValidateApi(_MenuView):
    permission_classes = [ReadingPostPermissions]

    @extend_schema(request=MenuValidateInput, responses=MenuValidateOutput)
    def post(self, request: Request) -> Response:
        data = MenuValidateInput(data=request.data)
        data.is_valid(raise_exception=True)
        problems = menu_problems(data.validated_data["buttons"], conditional=data.validated_data["segment"] is not None)
        return Response({"valid": not problems, "problems": problems})


class MenuWechatStateApi(_MenuView):
    @extend_schema(parameters=[AccountQuery], responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(selectors.menu_wechat_state(account=_query(AccountQuery, request)["account"]))


class MenuPreviewApi(_MenuView):
    @extend_schema(parameters=[PreviewQuery], responses=MenuPreviewOutput)
    def get(self, request: Request) -> Response:
        query = _query(PreviewQuery, request)
        return Response(selectors.menu_preview_for_customer(account=query["account"], customer_id=query["customer"]))


class MenuAnalyticsApi(_MenuView):
    @extend_schema(parameters=[AnalyticsQuery], responses=MenuAnalyticsOutput)
    def get(self, request: Request) -> Response:
        query = _query(AnalyticsQuery, request)
        return Response(menu_analytics(account_id=query["account"].pk, start=query["start"], end=query["end"]))

