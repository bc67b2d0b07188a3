"""The hierarchical click estimate (customers.engagement.prediction)."""

import pytest
from django.utils import timezone

from customers.engagement.prediction import click_estimates, read_chances
from customers.models import Customer, EngagementProfile, TopicSubscription
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory, CustomerFactory, TagFactory

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
    # Pushes without a click are evidence against (ten ignored: about a quarter of the rate); clicks for.
    assert estimates[ignorer.pk][0] < 0.3 * mean < 0.2 < estimates[fan.pk][0]
    # The less one knows of a customer, the wider the estimate.
    assert sd > estimates[population[0].pk][1]


def test_organic_interest_raises_the_estimate_before_any_push():
    now = timezone.now()
    topic, other = TagFactory(), TagFactory()
    visitor, elsewhere, silent = CustomerFactory(), CustomerFactory(), CustomerFactory()
    profile(visitor, topic, now=now, affinity=1.5)
    profile(elsewhere, other, now=now, affinity=1.5)
    estimates = click_estimates(customer_ids=[visitor.pk, elsewhere.pk, silent.pk], topic_ids=[topic.pk], now=now)
    # Visits to the topic's pages are evidence for it, visits only elsewhere against it; a customer
    # who never shows up organically gets the population's rate (no evidence either way).
    assert estimates[visitor.pk][0] == pytest.approx(3 * estimates[silent.pk][0])
    assert estimates[silent.pk][0] == pytest.approx(3 * estimates[elsewhere.pk][0])


def test_what_customers_like_this_one_did_on_other_topics_carries_over():
    now = timezone.now()
    old_topic, new_topic = TagFactory(), TagFactory()
    # On an earlier topic, customers who had visited its pages clicked half the pushes; the others never.
    visitors = [CustomerFactory() for _ in range(20)]
    others = [CustomerFactory() for _ in range(20)]
    for customer in visitors:
        profile(customer, old_topic, now=now, pushes=2, clicks=1, affinity=1.5)
    for customer in others:
        profile(customer, old_topic, now=now, pushes=2, affinity=0.5 if customer.pk % 2 else 0.0)
    fresh_visitor = CustomerFactory()
    profile(fresh_visitor, new_topic, now=now, affinity=1.5)
    ids = [c.pk for c in visitors + others] + [fresh_visitor.pk]

    learned = click_estimates(customer_ids=ids, topic_ids=[new_topic.pk], now=now)[fresh_visitor.pk][0]
    alone = click_estimates(customer_ids=[fresh_visitor.pk], topic_ids=[new_topic.pk], now=now)[fresh_visitor.pk][0]
    # Never pushed on the new topic, but customers like them click far more than the prior's 3×.
    assert learned > 0.3 > alone


def test_a_topic_chosen_in_the_preference_centre_counts_like_strong_interest_and_learns_its_own_rate():
    now = timezone.now()
    topic, other = TagFactory(), TagFactory()
    chooser, refuser, silent = CustomerFactory(), CustomerFactory(), CustomerFactory()
    TopicSubscription.objects.create(customer=chooser, tag=topic, opted_in=True)
    TopicSubscription.objects.create(customer=refuser, tag=other, opted_in=True)
    TopicSubscription.objects.create(customer=refuser, tag=topic, opted_in=False)
    ids = [chooser.pk, refuser.pk, silent.pk]

    before = click_estimates(customer_ids=ids, topic_ids=[topic.pk], now=now)
    # Never visited, never pushed: what they chose is the evidence — and choosing other topics, not
    # this one, is evidence against it, like visits elsewhere only.
    assert before[chooser.pk][0] == pytest.approx(3 * before[silent.pk][0])
    assert before[refuser.pk][0] == pytest.approx(before[silent.pk][0] / 3)

    # Customers who chose other topics ignored every push on them: the declared class learns that.
    for _ in range(30):
        ignorer = CustomerFactory()
        TopicSubscription.objects.create(customer=ignorer, tag=other, opted_in=True)
        profile(ignorer, other, now=now, pushes=3)
        ids.append(ignorer.pk)
    after = click_estimates(customer_ids=ids, topic_ids=[topic.pk], now=now)
    assert after[chooser.pk][0] < before[chooser.pk][0] / 3


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


def test_thompson_draws_follow_the_customer_on_the_account_not_the_database_id():
    # The same people (by their openids on the account) recreated under other ids, in the reverse order:
    # a replayed audience — or the same brand on another database — gets the same draws.
    now = timezone.now()
    account, topic = ChannelAccountFactory(), TagFactory()
    openids = [f"o-person-{n}" for n in range(30)]

    def draws() -> dict[str, float]:
        ids = {}
        for openid in openids:
            customer = ChannelIdentityFactory(account=account, external_id=openid).customer
            profile(customer, topic, now=now, pushes=2, clicks=1)
            ids[customer.pk] = openid
        estimates = click_estimates(customer_ids=list(ids), topic_ids=[topic.pk], now=now, seed="campaign:1", account_id=account.pk)
        return {ids[pk]: sample for pk, (_, _, sample) in estimates.items()}

    first = draws()
    Customer.objects.filter(identities__account=account).delete()
    openids.reverse()
    CustomerFactory.create_batch(7)  # the ids move on
    again = draws()
    assert again == first
    # Still a draw per person: the samples spread around the shared mean.
    assert len({round(v, 6) for v in first.values()}) == len(openids)


def test_a_push_sent_hours_before_their_hour_counts_as_the_chance_it_was_read():
    now = timezone.now()
    topic = TagFactory()
    population = [CustomerFactory() for _ in range(30)]
    for customer in population:
        profile(customer, topic, now=now, pushes=10, clicks=2)
    at_their_hour, at_another, unknown = CustomerFactory(), CustomerFactory(), CustomerFactory()
    # Both read at 20:00 and ignored three pushes: one got them at 20:00, the other at 08:00 (12 h
    # early: ½^(12/3) = 1/16 of a push they could have read each).
    for customer, hour in ((at_their_hour, 20), (at_another, 8)):
        p = profile(customer, topic, now=now, pushes=3)
        p.best_hour, p.push_hours = 20, [3.0 if h == hour else 0.0 for h in range(24)]
        p.save()
    ids = [c.pk for c in population] + [at_their_hour.pk, at_another.pk, unknown.pk]

    estimates = click_estimates(customer_ids=ids, topic_ids=[topic.pk], now=now)

    # Three pushes read and ignored say they do not want the topic; three pushes probably never seen say little.
    assert estimates[at_their_hour.pk][0] < 0.6 * estimates[at_another.pk][0]
    assert estimates[at_another.pk][0] > 0.85 * estimates[unknown.pk][0]


def test_the_chance_a_push_is_read_halves_every_three_hours_it_waits_and_is_the_audiences_for_an_unknown_hour():
    evening, morning, unknown, no_profile = CustomerFactory(), CustomerFactory(), CustomerFactory(), CustomerFactory()
    EngagementProfile.objects.create(customer=evening, best_hour=20)
    EngagementProfile.objects.create(customer=morning, best_hour=11)
    EngagementProfile.objects.create(customer=unknown)

    chances = read_chances(customer_ids=[evening.pk, morning.pk, unknown.pk, no_profile.pk], send_hour=8)

    assert chances[evening.pk] == pytest.approx(0.5 ** 4)  # 12 h before their hour
    assert chances[morning.pk] == pytest.approx(0.5)  # 3 h before
    # Whoever's hour is unknown reads it as the customers whose hour is known do, on average.
    assert chances[unknown.pk] == chances[no_profile.pk] == pytest.approx((0.5 ** 4 + 0.5) / 2)
    assert read_chances(customer_ids=[unknown.pk], send_hour=8) == {unknown.pk: 1.0}  # nobody's hour known: no discount


def test_a_click_on_a_push_sent_at_the_wrong_hour_counts_that_push_as_read():
    now = timezone.now()
    topic = TagFactory()
    # Every customer clicked the one push they got, sent 12 h before their hour (1/16 of a push they
    # could have read by the hour rule): they read it anyway, so it counts as a push read, not 1/16 —
    # rates above 1 would break the posterior.
    people = [CustomerFactory() for _ in range(5)]
    for customer in people:
        p = profile(customer, topic, now=now, pushes=1, clicks=1, affinity=1)
        p.best_hour, p.push_hours = 20, [1.0 if h == 8 else 0.0 for h in range(24)]
        p.save()
    estimates = click_estimates(customer_ids=[c.pk for c in people], topic_ids=[topic.pk], now=now, seed="s")
    assert all(0.5 < mean <= 0.99 and 0 <= sample <= 1 for mean, _, sample in estimates.values())


def _class_samples(ids, topic, *, now, seed):
    from django.db import connection
    from psycopg import sql

    from customers.engagement.prediction import click_estimates_sql, topic_lift_json
    from scrm.sqltools import render

    query = render(click_estimates_sql(sql.SQL("(SELECT unnest(%(ids)s::bigint[]) AS customer_id)")))
    with connection.cursor() as cursor:
        cursor.execute(query, {"ids": ids, "topics": [str(topic.pk)], "now": now, "seed": seed, "account": None,
                               "topic_lift": topic_lift_json(account_id=None, now=now)})
        return {row[0]: row[4] for row in cursor.fetchall()}


def test_a_visit_to_the_topic_never_draws_below_customers_without_one_after_an_unlucky_campaign():
    now = timezone.now()
    topic, earlier, third = TagFactory(), TagFactory(), TagFactory()
    ids = []
    # The earlier campaign: its 10 customers who had visited its pages ignored it (bad luck), while 10
    # who had only visited another topic's pages clicked 2 of 3 pushes each.
    for _ in range(10):
        customer = CustomerFactory()
        EngagementProfile.objects.create(customer=customer, score_updated_at=now, topic_pushes={str(earlier.pk): 3.0}, topic_affinity={str(earlier.pk): 0.5})
        ids.append(customer.pk)
    for _ in range(10):
        customer = CustomerFactory()
        EngagementProfile.objects.create(
            customer=customer, score_updated_at=now, topic_pushes={str(earlier.pk): 3.0}, topic_clicks={str(earlier.pk): 2.0},
            topic_affinity={str(earlier.pk): 2.0, str(third.pk): 0.5},
        )
        ids.append(customer.pk)
    visitor, elsewhere = CustomerFactory(), CustomerFactory()
    EngagementProfile.objects.create(customer=visitor, score_updated_at=now, topic_affinity={str(topic.pk): 0.5})
    EngagementProfile.objects.create(customer=elsewhere, score_updated_at=now, topic_affinity={str(third.pk): 0.5})
    ids += [visitor.pk, elsewhere.pk]

    means = click_estimates(customer_ids=ids, topic_ids=[topic.pk], now=now)
    # What the pushes said, as learned: customers who visited a topic clicked less than those who visited elsewhere...
    assert means[visitor.pk][0] < means[elsewhere.pk][0]
    # ...but the exploration draws never rank one visit to this topic below none: on every campaign's seed
    # the visitor's draw is at least the other's (less the tie-break's spread).
    for n in range(20):
        samples = _class_samples(ids, topic, now=now, seed=f"campaign:{n}")
        assert samples[visitor.pk] >= samples[elsewhere.pk] - 1e-3


def test_one_click_barely_moves_a_customer_where_everyone_clicks_as_customers_like_them_do():
    now = timezone.now()
    old, new = TagFactory(), TagFactory()
    ids = []
    # Forty customers, each pushed five times on the old topic, each clicking one (the rate of their class).
    for _ in range(40):
        customer = CustomerFactory()
        profile(customer, old, now=now, pushes=5, clicks=1)
        ids.append(customer.pk)
    lucky, fresh = CustomerFactory(), CustomerFactory()
    profile(lucky, old, now=now, pushes=1, clicks=1)
    ids += [lucky.pk, fresh.pk]

    estimates = click_estimates(customer_ids=ids, topic_ids=[new.pk], now=now)
    # The audience shows no difference in propensity beyond chance: one click is no reason to think the
    # customer clicks twice as often on every topic (with a fixed weak prior it was ×2).
    assert estimates[lucky.pk][0] < 1.15 * estimates[fresh.pk][0]


def test_where_some_customers_never_click_their_ignored_pushes_soon_lower_their_estimate():
    now = timezone.now()
    old, new = TagFactory(), TagFactory()
    ids = []
    # Half the audience clicks half its pushes, half never clicks: propensity differs far beyond chance.
    for n in range(40):
        customer = CustomerFactory()
        profile(customer, old, now=now, pushes=10, clicks=5 if n % 2 else 0)
        ids.append(customer.pk)
    ignorer, fresh = CustomerFactory(), CustomerFactory()
    profile(ignorer, old, now=now, pushes=10)
    ids += [ignorer.pk, fresh.pk]

    estimates = click_estimates(customer_ids=ids, topic_ids=[new.pk], now=now)
    assert estimates[ignorer.pk][0] < 0.5 * estimates[fresh.pk][0]
