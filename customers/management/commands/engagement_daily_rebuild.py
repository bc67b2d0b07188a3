from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers.engagement.daily import daily_counts_rebuild, local_day


class Command(BaseCommand):
    help = "Recount the per-account daily counters of the dashboard from the event store (the last N local days)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=35)

    def handle(self, *args, days: int, **options):
        if days < 1:
            raise CommandError("--days must be at least 1")
        since = local_day(timezone.now()) - timedelta(days=days - 1)
        rows = daily_counts_rebuild(since=since)
        self.stdout.write(f"recounted {rows} daily counters since {since.isoformat()}")
