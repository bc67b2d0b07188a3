"""Rebuild engagement profiles from the stored events (the full recompute).

Normally profiles are updated incrementally on the analytics queue as events arrive; this command
is for repairs (after a merge, a rules change, or a restore) and to check that incremental == full.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from customers.engagement.services import engagement_profiles_recompute


class Command(BaseCommand):
    help = "Rebuild engagement profiles (score, hour-of-week, best hour, streak, affinity, behaviour tags) from stored events."

    def add_arguments(self, parser):
        parser.add_argument("--customer", type=int, action="append", dest="customers", help="Only this customer id (repeatable).")
        parser.add_argument("--chunk-size", type=int, default=200, help="Customers per transaction (default 200).")

    def handle(self, *args, customers=None, chunk_size=200, **options):
        done = engagement_profiles_recompute(customer_ids=customers, chunk_size=chunk_size)
        self.stdout.write(self.style.SUCCESS(f"Recomputed {done} engagement profiles."))
