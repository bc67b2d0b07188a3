from django.http import HttpResponse
from django.urls import path

app_name = "callbacks"


def _not_ready(request, account_id):  # replaced by the callback views (issue 4)
    return HttpResponse(status=501)


urlpatterns = [
    path("wechat/<int:account_id>/", _not_ready, name="wechat"),
    path("wecom/<int:account_id>/", _not_ready, name="wecom"),
]
