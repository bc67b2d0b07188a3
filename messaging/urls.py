from django.urls import include, path
from rest_framework.routers import SimpleRouter

from messaging import apis

router = SimpleRouter()
router.register("accounts", apis.ChannelAccountViewSet, basename="account")

urlpatterns: list = [
    path("", include("messaging.channels.urls")),
    path("", include("messaging.inbox.urls")),
    *router.urls,
]
