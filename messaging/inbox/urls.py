from django.urls import path

from messaging.inbox import apis, kf_apis

urlpatterns = [
    path("conversations/", apis.ConversationListApi.as_view(), name="conversation-list"),
    path("conversations/quick-replies/", apis.QuickReplyListApi.as_view(), name="conversation-quick-replies"),
    path("conversations/presence/", apis.OperatorPresenceApi.as_view(), name="conversation-presence"),
    path("conversations/analytics/", apis.ServiceAnalyticsApi.as_view(), name="conversation-analytics"),
    path("conversations/<int:pk>/", apis.ConversationDetailApi.as_view(), name="conversation-detail"),
    path("conversations/<int:pk>/reply/", apis.ConversationReplyApi.as_view(), name="conversation-reply"),
    path("conversations/<int:pk>/transfer/", apis.ConversationTransferApi.as_view(), name="conversation-transfer"),
    path("conversations/<int:pk>/resolve/", apis.ConversationResolveApi.as_view(), name="conversation-resolve"),
    path("conversations/<int:pk>/kf-session/", kf_apis.ConversationKfSessionApi.as_view(), name="conversation-kf-session"),
    path("kf-accounts/", kf_apis.KfAccountListApi.as_view(), name="kf-account-list"),
    path("kf-accounts/sync/", kf_apis.KfAccountSyncApi.as_view(), name="kf-account-sync"),
    path("kf-accounts/<int:pk>/", kf_apis.KfAccountDetailApi.as_view(), name="kf-account-detail"),
    path("kf-accounts/<int:pk>/headimg/", kf_apis.KfAccountHeadimgApi.as_view(), name="kf-account-headimg"),
]
