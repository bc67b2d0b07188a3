"""Celery tasks of this feature (thin: load by id, call a service)."""
