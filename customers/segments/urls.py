from django.urls import path

from customers.segments import apis

urlpatterns = [
    path("segments/", apis.SegmentListApi.as_view(), name="segment-list"),
    path("segments/validate/", apis.SegmentValidateApi.as_view(), name="segment-validate"),
    path("segments/preview/", apis.SegmentRulePreviewApi.as_view(), name="segment-rule-preview"),
    path("segments/<int:pk>/", apis.SegmentDetailApi.as_view(), name="segment-detail"),
    path("segments/<int:pk>/preview/", apis.SegmentPreviewApi.as_view(), name="segment-preview"),
    path("segments/<int:pk>/members/", apis.SegmentMembersApi.as_view(), name="segment-members"),
    path("segments/<int:pk>/snapshots/", apis.SegmentSnapshotApi.as_view(), name="segment-snapshots"),
    path("segments/<int:pk>/snapshot/", apis.SegmentSnapshotApi.as_view(), name="segment-snapshot"),
    path("segments/<int:pk>/history/", apis.SegmentHistoryApi.as_view(), name="segment-history"),
    path("segments/<int:pk>/static-members/", apis.SegmentStaticMembersApi.as_view(), name="segment-static-members"),
    path("segments/<int:pk>/static-members/upload/", apis.SegmentStaticUploadApi.as_view(), name="segment-static-upload"),
    path("segments/snapshots/<int:pk>/members/", apis.SnapshotMembersApi.as_view(), name="segment-snapshot-members"),
]
