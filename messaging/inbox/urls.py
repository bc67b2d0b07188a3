from django.urls import path

from messaging.inbox import apis

urlpatterns = [
    path("conversations/", apis.ConversationListApi.as_view(), name="conversation-list"),
    path("conversations/quick-replies/", apis.QuickReplyListApi.as_view(), name="conversation-quick-replies"),
    path("conversations/presence/", apis.OperatorPresenceApi.as_view(), name="conversation-presence"),
    path("conversations/analytics/", apis.ServiceAnalyticsApi.as_view(), name="conversation-analytics"),
    path("conversations/<int:pk>/", apis.ConversationDetailApi.as_view(), name="conversation-detail"),
    path("conversations/<int:pk>/reply/", apis.ConversationReplyApi.as_view(), name="conversation-reply"),
    path("conversations/<int:pk>/transfer/", apis.ConversationTransferApi.as_view(), name="conversation-transfer"),
    path("conversations/<int:pk>/resolve/", apis.ConversationResolveApi.as_view(), name="conversation-resolve"),
]
