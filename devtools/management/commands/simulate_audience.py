"""`python manage.py simulate_audience`: blast versus steered versus an oracle, on any audience model.

Mirrors an audience (a preset, or your own subclass of devtools.simulator.audience.Audience named
as `package.module:Class`) onto one sandbox service account per arm, runs simulated weeks of
campaigns through the real planning, contact policy, dispatch, tracked links and incremental
learning (fast-forwarded clock), and prints per arm pushes, reads, clicks, clicks per push,
unfollows, mutes and the suppression reasons. With several audiences or seeds it also prints the
summary table of docs/engagement.md (`--markdown`). The database is left as it was (everything
runs in one rolled-back transaction per run) unless --keep is given.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from devtools.simulator import PRESETS, SimParams, audience_load, simulate
from devtools.simulator.report import markdown as markdown_report

HELP = {
    "customers": "people in the audience (each is a customer in every arm)",
    "weeks": "simulated weeks of campaigns",
    "warmup_days": "days of organic activity before the first campaign",
    "topics": "number of content topics (interest tags)",
    "campaigns_per_week": "campaigns per week (Mon, Wed, Fri, Tue, …), topics in rotation",
    "seed": "random seed (same seed, same people and same draws)",
    "channel": "marketing message type every arm sends (oa_subscribe: subscribe messages with consent)",
    "arms": "comma-separated arms among blast, steered, oracle",
    "steering": "'value' (expected value with exploration and attention budget), 'tags' (interest-tag segments) or 'predicted' (top_percent)",
    "top_percent": "with --steering value or predicted: the share of the segment each steered campaign reaches (value: 0 = no reach, the disturbance bar alone)",
}


# A rolled-back run leaves its rows behind as dead tuples, thousands per table. Where autovacuum is off
# (as on this project's test machines) they pile up over a day of runs and slow each run down (a run of
# one preset: 25 s on a vacuumed database, 50 s after a day of runs), so the command vacuums the tables
# holding more dead rows than live ones before and after its runs — not between runs in parallel: a
# VACUUM beside another run's uncommitted rows records the table as empty, and the other run's
# queries are planned for an empty table.
VACUUM_DEAD_TUPLES = 1000


def vacuum_rolled_back() -> None:
    """VACUUM (ANALYZE) the tables left with mostly dead tuples (PostgreSQL, outside a transaction)."""
    connection = connections["default"]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_stat_user_tables WHERE n_dead_tup > %s AND n_dead_tup > n_live_tup", [VACUUM_DEAD_TUPLES])
        for (name,) in cursor.fetchall():
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(name)}")


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        defaults = SimParams()
        for f in fields(SimParams):
            if f.name == "start":
                continue
            default = getattr(defaults, f.name)
            parser.add_argument(
                f"--{f.name.replace('_', '-')}", dest=f.name, type=type(default), default=default, help=f"{HELP.get(f.name, f.name)} (default {default})"
            )
        parser.add_argument(
            "--audience",
            default="classic",
            help=f"a preset ({', '.join(PRESETS)}), 'all', a comma-separated list, or package.module:Class (default classic)",
        )
        parser.add_argument("--audience-option", action="append", default=[], metavar="KEY=VALUE", help="an option passed to the audience's constructor")
        parser.add_argument("--seeds", default="", help="comma-separated seeds to run each audience with (default: --seed)")
        parser.add_argument("--markdown", action="store_true", help="print the summary table (means and spreads over the seeds) in Markdown")
        parser.add_argument("--sandbox-url", default=None, help="use a running sandbox instead of starting one")
        parser.add_argument("--keep", action="store_true", help="commit the simulated accounts, campaigns and events")
        parser.add_argument("--parallel", type=int, default=1, help="run the audiences × seeds in this many processes (default 1)")

    def handle(self, *args, audience="classic", audience_option=(), seeds="", markdown=False, sandbox_url=None, keep=False, parallel=1, **options):
        params = SimParams(**{f.name: options[f.name] for f in fields(SimParams) if f.name in options})
        names = list(PRESETS) if audience == "all" else [a.strip() for a in audience.split(",") if a.strip()]
        try:
            classes = [audience_load(name) for name in names]
            seed_list = [int(s) for s in seeds.split(",") if s.strip()] or [params.seed]
            audience_options = dict(option.split("=", 1) for option in audience_option)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        results: dict[str, list] = {}
        started = time.monotonic()
        runs = []
        for cls in classes:
            for seed in seed_list:
                run = SimParams(**{**{f.name: getattr(params, f.name) for f in fields(SimParams)}, "seed": seed})
                try:
                    model = cls(size=run.customers, topics=run.topics, seed=seed, **audience_options)
                except (TypeError, ValueError) as exc:
                    raise CommandError(f"{cls.__name__}: {exc}") from exc
                runs.append((run, model))
        if not keep:
            vacuum_rolled_back()
        if parallel > 1 and len(runs) > 1 and not keep:
            # Each run is independent (its own accounts, sandbox and rolled-back transaction): one process each.
            connections.close_all()
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
                futures = [pool.submit(simulate, run, model, sandbox_url=sandbox_url) for run, model in runs]
                for (_run, model), future in zip(runs, futures, strict=True):
                    result = future.result()
                    results.setdefault(model.name, []).append(result)
                    self.stdout.write(result.table())
        else:
            for run, model in runs:
                self.stdout.write(
                    f"Simulating {model.name}: {run.customers} people, {run.warmup_days} warm-up days + {run.weeks} weeks "
                    f"× {run.campaigns_per_week} campaigns (seed {run.seed})…"
                )
                result = simulate(run, model, sandbox_url=sandbox_url, keep=keep, stdout=self.stdout)
                results.setdefault(model.name, []).append(result)
                self.stdout.write(result.table())
        if not keep:
            vacuum_rolled_back()
        self.stdout.write(f"{sum(len(r) for r in results.values())} runs in {time.monotonic() - started:.0f} s")
        if markdown or len(results) > 1 or len(seed_list) > 1:
            self.stdout.write(markdown_report(results))
