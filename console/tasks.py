from celery import shared_task

from console.dashboard.selectors import dashboard_refresh


@shared_task(ignore_result=True)
def dashboard_refresh_task() -> None:
    """Keep the dashboard's slow figures warm in the cache (scheduled by beat)."""
    dashboard_refresh()
