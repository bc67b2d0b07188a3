"""Reads of the channels feature."""

from __future__ import annotations

from django.db.models import QuerySet

from messaging.channels.models import ChannelCode, MediaFile, SyncJob


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


def media_file_list() -> QuerySet[MediaFile]:
    """Media files without their bytes, newest first."""
    return MediaFile.objects.defer("content").order_by("-created_at")
