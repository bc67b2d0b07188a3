"""Where an arm wins or loses clicks: every (campaign, person) pair read against the hidden traits.

A pair is *clickable* when the person clicks at all and the campaign's topic is among their interests
on its day (what the oracle targets). Per arm: how many clickable pairs it pushed, how many of those
were read and clicked, how many pushes went to other pairs, how far the push's local hour was from the
reading hour, and why the clickable pairs it did not push were left out (the suppression reason, or
``unfollowed`` / ``not_planned``). For the steered arm the clicks blast got are traced too: was the
pair pushed by steered (and read, clicked), or left out and why. Only the report reads the hidden
traits; nothing here feeds back into the run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from campaigns.models import Delivery, DeliveryState, Suppression
from devtools.simulator.audience import SIM_TZ


@dataclass
class ArmDiagnosis:
    clickable: int = 0
    pushed_clickable: int = 0
    read_clickable: int = 0
    clicked_clickable: int = 0
    pushed_other: int = 0
    clicked_other: int = 0
    hour_error: float = 0.0  # mean |local hour sent − reading hour| (circular) over pushes on clickable pairs
    left_out: dict[str, int] = field(default_factory=dict)  # clickable pairs not pushed, by reason
    # steered only: blast's clicked pairs, by what steered did with them
    blast_clicks: dict[str, int] = field(default_factory=dict)

    def text(self, name: str) -> str:
        share = f"{self.read_clickable}/{self.pushed_clickable} read" if self.pushed_clickable else "none pushed"
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.left_out.items(), key=lambda kv: -kv[1])) or "none"
        line = (
            f"  {name}: {self.pushed_clickable} of {self.clickable} clickable pairs pushed ({share}, {self.clicked_clickable} clicked,"
            f" hour off by {self.hour_error:.1f} h), {self.pushed_other} other pushes ({self.clicked_other} clicked); clickable left out: {reasons}"
        )
        if self.blast_clicks:
            line += "\n    blast's clicks, steered: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.blast_clicks.items(), key=lambda kv: -kv[1])
            )
        return line


def _hour_gap(a: int, b: int) -> int:
    d = abs(a - b) % 24
    return min(d, 24 - d)


def diagnose(sim) -> dict[str, ArmDiagnosis]:
    """Per arm the figures above, from the simulation's record of pushes and outcomes (`Simulation`)."""
    tz = ZoneInfo(SIM_TZ)
    people = [p.index for p in sim.people]
    clickable: dict[tuple[int, int], bool] = {}
    reading_hour: dict[int, int] = {}
    for number, (topic, day_start) in sim.campaign_days.items():
        for person in people:
            traits = sim.audience.traits(person, day_start.replace(hour=12))
            reading_hour[person] = traits.best_hour
            clickable[(number, person)] = bool(traits.clicks and topic in traits.interests)
    out: dict[str, ArmDiagnosis] = {}
    for arm in sim.arms:
        d = ArmDiagnosis(clickable=sum(clickable.values()))
        reasons: dict[tuple[int, int], str] = {}
        rows = Suppression.objects.filter(campaign_id__in=arm.campaign_ids).values_list(
            "campaign_id", "customer_id", "reason"
        )
        at_send = Delivery.objects.filter(campaign_id__in=arm.campaign_ids, state=DeliveryState.SUPPRESSED).values_list(
            "campaign_id", "customer_id", "error_code"
        )
        for campaign_id, customer_id, reason in [*rows, *at_send]:
            reasons[(arm.number_of[campaign_id], arm.by_customer[customer_id])] = reason or "at_send"
        gaps = []
        left: Counter = Counter()
        for pair, is_clickable in clickable.items():
            sent = arm.sent.get(pair)
            outcome = arm.outcomes.get(pair)
            if sent is not None:
                if is_clickable:
                    d.pushed_clickable += 1
                    gaps.append(_hour_gap(sent.astimezone(tz).hour, reading_hour[pair[1]]))
                    if outcome and outcome[0]:
                        d.read_clickable += 1
                    if outcome and outcome[1]:
                        d.clicked_clickable += 1
                else:
                    d.pushed_other += 1
                    if outcome and outcome[1]:
                        d.clicked_other += 1
            elif is_clickable:
                left[reasons.get(pair, "not_planned")] += 1
        d.hour_error = sum(gaps) / len(gaps) if gaps else 0.0
        d.left_out = dict(left)
        out[arm.name] = d
    blast = next((a for a in sim.arms if a.name == "blast"), None)
    steered = next((a for a in sim.arms if a.name == "steered"), None)
    if blast is not None and steered is not None:
        traced: Counter = Counter()
        steered_reasons = {
            (steered.number_of[c], steered.by_customer[cust]): r
            for c, cust, r in Suppression.objects.filter(campaign_id__in=steered.campaign_ids).values_list(
                "campaign_id", "customer_id", "reason"
            )
        }
        for pair, (_read, clicked) in blast.outcomes.items():
            if not clicked:
                continue
            if pair in steered.sent:
                outcome = steered.outcomes.get(pair, (False, False))
                traced["clicked too" if outcome[1] else "read, no click" if outcome[0] else "pushed, unread"] += 1
            else:
                traced[f"left out ({steered_reasons.get(pair, 'not_planned')})"] += 1
        out["steered"].blast_clicks = dict(traced)
    return out
