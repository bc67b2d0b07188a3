from django.urls import include, path

from campaigns import apis
from campaigns.groups import apis as group_apis

urlpatterns = [
    path("campaigns/", apis.CampaignListApi.as_view(), name="campaign-list"),
    path("campaigns/<int:pk>/", apis.CampaignDetailApi.as_view(), name="campaign-detail"),
    path("campaigns/<int:pk>/validate/", apis.CampaignValidateApi.as_view(), name="campaign-validate"),
    path("campaigns/<int:pk>/preview/", apis.CampaignPreviewApi.as_view(), name="campaign-preview"),
    path("campaigns/<int:pk>/schedule/", apis.CampaignScheduleApi.as_view(), name="campaign-schedule"),
    path("campaigns/<int:pk>/approve/", apis.CampaignApproveApi.as_view(), name="campaign-approve"),
    path("campaigns/<int:pk>/pause/", apis.CampaignPauseApi.as_view(), name="campaign-pause"),
    path("campaigns/<int:pk>/resume/", apis.CampaignResumeApi.as_view(), name="campaign-resume"),
    path("campaigns/<int:pk>/cancel/", apis.CampaignCancelApi.as_view(), name="campaign-cancel"),
    path("campaigns/<int:pk>/test-send/", apis.CampaignTestSendApi.as_view(), name="campaign-test-send"),
    path("campaigns/<int:pk>/stats/", apis.CampaignStatsApi.as_view(), name="campaign-stats"),
    path("campaigns/<int:pk>/groups/", group_apis.CampaignGroupsApi.as_view(), name="campaign-groups"),
    path("deliveries/", apis.DeliveryListApi.as_view(), name="delivery-list"),
    path("", include("campaigns.reports.urls")),
]
