from django.urls import include, path
from rest_framework.routers import SimpleRouter

from customers import apis

router = SimpleRouter()
router.register("customers", apis.CustomerViewSet, basename="customer")
router.register("tag-groups", apis.TagGroupViewSet, basename="tag-group")
router.register("tags", apis.TagViewSet, basename="tag")

urlpatterns: list = [
    path("", include("customers.segments.urls")),
    path("", include("customers.engagement.urls")),
    *router.urls,
]
