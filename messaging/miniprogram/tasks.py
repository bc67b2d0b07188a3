"""Celery tasks of the mini-program API (default queue)."""

from celery import shared_task

from messaging.miniprogram import services


@shared_task
def mp_sessions_purge_task() -> int:
    return services.mp_sessions_purge()
