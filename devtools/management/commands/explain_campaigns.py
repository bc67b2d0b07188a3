"""`manage.py explain_campaigns`: EXPLAIN of planning and of the send-time re-check on the synthetic population."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from devtools.explain_campaigns import explain_campaigns


class Command(BaseCommand):
    help = "Print the plans of campaign planning and of dispatch's send-time re-check (rolled back)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=20_000)
        parser.add_argument("--batch", type=int, default=500, help="deliveries in the re-checked batch")
        parser.add_argument("--analyze", action="store_true", help="EXPLAIN ANALYZE (runs each statement once more, rolled back)")
        parser.add_argument("--costs", action="store_true", help="keep costs and row estimates (default: the plan's shape only)")

    def handle(self, *args, customers: int, batch: int, analyze: bool, costs: bool, **options):
        explain_campaigns(customers=customers, batch=batch, analyze=analyze, costs=costs, write=self.stdout.write)
