"""EXPLAIN of the campaign engine's big statements on the synthetic population (`manage.py explain_campaigns`).

Plans a marketing campaign to the whole population and re-checks one claimed batch at send time, in a
transaction that is rolled back, and prints the plan of every statement of interest as it runs:
planning's temp tables and its decision write, and dispatch's send-time re-check and account-quota
count. The statements are recognised by what they do (not by the engine's private names), so the
same tool compares the plans of two versions of the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import ChannelAccount
from campaigns import dispatch
from campaigns.models import Campaign, CampaignState, Delivery
from campaigns.planning import campaign_plan_audience
from campaigns.policy import effective_policy
from customers.segments.services import segment_create, segment_snapshot_create
from devtools.benchmarks.campaign_planning import delivery_history_ensure
from devtools.population import population_generate, vacuum_analyze

# (label, test on the statement text), first match wins; each label is shown once per phase.
STATEMENTS: list[tuple[str, Callable[[str], bool]]] = [
    ("plan_audience", lambda text: "CREATE TEMP TABLE plan_audience" in text),
    ("plan_slots", lambda text: "CREATE TEMP TABLE plan_slots" in text),
    ("plan_history", lambda text: "CREATE TEMP TABLE plan_history" in text),
    ("decision and writes", lambda text: "decided AS MATERIALIZED" in text),
    ("send-time re-check", lambda text: "scrm_send_slot" in text and "plan_" not in text),
    ("account quota", lambda text: "me AS MATERIALIZED" in text or "COALESCE(d.sent_at, d.send_after, d.created_at)" in text),
]

class _Rollback(Exception):
    pass


def _shape(plan: str) -> str:
    """The plan without costs, row estimates, widths and literal id lists: what must stay the same between versions."""
    plan = re.sub(r"\s+\(cost=[^)]*\)|\s+\(actual[^)]*\)", "", plan)
    return re.sub(r"'\{[^}]*\}'", "'{…}'", plan)


class _Explainer:
    def __init__(self, *, write: Callable[[str], None], analyze: bool, costs: bool):
        self.write = write
        self.analyze = analyze
        self.costs = costs
        self.seen: set[str] = set()
        self.phase = ""

    def __call__(self, execute, text: str, params: Any, many: bool, context: dict):
        name = next((name for name, matches in STATEMENTS if matches(text)), None)
        label = f"{self.phase}: {name}"
        if name is not None and label not in self.seen and not many:
            self.seen.add(label)
            self.write(f"\n--- {label}\n{self._explain(context['cursor'], text, params)}")
        return execute(text, params, many, context)

    def _explain(self, cursor, text: str, params: Any) -> str:
        options = "ANALYZE, BUFFERS OFF, TIMING OFF" if self.analyze else "COSTS ON"
        # EXPLAIN ANALYZE runs the statement: in a savepoint rolled back, so the real run that follows is unaffected.
        cursor.execute("SAVEPOINT explain_campaigns")
        try:
            cursor.execute(f"EXPLAIN ({options}) {text}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("ROLLBACK TO SAVEPOINT explain_campaigns")
        return plan if self.costs else _shape(plan)


def _recheck(campaign: Campaign, claimed: list) -> None:
    """The send-time re-check and the quota count of one claimed batch, by whichever name this version has."""
    policy = effective_policy(campaign)
    ids = [row.id for row in claimed]
    recheck = getattr(dispatch, "deliveries_recheck", None)
    if recheck is not None:
        recheck(campaign=campaign, policy=policy, ids=ids)
        dispatch.deliveries_within_account_quota(campaign=campaign, rows=claimed)
    else:  # before the dispatch package (issue 12)
        dispatch._recheck(campaign, policy, ids)
        dispatch._account_quota_left(campaign, ids)


def explain_campaigns(*, customers: int, batch: int, analyze: bool, costs: bool, write: Callable[[str], None] = print) -> None:
    info = population_generate(customers=customers, log=write)
    account = ChannelAccount.objects.get(pk=info.accounts["oa"])
    # Delivery history for the caps, as `make bench` writes it, so the history joins have rows to plan for.
    delivery_history_ensure(account.pk)
    vacuum_analyze(Delivery._meta.db_table)
    segment = segment_create(name=f"explain-campaigns-{int(timezone.now().timestamp())}", rule={"all": []})
    explainer = _Explainer(write=write, analyze=analyze, costs=costs)
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(
                name="explain-plan", account=account, message_type="mass", priority_class="marketing", content={"text": "Explain"},
                segment_id=segment.pk, holdout_percent=5, policy_overrides={"quiet_start": None, "quiet_end": None},
            )
            snapshot = segment_snapshot_create(segment=segment)
            explainer.phase = "planning"
            with connection.execute_wrapper(explainer):
                result = campaign_plan_audience(campaign=campaign, snapshot_id=snapshot.pk)
            write(f"\nplanned {result.planned:,} of {result.audience:,}")
            # Due now, in a campaign that is sending: the claim and re-check see what a pump would.
            Campaign.objects.filter(pk=campaign.pk).update(state=CampaignState.SENDING)
            Delivery.objects.filter(campaign=campaign).update(send_after=timezone.now() - timedelta(seconds=1))
            campaign.refresh_from_db()
            claimed = dispatch.deliveries_claim(campaign=campaign, limit=batch)
            explainer.phase = "dispatch"
            with connection.execute_wrapper(explainer):
                _recheck(campaign, claimed)
            raise _Rollback
    except _Rollback:
        pass
    finally:
        segment.delete()
