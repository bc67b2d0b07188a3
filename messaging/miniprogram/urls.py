from django.urls import path, re_path

from messaging.miniprogram import apis

app_name = "miniprogram"

urlpatterns = [
    path("login", apis.LoginApi.as_view(), name="login"),
    path("token/refresh", apis.TokenRefreshApi.as_view(), name="token-refresh"),
    path("logout", apis.LogoutApi.as_view(), name="logout"),
    path("me", apis.MeApi.as_view(), name="me"),
    path("me/preferences", apis.PreferencesApi.as_view(), name="preferences"),
    path("me/subscriptions", apis.SubscriptionsApi.as_view(), name="subscriptions"),
    path("me/export", apis.MeExportApi.as_view(), name="export"),
    path("events", apis.EventsApi.as_view(), name="events"),
    path("inbox", apis.InboxListApi.as_view(), name="inbox"),
    re_path(r"^inbox/(?P<message_id>.*)/read$", apis.InboxReadApi.as_view(), name="inbox-read"),
]
