from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from scrm.health import healthz
from scrm.login_throttle import admin_login

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),  # the console's language switcher
    path("admin/campaign-reports/", include("campaigns.reports.admin_urls")),
    path("admin/dashboard/", include("console.dashboard.urls")),
    path("admin/login/", admin_login, name="admin-login"),  # throttled failed logins
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("scrm.api_urls")),
    path("api/mp/v1/", include("messaging.miniprogram.urls")),
    path("callbacks/", include("messaging.callbacks.urls")),
    path("r/", include("campaigns.tracking.urls")),
]
