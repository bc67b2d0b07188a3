"""`python manage.py simulate_audience`: blast versus steered on a synthetic audience.

Builds an audience with hidden interests, reading hours and patience, mirrors it onto two service
accounts in the WeChat sandbox, runs several simulated weeks of campaigns through the real
planning, contact policy, dispatch, tracked links and incremental learning (fast-forwarded clock),
and prints pushes sent, clicks, clicks per push and unfollows for "blast to the whole segment"
versus "steered" (behavioural interest segments + send-time optimisation). The database is left as
it was (everything runs in one rolled-back transaction) unless --keep is given. See
devtools/simulator/ for the model of the people; every parameter below is one of its knobs.
"""

from __future__ import annotations

from dataclasses import fields

from django.core.management.base import BaseCommand

from devtools.simulator import SimParams, simulate

HELP = {
    "customers": "people in the audience (each is a customer in both arms)",
    "weeks": "simulated weeks of campaigns",
    "warmup_days": "days of organic activity before the first campaign",
    "topics": "number of content topics (interest tags)",
    "campaigns_per_week": "campaigns per week (Mon, Wed, Fri, Tue, …), topics in rotation",
    "send_hour": "local hour at which campaigns are scheduled",
    "seed": "random seed (same seed, same people and same draws)",
    "reading_hours": "local reading hours with weights, 'hour:weight,…'",
    "session_rate": "probability a person opens WeChat on a given day",
    "bury_hours": "a push noticed after d hours is seen with probability exp(-d / bury_hours)",
    "click_if_interested": "click probability of a noticed push on one of the person's interests",
    "click_if_not": "click probability of a noticed push on another topic",
    "patience_min": "fewest unclicked pushes (within patience_days) that make a person unfollow",
    "patience_max": "most unclicked pushes (within patience_days) a person tolerates before unfollowing",
    "patience_days": "window over which unclicked pushes are counted",
    "visit_rate": "probability of an organic mini-program page view per person per day",
    "off_interest_visit_share": "share of organic views on a random topic instead of an interest",
    "steering": "'tags' (interest-tag segments) or 'predicted' (whole segment, top_percent by predicted engagement)",
    "top_percent": "with --steering predicted: the share of the segment each steered campaign keeps",
}


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        defaults = SimParams()
        for f in fields(SimParams):
            if f.name == "start":
                continue
            default = getattr(defaults, f.name)
            parser.add_argument(
                f"--{f.name.replace('_', '-')}",
                dest=f.name,
                type=type(default),
                default=default,
                help=f"{HELP.get(f.name, f.name)} (default {default})",
            )
        parser.add_argument("--sandbox-url", default=None, help="use a running sandbox instead of starting one")
        parser.add_argument("--keep", action="store_true", help="commit the simulated accounts, campaigns and events")

    def handle(self, *args, sandbox_url=None, keep=False, **options):
        params = SimParams(**{f.name: options[f.name] for f in fields(SimParams) if f.name in options})
        self.stdout.write(
            f"Simulating {params.customers} people, {params.warmup_days} warm-up days + {params.weeks} weeks "
            f"× {params.campaigns_per_week} campaigns (seed {params.seed})…"
        )
        result = simulate(params, sandbox_url=sandbox_url, keep=keep, stdout=self.stdout)
        self.stdout.write(result.table())
