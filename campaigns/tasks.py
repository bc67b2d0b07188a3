"""Celery tasks of campaigns (thin: load by id, call a service)."""
