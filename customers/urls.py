from django.urls import include, path

urlpatterns: list = [
    path("", include("customers.segments.urls")),
    path("", include("customers.engagement.urls")),
]
