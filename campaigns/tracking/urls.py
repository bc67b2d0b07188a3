from django.urls import path

from campaigns.tracking.views import tracked_redirect

app_name = "tracking"

urlpatterns = [
    path("<str:token>", tracked_redirect, name="redirect"),
]
