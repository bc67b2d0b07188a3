"""Dispatch: claim planned deliveries in batches, re-check the contact policy, send through the
account's adapter under its rate limit, and record the outcome.

Exactly-once in practice: a row is claimed by a conditional update over `FOR UPDATE SKIP LOCKED`
rows (`claim`); the delivery id or a stored batch key travels to WeChat as its idempotency key
(`send`); outcomes are written back only onto rows still in 'sending' (`record`). `recheck` and
`quota` apply the contact policy again just before the send, `consent` spends subscribe credits,
`pump` drives it all for a time slice, `liveness` (leases, pump generations, the watchdog) recovers
from a dead worker in seconds, `sql` holds the statements.
"""

from campaigns.dispatch.claim import (
    Claimed,
    deliveries_claim,
    deliveries_leases_renew,
    deliveries_release,
    deliveries_sweep_expired,
    load_recipients,
)
from campaigns.dispatch.liveness import LeaseKeeper, pump_alive, pump_enter, pumps_watchdog
from campaigns.dispatch.pump import DispatchResult, Pump, campaign_complete_if_done, campaign_dispatch
from campaigns.dispatch.quota import deliveries_within_account_quota
from campaigns.dispatch.recheck import deliveries_recheck
from campaigns.dispatch.record import Outcome, outcomes_record
from campaigns.policy_sql import account_quota_left

__all__ = [
    "Claimed",
    "DispatchResult",
    "LeaseKeeper",
    "Outcome",
    "Pump",
    "account_quota_left",
    "campaign_complete_if_done",
    "campaign_dispatch",
    "deliveries_claim",
    "deliveries_recheck",
    "deliveries_release",
    "deliveries_leases_renew",
    "deliveries_sweep_expired",
    "deliveries_within_account_quota",
    "load_recipients",
    "outcomes_record",
    "pump_alive",
    "pump_enter",
    "pumps_watchdog",
]
