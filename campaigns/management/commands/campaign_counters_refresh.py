"""`manage.py campaign_counters_refresh [--campaign ID ...]`: recount campaigns' funnel counters from
their deliveries and suppressions (a repair; the counters are otherwise kept as facts are recorded)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from campaigns.counters import campaign_counters_refresh


class Command(BaseCommand):
    help = "Recount the funnel counters of the given campaigns (all when none is given) from their rows."

    def add_arguments(self, parser):
        parser.add_argument("--campaign", type=int, action="append", default=None, help="a campaign id (repeatable)")

    def handle(self, *args, campaign=None, **options):
        n = campaign_counters_refresh(campaign_ids=campaign)
        self.stdout.write(f"recounted {n} campaign(s)")
