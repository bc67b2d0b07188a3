"""Operator API v1: each app contributes its routes."""

from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("", include("customers.urls")),
    path("", include("messaging.urls")),
    path("", include("campaigns.urls")),
]
