"""`make bench`: run every `benchmarks.py` of the product against one synthetic population."""

from __future__ import annotations

import importlib
import time
import traceback
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from devtools.population import population_generate, vacuum_analyze

BENCH_PACKAGES = ("customers", "messaging", "campaigns")


def discover() -> list[str]:
    """Dotted names of every benchmarks.py under the product packages, in a stable order."""
    root = Path(settings.BASE_DIR)
    names = []
    for package in BENCH_PACKAGES:
        for path in sorted((root / package).rglob("benchmarks.py")):
            relative = path.relative_to(root).with_suffix("")
            if "migrations" not in relative.parts:
                names.append(".".join(relative.parts))
    return names


class Command(BaseCommand):
    help = "Run every benchmarks.py (customers/, messaging/, campaigns/) at BENCH_CUSTOMERS customers."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=settings.BENCH_CUSTOMERS)
        parser.add_argument("--only", default="", help="run only modules whose name contains this")

    def handle(self, *args, customers: int, only: str, **options):
        modules = [name for name in discover() if only in name]
        self.stdout.write(f"bench: {customers:,} customers; modules: {', '.join(modules) or 'none'}")
        call_command("migrate", interactive=False, verbosity=0)
        # One population for all modules; reused when one of this size exists.
        population_generate(customers=customers, log=self.stdout.write)
        failed = []
        for name in modules:
            self.stdout.write(f"\n== {name}")
            _vacuum(self.stdout)
            started = time.perf_counter()
            try:
                importlib.import_module(name).run(customers=customers, stdout=self.stdout)
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
