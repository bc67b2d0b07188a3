from django.urls import path

from customers.engagement.apis import ConversionsApi

urlpatterns = [
    path("conversions/", ConversionsApi.as_view(), name="conversions"),
]
