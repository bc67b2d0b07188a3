from django.urls import include, path

urlpatterns: list = [
    path("", include("campaigns.reports.urls")),
]
