from django.urls import path

from messaging.channels import apis, group_apis, handover_apis, moment_apis

app_name = "channels"

urlpatterns = [
    path("channel-codes/", apis.ChannelCodeListApi.as_view(), name="channel-code-list"),
    path("channel-codes/<int:pk>/", apis.ChannelCodeDetailApi.as_view(), name="channel-code-detail"),
    path("media-files/", apis.MediaFileListApi.as_view(), name="media-file-list"),
    path("sync-jobs/", apis.SyncJobListApi.as_view(), name="sync-job-list"),
    path("sync-jobs/<int:pk>/", apis.SyncJobDetailApi.as_view(), name="sync-job-detail"),
    path("wecom/handovers/", handover_apis.HandoverListApi.as_view(), name="wecom-handover-list"),
    path("wecom/handovers/<int:pk>/", handover_apis.HandoverDetailApi.as_view(), name="wecom-handover-detail"),
    path("wecom/handovers/<int:pk>/poll/", handover_apis.HandoverPollApi.as_view(), name="wecom-handover-poll"),
    path("wecom/groups/", group_apis.GroupListApi.as_view(), name="wecom-group-list"),
    path("wecom/groups/<int:pk>/", group_apis.GroupDetailApi.as_view(), name="wecom-group-detail"),
    path("wecom/group-welcome-templates/", group_apis.WelcomeTemplateListApi.as_view(), name="wecom-group-welcome-list"),
    path("wecom/group-welcome-templates/<int:pk>/", group_apis.WelcomeTemplateDetailApi.as_view(), name="wecom-group-welcome-detail"),
    path("wecom/moments/", moment_apis.MomentListApi.as_view(), name="wecom-moment-list"),
    path("wecom/moments/<int:pk>/", moment_apis.MomentDetailApi.as_view(), name="wecom-moment-detail"),
    path("wecom/moments/<int:pk>/poll/", moment_apis.MomentPollApi.as_view(), name="wecom-moment-poll"),
    path("wecom/unassigned/", handover_apis.UnassignedListApi.as_view(), name="wecom-unassigned"),
]
