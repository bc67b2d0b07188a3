"""Reads of the channels feature."""

from __future__ import annotations

from django.db.models import QuerySet

from messaging.channels.models import ChannelCode, SyncJob


def channel_code_list(*, account_id: int | None = None) -> QuerySet[ChannelCode]:
    qs = ChannelCode.objects.select_related("account").prefetch_related("tags").order_by("-created_at")
    if account_id:
        qs = qs.filter(account_id=account_id)
    return qs


def sync_job_list(*, account_id: int | None = None) -> QuerySet[SyncJob]:
    qs = SyncJob.objects.select_related("account").order_by("-created_at")
    if account_id:
        qs = qs.filter(account_id=account_id)
    return qs
