from django.conf import settings
from django.urls import path

from messaging.callbacks import views

app_name = "callbacks"

urlpatterns = [
    path("wechat/<int:account_id>/", views.wechat_callback, name="wechat"),
    path("wecom/<int:account_id>/", views.wecom_callback, name="wecom"),
]

if settings.CALLBACKS_BENCH_EMPTY_VIEW:
    # Baseline of the callback benchmark only (bench_callbacks starts gunicorn with it switched on).
    urlpatterns.append(path("_bench/empty/", views.bench_empty, name="bench-empty"))
    # The same empty view on the lean WSGI path of the callback URLs (messaging/callbacks/wsgi.py).
    urlpatterns.append(path("wechat/_bench/empty/", views.bench_empty, name="bench-empty-lean"))
