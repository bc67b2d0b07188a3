"""Operator API v1: each app contributes its routes."""

from django.urls import include, path

from scrm.login_throttle import ThrottledObtainAuthToken

urlpatterns = [
    path("auth/token/", ThrottledObtainAuthToken.as_view(), name="api-token"),
    path("", include("customers.urls")),
    path("", include("messaging.urls")),
    path("", include("campaigns.urls")),
    path("", include("menus.urls")),
]
