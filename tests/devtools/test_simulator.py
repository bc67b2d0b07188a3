from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from campaigns.models import Campaign
from customers.models import Customer, EngagementEvent
from devtools.simulator import (
    PRESETS,
    Audience,
    Organic,
    PersonSpec,
    Push,
    PushOutcome,
    SimClock,
    Traits,
    audience_load,
    install_db_clock,
    restore_search_path,
)
from devtools.simulator.presets import ClassicAudience

T = datetime(2030, 3, 4, 2, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


class TinyAudience(Audience):
    """Six people: person i likes topic i % 2, reads every push half an hour after it arrives and
    clicks it when it is on their topic; person 5 refuses consent; person 4 mutes the account the
    first time a push is not for them. Everybody visits their topic's page at 10:00 local."""

    name = "tiny"

    def people(self):
        return [PersonSpec(index=i, display_name=f"tiny {i}", consent_credits=0 if i == 5 else 10) for i in range(self.size)]

    def organic(self, person, hour, rng):
        return [Organic(kind="page_view", minute=5, topic=person % 2)] if (hour.hour + 8) % 24 == 10 else []

    def read(self, person, push, rng):
        return push.sent_at + timedelta(minutes=30)

    def click(self, person, push, read_at, rng):
        return person % 2 in push.topics

    def disturbance(self, person, push, clicked, recent, at, rng):
        return "mute" if person == 4 and not clicked else None

    def traits(self, person, at):
        return Traits(interests=frozenset({person % 2}), best_hour=10)


def _row(text, name):
    return next(line for line in text.splitlines() if line.startswith(name + " "))


@pytest.mark.django_db
def test_a_custom_audience_plugs_in_and_every_arm_runs_through_the_product(sandbox):
    out = StringIO()
    before = (Customer.objects.count(), Campaign.objects.count(), EngagementEvent.objects.count())

    call_command(
        "simulate_audience", audience="tests.devtools.test_simulator:TinyAudience", customers=6, topics=2, weeks=1, warmup_days=3,
        sandbox_url=sandbox.base_url, stdout=out,
    )

    text = out.getvalue()
    # pushes, reads, clicks, clicks/push, unfollows, mutes per arm. Campaigns: topic 0, 1, 0.
    # Blast: 5 consenting people × 3, less person 4's third push (muted after the topic-1 push);
    # clicks 3 + 2 + 2.
    assert _row(text, "blast").split()[1:] == ["14", "14", "7", "0.500", "0", "1"]
    # The oracle sends each topic only to those who like it, and nobody is disturbed.
    assert _row(text, "oracle").split()[1:] == ["8", "8", "8", "1.000", "0", "0"]
    assert "blast hour 10:00" in text
    assert "no_consent 3" in _row(text, "suppressed (blast):")
    assert "do_not_disturb 1" in _row(text, "suppressed (blast):")
    # The click estimates made before each blast push are scored on the held-out (last) week.
    assert "calibration on the held-out week's 14 blast pushes: Brier" in text
    # Where each arm won and lost clicks: the clickable pairs (person × campaign on their topic; 9,
    # person 5's 2 included) against what the arm pushed, and why the others were left out.
    assert (
        "  oracle: 8 of 9 clickable pairs pushed (8/8 read, 8 clicked, hour off by 0.0 h), 0 other pushes (0 clicked);"
        " clickable left out: no_consent 1"
    ) in text
    assert "  blast: 7 of 9 clickable pairs pushed (7/7 read, 7 clicked" in text
    steered_pushes = int(_row(text, "steered").split()[1])
    # The pushes really went through the sandbox, as subscribe messages.
    assert len(sandbox.control.sent_messages(api="bizsend")) == 14 + steered_pushes + 8
    # Everything ran in one rolled-back transaction.
    assert (Customer.objects.count(), Campaign.objects.count(), EngagementEvent.objects.count()) == before


class LateTinyAudience(TinyAudience):
    """TinyAudience's people, reading at 22:00 local: inside the default quiet hours (21:00–08:30)."""

    name = "late"

    def organic(self, person, hour, rng):
        return [Organic(kind="page_view", minute=5, topic=person % 2)] if hour.hour == 22 else []  # the simulation's local hour

    def read(self, person, push, rng):
        return push.sent_at + timedelta(hours=2)

    def traits(self, person, at):
        return Traits(interests=frozenset({person % 2}), best_hour=22)


@pytest.mark.django_db
def test_readers_inside_the_quiet_hours_get_their_push_a_quarter_before_they_begin(sandbox):
    from zoneinfo import ZoneInfo

    from campaigns.models import Delivery
    from tests.factories import ContactPolicyFactory

    ContactPolicyFactory(quiet_hours=True)
    call_command(
        "simulate_audience", audience="tests.devtools.test_simulator:LateTinyAudience", customers=6, topics=2, weeks=1, warmup_days=3,
        arms="steered,oracle", sandbox_url=sandbox.base_url, keep=True, stdout=StringIO(),
    )
    shanghai = ZoneInfo("Asia/Shanghai")
    sent = {
        (d.campaign.account.name.split()[1], d.sent_at.astimezone(shanghai).strftime("%H:%M"))
        for d in Delivery.objects.filter(campaign__account__name__startswith="sim ", sent_at__isnull=False).select_related("campaign__account")
    }
    # Planning (steered) and the oracle send at 20:45, and the simulator dispatches then, between its
    # hourly ticks: not at 21:00, when the send-time check would put them off to 08:30.
    assert sent == {("steered", "20:45"), ("oracle", "20:45")}


class AskedTinyAudience(TinyAudience):
    """TinyAudience's people, who never visit; asked about their interests, person 2 ticks topic 0
    (theirs) at 10:05 local on the first day."""

    name = "asked-tiny"

    def organic(self, person, hour, rng):
        local = hour.astimezone(SHANGHAI)
        first_ten = local.hour == 10 and local.date() == date(2030, 3, 4)  # the simulation's first day
        return [Organic(kind="preference", minute=5, topic=0)] if person == 2 and first_ten else []

    def read(self, person, push, rng):
        return push.sent_at + timedelta(minutes=30)

    def click(self, person, push, read_at, rng):
        return person % 2 in push.topics

    def traits(self, person, at):
        return Traits(interests=frozenset({person % 2}), best_hour=10)


@pytest.mark.django_db
def test_a_topic_ticked_when_asked_is_an_opt_in_and_steering_pushes_that_customer_first(sandbox):
    from campaigns.models import Delivery
    from customers.models import EngagementProfile, TopicSubscription

    call_command(
        "simulate_audience", audience="tests.devtools.test_simulator:AskedTinyAudience", customers=6, topics=2, weeks=1, warmup_days=3,
        arms="steered", top_percent=20, sandbox_url=sandbox.base_url, keep=True, stdout=StringIO(),
    )
    asked = Customer.objects.get(display_name__endswith=" 2", identities__account__name__startswith="sim steered")
    # The answer is the preference centre's opt-in, and its time an hour the customer is on WeChat.
    assert list(TopicSubscription.objects.filter(customer=asked).values_list("tag__name", "opted_in")) == [("topic-0", True)]
    assert EngagementEvent.objects.filter(customer=asked, event_type="mp.preferences").count() == 1
    assert EngagementProfile.objects.get(customer=asked).best_hour == 10
    # With a reach of one customer in five, the first campaign (topic 0, before anyone was pushed)
    # goes to the one who asked for it: the others, who never showed up, are no evidence either way.
    first = Delivery.objects.filter(campaign__account__name__startswith="sim steered", campaign__name__contains="#0 topic 0")
    assert list(first.values_list("customer_id", flat=True)) == [asked.pk]


def test_audience_names_resolve_to_presets_or_classes_and_bad_ones_are_refused():
    assert audience_load("sparse") is PRESETS["sparse"]
    assert audience_load("tests.devtools.test_simulator:TinyAudience") is TinyAudience
    for bad in ("nonsense", "tests.devtools.test_simulator:Nope", "datetime:datetime"):
        with pytest.raises(ValueError):
            audience_load(bad)
    with pytest.raises(CommandError):
        call_command("simulate_audience", audience="nonsense")
    with pytest.raises(ValueError, match="unknown audience options"):
        ClassicAudience(size=3, topics=2, seed=1, wrong="1")


def test_presets_are_deterministic_and_stress_what_they_say():
    size, topics = 400, 6
    for cls in PRESETS.values():
        a, b = cls(size=size, topics=topics, seed=3), cls(size=size, topics=topics, seed=3)
        assert [a.traits(i, T) for i in range(size)] == [b.traits(i, T) for i in range(size)]
    sparse, classic = PRESETS["sparse"](size=size, topics=topics, seed=3), PRESETS["classic"](size=size, topics=topics, seed=3)
    assert 0.3 < sum(not h.visits for h in sparse.hidden) / size < 0.5
    assert all(h.visits for h in classic.hidden)
    never = PRESETS["never_click"](size=size, topics=topics, seed=3)
    assert 0.35 < sum(not never.traits(i, T).clicks for i in range(size)) / size < 0.55
    drifting = PRESETS["drifting"](size=size, topics=topics, seed=3)
    changed = sum(drifting.traits(i, T).interests != drifting.traits(i, T + timedelta(days=30)).interests for i in range(size))
    assert changed > size / 2
    assert all(classic.traits(i, T) == classic.traits(i, T + timedelta(days=30)) for i in range(size))
    night = PRESETS["night"](size=size, topics=topics, seed=3)
    assert all(night.traits(i, T).best_hour in (7, 20, 22, 23) for i in range(size))
    # asked: sparse's very people, of whom about 30 % answer the question, mostly with their interests.
    asked = PRESETS["asked"](size=size, topics=topics, seed=3)
    assert [asked.traits(i, T) for i in range(size)] == [sparse.traits(i, T) for i in range(size)]
    answered = [h for h in asked.hidden if h.declared]
    assert 0.2 < len(answered) / size < 0.4
    assert sum(len(h.declared & h.interests) for h in answered) > 4 * sum(len(h.declared - h.interests) for h in answered)
    assert not any(h.declared for h in sparse.hidden)


def test_fragile_patience_shrinks_with_recent_pushes():
    import random

    fragile = PRESETS["fragile"](size=10, topics=3, seed=1)
    push = Push(channel="oa_subscribe", topics=frozenset({0}), sent_at=T, arm="blast")

    def disturbed(recent_pushes):
        recent = tuple(PushOutcome(push=push, read_at=None, clicked=False) for _ in range(recent_pushes))
        rng = random.Random(5)
        return sum(fragile.disturbance(0, push, False, recent, T, rng) is not None for _ in range(2000))

    assert disturbed(0) < disturbed(2) < disturbed(5)
    assert fragile.disturbance(0, push, True, (), T, random.Random(1)) is None


@pytest.mark.django_db
def test_simulated_clock_drives_database_now():
    previous = install_db_clock()
    try:
        SimClock(datetime(2031, 1, 2, 3, 4, tzinfo=UTC)).set(datetime(2031, 1, 2, 3, 4, tzinfo=UTC))
        with connection.cursor() as cursor:
            cursor.execute("SELECT now(), clock_timestamp()")
            assert cursor.fetchone() == (datetime(2031, 1, 2, 3, 4, tzinfo=UTC),) * 2
    finally:
        restore_search_path(previous)
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp() < '2031-01-01'")
        assert cursor.fetchone()[0]


class VariantTinyAudience(Audience):
    """Everyone reads at once; the click probability is the variant's appeal (0 for A, 1 for B)."""

    name = "variant_tiny"

    def read(self, person, push, rng):
        return push.sent_at

    def click(self, person, push, read_at, rng):
        appeal = [float(x) for x in self.options.get("variant_appeal", "1,1").split(",")]
        return rng.random() < appeal[push.variant or 0]


@pytest.mark.django_db
def test_a_variant_test_through_the_product_sends_the_winner_to_the_rest_and_beats_the_even_split(sandbox):
    from devtools.simulator.variants import VariantParams, simulate_variants

    params = VariantParams(customers=80, cell_percent=25, wait_hours=1, min_sample=1, seed=3)
    model = VariantTinyAudience(size=80, topics=1, seed=3, variant_appeal="0,1")
    before = (Customer.objects.count(), Campaign.objects.count())
    result = simulate_variants(params, model, texts=["春季新品", "你的衣橱少了这一件？"], sandbox_url=sandbox.base_url)
    auto, even = result.arms["auto"], result.arms["even"]
    # Auto: A's cell never clicks, B's cell always does: B wins and goes to the rest, who all click.
    assert auto.winner == 1 and auto.decision.startswith("B to the rest (significant")
    assert auto.by_variant[0][1] == 0 and auto.by_variant[1][0] == auto.by_variant[1][1] and auto.sent == 80
    assert auto.clicks == 80 - auto.by_variant[0][0]
    # Even: only B's half clicks.
    assert even.sent == 80 and even.clicks == even.by_variant[1][0] and even.by_variant[0][1] == 0
    assert auto.clicks > even.clicks
    # Through the sandbox: one list per variant per arm, then auto's rest.
    texts = [r["body"]["text"]["content"].split(" ")[0] for r in sandbox.control.requests(path="/cgi-bin/message/mass/send") if r["errcode"] == 0]
    assert sorted(texts) == sorted(["春季新品", "你的衣橱少了这一件？"] * 2 + ["你的衣橱少了这一件？"])
    assert "auto − even" in result.table()
    assert (Customer.objects.count(), Campaign.objects.count()) == before


def test_variant_appeal_multiplies_the_click_probability_and_old_pushes_are_unchanged():
    audience = ClassicAudience(size=50, topics=2, seed=1, variant_appeal="1,1.5")
    at = datetime(2030, 3, 4, 12, tzinfo=UTC)
    person = next(i for i in range(50) if 0 in audience.interests_at(i, at))
    plain = Push(channel="mass", topics=frozenset({0}), sent_at=at, arm="a")
    assert plain.variant is None  # a push built as before the field existed
    base = audience.click_probability(person, plain, at)
    assert audience.click_probability(person, Push(channel="mass", topics=frozenset({0}), sent_at=at, arm="a", variant=0), at) == base
    assert audience.click_probability(person, Push(channel="mass", topics=frozenset({0}), sent_at=at, arm="a", variant=1), at) == pytest.approx(base * 1.5)
    assert audience.click_probability(person, Push(channel="mass", topics=frozenset({0}), sent_at=at, arm="a", variant=5), at) == base
    with pytest.raises(ValueError):
        ClassicAudience(size=3, topics=2, seed=1, variant_appeal="1,-1")


@pytest.mark.django_db
def test_the_steered_arm_schedules_its_week_ahead_so_planning_knows_the_competing_campaigns(sandbox):
    call_command(
        "simulate_audience", audience="tests.devtools.test_simulator:TinyAudience", customers=6, topics=2, weeks=1, warmup_days=3,
        arms="steered", sandbox_url=sandbox.base_url, keep=True, stdout=StringIO(),
    )
    steered = Campaign.objects.filter(account__name__startswith="sim steered").order_by("scheduled_at")
    # The week's three campaigns (the warm-up ends on a Thursday: Friday, Monday, Wednesday) were all
    # created at its start (a content calendar), each scheduled for its own day.
    assert len({c.created_at for c in steered}) == 1
    assert [(c.scheduled_at - c.created_at).days for c in steered] == [1, 4, 6]
