"""`make bench`: run the benchmarks of devtools/benchmarks/ against one synthetic population."""

from __future__ import annotations

import time
import traceback

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from devtools.benchmarks import (
    callbacks,
    campaign_dispatch,
    campaign_planning,
    console_reads,
    engagement,
    follower_sync,
    group_sync,
    inbox,
    segments,
    wecom_contact_sync,
    welcome,
)
from devtools.population import population_generate, vacuum_analyze

# In the order they run, each under the concern it measures (what --only matches, with the module
# name); each module has run(*, customers, stdout).
BENCHMARKS = {
    "customers.engagement": engagement,
    "customers.segments": segments,
    "messaging.callbacks": callbacks,
    "messaging.welcome": welcome,
    "messaging.follower_sync": follower_sync,
    "messaging.group_sync": group_sync,
    "messaging.wecom_contact_sync": wecom_contact_sync,
    "messaging.inbox": inbox,
    "campaigns.planning": campaign_planning,
    "campaigns.dispatch": campaign_dispatch,
    "console.reads": console_reads,
}


class Command(BaseCommand):
    help = "Run the benchmarks of devtools/benchmarks/ at BENCH_CUSTOMERS customers."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=settings.BENCH_CUSTOMERS)
        parser.add_argument(
            "--only", default="", help="run only the benchmarks whose concern or module name contains this (e.g. segments, campaigns)"
        )

    def handle(self, *args, customers: int, only: str, **options):
        modules = [module for concern, module in BENCHMARKS.items() if only in concern or only in module.__name__]
        names = ", ".join(module.__name__ for module in modules)
        self.stdout.write(f"bench: {customers:,} customers; modules: {names or 'none'}")
        call_command("migrate", interactive=False, verbosity=0)
        # One population for all modules; reused when one of this size exists.
        population_generate(customers=customers, log=self.stdout.write)
        failed = []
        for module in modules:
            name = module.__name__
            self.stdout.write(f"\n== {name}")
            _vacuum(self.stdout)
            started = time.perf_counter()
            try:
                module.run(customers=customers, stdout=self.stdout)
            except Exception:  # one module's failure must not hide the others' figures
                failed.append(name)
                self.stderr.write(traceback.format_exc())
            self.stdout.write(f"== {name}: {time.perf_counter() - started:.1f} s")
        if failed:
            raise CommandError(f"benchmarks failed: {', '.join(failed)}")


def _vacuum(stdout) -> None:
    """What autovacuum does for a database in service: the rows earlier modules wrote, deleted or
    rolled back would otherwise leave stale statistics and unset visibility maps (index-only scans
    turned into heap reads), and one module's figures would depend on which ran before it."""
    if connection.vendor != "postgresql":
        return
    started = time.perf_counter()
    vacuum_analyze()
    stdout.write(f"(VACUUM ANALYZE before the module: {time.perf_counter() - started:.1f} s, not counted)")
