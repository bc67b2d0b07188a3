from django.urls import path

from messaging.channels import apis

app_name = "channels"

urlpatterns = [
    path("channel-codes/", apis.ChannelCodeListApi.as_view(), name="channel-code-list"),
    path("channel-codes/<int:pk>/", apis.ChannelCodeDetailApi.as_view(), name="channel-code-detail"),
    path("media-files/", apis.MediaFileListApi.as_view(), name="media-file-list"),
    path("sync-jobs/", apis.SyncJobListApi.as_view(), name="sync-job-list"),
    path("sync-jobs/<int:pk>/", apis.SyncJobDetailApi.as_view(), name="sync-job-detail"),
]
