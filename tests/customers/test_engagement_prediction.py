"""The hierarchical click estimate (customers.engagement.prediction)."""

import pytest
from django.utils import timezone

from customers.engagement.prediction import click_estimates
from customers.models import EngagementProfile
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db


def profile(customer, topic, *, now, pushes=0.0, clicks=0.0, affinity=0.0):
    key = str(topic.pk)
    return EngagementProfile.objects.create(
        customer=customer, score_updated_at=now,
        topic_pushes={key: pushes} if pushes else {}, topic_clicks={key: clicks} if clicks else {},
        topic_affinity={key: affinity + clicks} if affinity + clicks else {},
    )


def test_a_customer_without_history_gets_the_rate_of_customers_like_them():
    now = timezone.now()
    topic = TagFactory()
    population = [CustomerFactory() for _ in range(50)]
    for customer in population:
        profile(customer, topic, now=now, pushes=10, clicks=2)  # one click in five
    newcomer, ignorer, fan = CustomerFactory(), CustomerFactory(), CustomerFactory()
    profile(ignorer, topic, now=now, pushes=10)
    profile(fan, topic, now=now, pushes=10, clicks=8)
    ids = [c.pk for c in population] + [newcomer.pk, ignorer.pk, fan.pk]

    estimates = click_estimates(customer_ids=ids, topic_ids=[topic.pk], now=now, seed="s")

    mean, sd, _ = estimates[newcomer.pk]
    assert mean == pytest.approx(0.2, abs=0.02)  # calibrated on the audience's own pushes
    # Pushes without a click are evidence against; clicks for.
    assert estimates[ignorer.pk][0] < 0.05 < 0.2 < estimates[fan.pk][0]
    # The less one knows of a customer, the wider the estimate.
    assert sd > estimates[population[0].pk][1]


def test_organic_interest_raises_the_estimate_before_any_push():
    now = timezone.now()
    topic = TagFactory()
    visitor, stranger = CustomerFactory(), CustomerFactory()
    profile(visitor, topic, now=now, affinity=1.5)
    estimates = click_estimates(customer_ids=[visitor.pk, stranger.pk], topic_ids=[topic.pk], now=now)
    assert estimates[visitor.pk][0] > 3 * estimates[stranger.pk][0]


def test_thompson_draws_are_reproducible_for_a_seed_and_vary_between_customers():
    now = timezone.now()
    topic = TagFactory()
    ids = [CustomerFactory().pk for _ in range(30)]
    first = click_estimates(customer_ids=ids, topic_ids=[topic.pk], now=now, seed="campaign:1")
    again = click_estimates(customer_ids=ids, topic_ids=[topic.pk], now=now, seed="campaign:1")
    other = click_estimates(customer_ids=ids, topic_ids=[topic.pk], now=now, seed="campaign:2")
    assert first == again
    assert first != other
    # Draws below 0 are clipped to 0 (a small mean), the others differ from customer to customer.
    assert len({round(v[2], 6) for v in first.values()}) > 10
    assert all(0 <= v[2] <= 1 for v in first.values())
