from django.urls import include, path

urlpatterns: list = [
    path("", include("messaging.channels.urls")),
]
