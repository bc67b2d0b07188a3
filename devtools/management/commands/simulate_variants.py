"""`python manage.py simulate_variants`: the automatic winner of a variant test against an even split.

The same audience (a preset of the audience simulator, or your own Audience class) is mirrored onto
two sandbox service accounts; each gets one mass campaign with the same variants — test cells then
the winner to the rest (*auto*), or the variants split evenly (*even*) — through the real planning,
dispatch, tracked clicks and decision (devtools.simulator.variants). The variants differ in appeal:
``--appeal 1,1.6`` multiplies each variant's click probability (the audience option
``variant_appeal``). Prints a table of sends, reads and clicks per arm and variant, and the decision.
The database is left as it was (one rolled-back transaction).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from devtools.simulator import PRESETS, audience_load
from devtools.simulator.variants import DEFAULT_TEXTS, VariantParams, simulate_variants


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        d = VariantParams()
        parser.add_argument("--customers", type=int, default=d.customers, help=f"people in the audience (default {d.customers})")
        parser.add_argument("--appeal", default="1,2", help="per-variant click multipliers, A first (default 1,2); their count is the number of variants")
        parser.add_argument("--texts", default="", help="the variants' texts separated by '|' (default: built-in Chinese titles)")
        parser.add_argument("--cell-percent", type=int, default=d.cell_percent, help=f"each test cell's share (default {d.cell_percent})")
        parser.add_argument("--wait-hours", type=int, default=d.wait_hours, help=f"hours before the decision (default {d.wait_hours})")
        parser.add_argument("--min-sample", type=int, default=d.min_sample, help=f"messages per variant needed (default {d.min_sample})")
        parser.add_argument("--threshold", type=float, default=d.threshold, help=f"P(beats all) needed (default {d.threshold})")
        parser.add_argument("--seed", type=int, default=d.seed)
        parser.add_argument("--seeds", default="", help="comma-separated seeds (one run each, then the totals)")
        parser.add_argument("--audience", default="classic", help=f"a preset ({', '.join(PRESETS)}) or package.module:Class")
        parser.add_argument("--audience-option", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--sandbox-url", default=None)

    def handle(self, *args, customers, appeal, texts, cell_percent, wait_hours, min_sample, threshold, seed, seeds, audience, audience_option,
               sandbox_url, **options):
        try:
            cls = audience_load(audience)
            options_given = dict(option.split("=", 1) for option in audience_option)
            n = len([a for a in appeal.split(",") if a.strip()])
            text_list = [t.strip() for t in texts.split("|") if t.strip()] or list(DEFAULT_TEXTS[:n])
            seed_list = [int(s) for s in seeds.split(",") if s.strip()] or [seed]
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not 2 <= n <= len(DEFAULT_TEXTS) and not texts or len(text_list) != n:
            raise CommandError("--appeal needs one multiplier per variant (2 to 4 with the built-in texts, or as many as --texts)")
        totals: dict[str, list[int]] = {}
        started = time.monotonic()
        for run_seed in seed_list:
            params = VariantParams(customers=customers, variants=n, cell_percent=cell_percent, wait_hours=wait_hours, min_sample=min_sample,
                                   threshold=threshold, seed=run_seed)
            try:
                model = cls(size=customers, topics=params.topics, seed=run_seed, **{**options_given, "variant_appeal": appeal})
            except (TypeError, ValueError) as exc:
                raise CommandError(f"{cls.__name__}: {exc}") from exc
            self.stdout.write(f"Variant test on {model.name}: {customers} people, appeal {appeal}, seed {run_seed}…")
            result = simulate_variants(params, model, texts=text_list, sandbox_url=sandbox_url, stdout=self.stdout)
            self.stdout.write(result.table())
            for name, arm in result.arms.items():
                total = totals.setdefault(name, [0, 0])
                total[0] += arm.sent
                total[1] += arm.clicks
        if len(seed_list) > 1:
            self.stdout.write("totals: " + ", ".join(f"{name} {c} clicks / {s} sent" for name, (s, c) in totals.items()))
        self.stdout.write(f"{len(seed_list)} runs in {time.monotonic() - started:.0f} s")
