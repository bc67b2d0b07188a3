from django.urls import path

from menus import apis

urlpatterns = [
    path("menus/", apis.MenuListApi.as_view(), name="menus"),
    path("menus/validate/", apis.MenuValidateApi.as_view(), name="menus-validate"),
    path("menus/wechat-state/", apis.MenuWechatStateApi.as_view(), name="menus-wechat-state"),
    path("menus/preview/", apis.MenuPreviewApi.as_view(), name="menus-preview"),
    path("menus/analytics/", apis.MenuAnalyticsApi.as_view(), name="menus-analytics"),
    path("menus/<int:pk>/", apis.MenuDetailApi.as_view(), name="menu-detail"),
    path("menus/<int:pk>/versions/", apis.MenuVersionsApi.as_view(), name="menu-versions"),
    path("menus/<int:pk>/publish/", apis.MenuPublishApi.as_view(), name="menu-publish"),
    path("menus/<int:pk>/unpublish/", apis.MenuUnpublishApi.as_view(), name="menu-unpublish"),
]
