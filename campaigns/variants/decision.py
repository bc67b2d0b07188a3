"""The decision of a cells-mode test: after the wait, the variant with the most clicks per delivered
message (reads per delivered for mpnews articles once WeChat's article statistics are stored) wins only when P(it beats all the others) ≥ the threshold (95% by default) and every variant
reached the minimum sample; otherwise the stated fallback — the first variant (A, the control) —
goes to the rest. Either way the rest is released to dispatch at once."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from campaigns.article_stats import variant_article_reads
from campaigns.models import Delivery, DeliveryState
from campaigns.variants.models import VariantTest, VariantTestMode, VariantTestState
from campaigns.variants.stats import Arm, probability_to_beat_all, wilson_interval
from scrm.sqltools import render, table

FALLBACK_VARIANT = 0


class Metric(StrEnum):
    CLICKS = "clicks"  # tracked clicks per message reached
    READS = "reads"  # an mpnews article's readers (datacube int_page_read_user) per message reached


class Reason(StrEnum):
    SIGNIFICANT = "significant"
    NOT_SIGNIFICANT = "not_significant"
    TOO_FEW = "too_few"


# Params: campaign. Per variant of the test cells: messages that reached the customer (sent or
# delivered: mass sends have no per-customer report) and those clicked.
CELL_COUNTS = sql.SQL(
    """
    SELECT variant, count(*) FILTER (WHERE state IN ('sent', 'delivered')) AS reached,
           count(*) FILTER (WHERE state IN ('sent', 'delivered') AND clicked_at IS NOT NULL) AS clicked
    FROM {delivery} WHERE campaign_id = %(campaign)s AND variant_test_cell AND variant IS NOT NULL
    GROUP BY variant
    """
).format(delivery=table(Delivery))

# Params: campaign, winner. The held rest gets the chosen variant and is due now.
RELEASE_REST = sql.SQL(
    """
    UPDATE {delivery} SET variant = %(winner)s, send_after = clock_timestamp(), updated_at = clock_timestamp()
    WHERE campaign_id = %(campaign)s AND state = 'planned' AND variant IS NULL AND NOT variant_test_cell
    """
).format(delivery=table(Delivery))


@dataclass(frozen=True)
class VariantNumbers:
    variant: int
    reached: int
    clicked: int
    rate: float
    ci_low: float
    ci_high: float
    p_best: float
    reads: int | None = None  # the article's readers (mpnews with statistics), else None
    metric: str = Metric.CLICKS  # what `rate` counts per message reached


def variant_numbers(test: VariantTest) -> list[VariantNumbers]:
    """Each variant's reached, clicked (and read), rate, 95% Wilson interval and P(beats all), from
    the cells. The rate is reads per reached for an mpnews test whose article statistics are
    stored (each variant its own article), else clicks per reached."""
    with connection.cursor() as cursor:
        cursor.execute(render(CELL_COUNTS), {"campaign": test.campaign_id})
        counts = {v: (r, c) for v, r, c in cursor.fetchall()}
    reads = variant_article_reads(test.campaign, test.variant_count)
    metric = Metric.READS if reads is not None else Metric.CLICKS
    reached = [counts.get(v, (0, 0))[0] for v in range(test.variant_count)]
    clicked = [counts.get(v, (0, 0))[1] for v in range(test.variant_count)]
    # Readers can exceed the cell (a forward, a reader outside it): capped at the messages reached.
    successes = [min(reads[v], reached[v]) for v in range(test.variant_count)] if reads is not None else clicked
    arms = [Arm(trials=n, successes=k) for n, k in zip(reached, successes, strict=True)]
    p_best = probability_to_beat_all(arms)
    out = []
    for v, arm in enumerate(arms):
        low, high = wilson_interval(arm.successes, arm.trials)
        out.append(VariantNumbers(variant=v, reached=arm.trials, clicked=clicked[v], rate=arm.rate, ci_low=low, ci_high=high, p_best=p_best[v],
                                  reads=reads[v] if reads is not None else None, metric=str(metric)))
    return out


def decide(test: VariantTest, numbers: list[VariantNumbers]) -> tuple[int, Reason]:
    """(the variant for the rest, why) — pure, so the rule is tested on its own."""
    if any(n.reached < test.min_sample for n in numbers):
        return FALLBACK_VARIANT, Reason.TOO_FEW
    best = max(numbers, key=lambda n: (n.p_best, n.rate))
    if best.p_best >= test.threshold:
        return best.variant, Reason.SIGNIFICANT
    return FALLBACK_VARIANT, Reason.NOT_SIGNIFICANT


@transaction.atomic
def variant_test_decide_if_due(*, campaign_id: int) -> bool:
    """Decide a cells test whose wait is over and release the rest; False when nothing was due.
    Run by the campaign's dispatch pump (which polls while the rest is held), so no extra timer."""
    test = (
        VariantTest.objects.select_for_update(skip_locked=True)
        .filter(campaign_id=campaign_id, mode=VariantTestMode.CELLS, state=VariantTestState.TESTING, decide_at__lte=timezone.now())
        .first()
    )
    if test is None:
        return False
    if Delivery.objects.filter(campaign_id=campaign_id, variant_test_cell=True, state__in=[DeliveryState.PLANNED, DeliveryState.SENDING]).exists():
        # A cell is still being sent (a rate limit, a send window): wait for it to finish.
        return False
    numbers = variant_numbers(test)
    winner, reason = decide(test, numbers)
    test.state, test.winner, test.reason, test.decided_at = VariantTestState.DECIDED, winner, str(reason), timezone.now()
    metric = numbers[0].metric if numbers else str(Metric.CLICKS)
    test.detail = {"variants": [asdict(n) for n in numbers], "threshold": test.threshold, "min_sample": test.min_sample, "metric": metric}
    test.save(update_fields=["state", "winner", "reason", "decided_at", "detail"])
    with connection.cursor() as cursor:
        cursor.execute(render(RELEASE_REST), {"campaign": campaign_id, "winner": winner})
    return True
