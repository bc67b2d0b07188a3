"""Audience simulator: does steering (learned interests + send-time optimisation) beat blasting?

A synthetic audience of people with hidden traits is mirrored onto two service accounts ("arms")
in the product: the *blast* arm gets every campaign sent to its whole segment at the campaign's
hour; the *steered* arm gets the same campaigns sent only to the customers whose behavioural
interest tag (learned from their own clicks and visits) matches the campaign's topic, each at their
learned best hour. Both arms run through the real code: segments, campaign planning with the
contact policy, dispatch through the channel adapters to the WeChat sandbox over HTTP, tracked links
(/r/<token> view), engagement events and the incremental learning. Only the people are simulated.

The clock is fast-forwarded: Python's ``django.utils.timezone.now`` and PostgreSQL's ``now()`` /
``clock_timestamp()`` (shadowed by functions in a schema put before pg_catalog on the search path)
both read the simulated time, which advances hour by hour. Everything runs in one transaction that
is rolled back at the end (unless ``keep=True``), so the simulator can be run against any database.

The people (all parameters are in SimParams and on the command line):
- steering: "tags" (default) sends each steered campaign to the segment of its topic's behavioural
  interest tag; "predicted" sends it to the whole segment with the campaign's precision targeting
  (``top_percent`` best by predicted engagement for the topic). Both use send-time optimisation.
- interests: 1 topic (60 %) or 2 topics (40 %) of ``topics``;
- a reading hour (local time) drawn from ``reading_hours``; on a day they open WeChat with
  probability ``session_rate`` at that hour (± 30 min);
- a push received at time s is noticed at their next session r with probability
  exp(-(r - s) / bury_hours) (it gets buried under other chats), then clicked with probability
  ``click_if_interested`` or ``click_if_not`` depending on the push's topic;
- patience: a person unfollows once ``patience`` (uniform in [patience_min, patience_max]) pushes
  went unclicked within ``patience_days``;
- organic activity: each day, with probability ``visit_rate``, a mini-program page view on one of
  their interests (or, with ``off_interest_visit_share``, on a random topic), at their reading hour.
  Organic visits happen in both arms identically; a ``warmup_days`` period of them precedes the
  first campaign.
Campaigns: ``campaigns_per_week`` template messages (transactional class: the only type with a
tracked web link per recipient that WeChat allows without consent or a 48-hour window; the contact
policy's marketing caps therefore do not apply, in either arm) (Monday, Wednesday, Friday …) at ``send_hour``
local time, topics in rotation, for ``weeks`` weeks.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.test import RequestFactory

SIM_SCHEMA = "scrm_sim"
SIM_TZ = "Asia/Shanghai"
WECHAT_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42"


@dataclass
class SimParams:
    customers: int = 300
    weeks: int = 4
    warmup_days: int = 14
    topics: int = 6
    campaigns_per_week: int = 3
    send_hour: int = 10
    seed: int = 7
    reading_hours: str = "9:0.2,12:0.3,17:0.15,20:0.35"
    session_rate: float = 0.9
    bury_hours: float = 6.0
    click_if_interested: float = 0.6
    click_if_not: float = 0.02
    patience_min: int = 4
    patience_max: int = 10
    patience_days: int = 14
    visit_rate: float = 0.25
    off_interest_visit_share: float = 0.15
    # "tags": steered campaigns target the behavioural interest tag's segment; "predicted": the
    # whole segment with the campaign's precision targeting (top_percent by predicted engagement).
    steering: str = "tags"
    top_percent: int = 25
    start: datetime = field(default_factory=lambda: datetime(2030, 3, 4, 0, 0, tzinfo=ZoneInfo(SIM_TZ)))  # a Monday


@dataclass
class Person:
    index: int
    interests: frozenset[int]
    reading_hour: int
    reading_minute: int
    patience: int


@dataclass
class ArmResult:
    name: str
    pushes: int = 0
    clicks: int = 0
    unfollows: int = 0

    @property
    def clicks_per_push(self) -> float:
        return self.clicks / self.pushes if self.pushes else 0.0


@dataclass
class SimResult:
    blast: ArmResult
    steered: ArmResult

    @property
    def goal_met(self) -> bool:
        b, s = self.blast, self.steered
        return s.clicks >= 0.9 * b.clicks and s.pushes <= 0.5 * b.pushes and s.unfollows <= 0.5 * b.unfollows

    def table(self) -> str:
        rows = [("", "pushes", "clicks", "clicks/push", "unfollows")]
        for arm in (self.blast, self.steered):
            rows.append((arm.name, str(arm.pushes), str(arm.clicks), f"{arm.clicks_per_push:.3f}", str(arm.unfollows)))
        b, s = self.blast, self.steered
        rows.append(
            (
                "steered/blast",
                _ratio(s.pushes, b.pushes),
                _ratio(s.clicks, b.clicks),
                _ratio(s.clicks_per_push, b.clicks_per_push),
                _ratio(s.unfollows, b.unfollows),
            )
        )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in rows]
        verdict = "met" if self.goal_met else "NOT met"
        lines.append(f"goal (steered ≥ 90% of blast's clicks, ≤ ½ pushes, ≤ ½ unfollows): {verdict}")
        return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "–"


# --- the people --------------------------------------------------------------------------------


def parse_reading_hours(spec: str) -> list[tuple[int, float]]:
    out = []
    for part in spec.split(","):
        hour, _, weight = part.partition(":")
        out.append((int(hour) % 24, float(weight or 1)))
    return out


def build_audience(params: SimParams) -> list[Person]:
    """People with hidden interests, reading hours and patience (deterministic for a seed)."""
    rng = random.Random(params.seed)
    hours = parse_reading_hours(params.reading_hours)
    people = []
    for i in range(params.customers):
        k = 1 if rng.random() < 0.6 else 2
        interests = frozenset(rng.sample(range(params.topics), min(k, params.topics)))
        hour = rng.choices([h for h, _ in hours], weights=[w for _, w in hours])[0]
        people.append(
            Person(
                index=i,
                interests=interests,
                reading_hour=hour,
                reading_minute=rng.randrange(0, 60),
                patience=rng.randint(params.patience_min, params.patience_max),
            )
        )
    return people


def next_session(person: Person, after: datetime, rng: random.Random, params: SimParams) -> datetime | None:
    """The person's next WeChat session at or after `after` (within a week), in UTC."""
    local = after.astimezone(ZoneInfo(SIM_TZ))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for offset in range(8):
        session = day + timedelta(days=offset, hours=person.reading_hour, minutes=person.reading_minute - 30 + rng.randrange(0, 60))
        if session >= local and rng.random() < params.session_rate:
            return session.astimezone(ZoneInfo("UTC"))
    return None


def notice_probability(delay_hours: float, params: SimParams) -> float:
    return math.exp(-max(delay_hours, 0.0) / params.bury_hours)


def click_probability(person: Person, topic: int, params: SimParams) -> float:
    return params.click_if_interested if topic in person.interests else params.click_if_not


# --- the clock -----------------------------------------------------------------------------------


class SimClock:
    """Simulated time for Python (timezone.now) and PostgreSQL (now(), clock_timestamp())."""

    def __init__(self, start: datetime):
        self.now_value = start.astimezone(ZoneInfo("UTC"))

    def now(self) -> datetime:
        return self.now_value

    def set(self, at: datetime) -> None:
        self.now_value = at.astimezone(ZoneInfo("UTC"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('scrm_sim.now', %s, false)", [self.now_value.isoformat()])


def _install_db_clock() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {SIM_SCHEMA}")
        for name in ("now", "clock_timestamp", "statement_timestamp", "transaction_timestamp"):
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {SIM_SCHEMA}.{name}() RETURNS timestamptz LANGUAGE sql STABLE "
                "AS $$ SELECT current_setting('scrm_sim.now')::timestamptz $$"
            )
        cursor.execute("SHOW search_path")
        previous = cursor.fetchone()[0]
        # pg_catalog named explicitly after our schema: our now() shadows the built-in one.
        cursor.execute(f"SET search_path TO {SIM_SCHEMA}, pg_catalog, {previous}")
    return previous


def _restore_search_path(previous: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SET search_path TO {previous}")


# --- the arms ------------------------------------------------------------------------------------


@dataclass
class Arm:
    name: str
    steered: bool
    account: Any
    customer_ids: list[int]
    identity_ids: list[int]
    segments: dict[int, int]  # topic index → segment id (blast: the same whole-audience segment)
    following: list[bool]
    unwanted: list[deque] = field(default_factory=list)
    result: ArmResult = field(default_factory=lambda: ArmResult(name=""))
    campaign_ids: list[int] = field(default_factory=list)
    seen_deliveries: set[int] = field(default_factory=set)
    by_customer: dict[int, int] = field(default_factory=dict)


class Simulation:
    def __init__(self, params: SimParams, *, sandbox_url: str, stdout=None):
        if params.steering not in ("tags", "predicted"):
            raise ValueError("steering must be 'tags' or 'predicted'")
        self.params = params
        self.sandbox_url = sandbox_url
        self.stdout = stdout
        self.people = build_audience(params)
        self.rng = random.Random(params.seed + 1)
        self.clock = SimClock(params.start)
        self.heap: list[tuple[datetime, int, str, dict]] = []
        self.seq = count()
        self.last_event_id = 0
        self.factory = RequestFactory()

    def log(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message)

    # setup -------------------------------------------------------------------------------------
    def _setup(self) -> None:
        from customers.models import ChannelIdentity, Customer, Tag, TagGroup
        from customers.segments.services import segment_create
        from accounts.models import ChannelAccount
        from messaging.sandbox.control import SandboxControl

        control = SandboxControl(self.sandbox_url)
        suffix = f"{self.params.seed}-{self.rng.randrange(10**9)}"
        group, _ = TagGroup.objects.get_or_create(name=f"sim topics {suffix}")
        self.topic_tags = [Tag.objects.create(group=group, name=f"topic-{k}").pk for k in range(self.params.topics)]
        self.arms: list[Arm] = []
        for name, steered in (("blast", False), ("steered", True)):
            account = ChannelAccount.objects.create(
                kind="oa",
                name=f"sim {name} {suffix}",
                app_id=f"wxsim{name[:2]}{suffix.replace('-', '')}"[:32],
                app_secret=f"simsecret{suffix}",
                token="simtoken",
                encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
                api_base_url=self.sandbox_url,
                timezone=SIM_TZ,
                rate_limit_per_second=100_000,
                daily_quota=10_000_000,
            )
            control.register_app(kind="oa", app_id=account.app_id, secret=account.app_secret, auto_report=False)
            openids = control.add_followers(account.app_id, self.params.customers)
            customers = Customer.objects.bulk_create(
                [Customer(display_name=f"sim {name} {i}", timezone=SIM_TZ) for i in range(self.params.customers)]
            )
            identities = ChannelIdentity.objects.bulk_create(
                [
                    ChannelIdentity(customer=c, account=account, kind="oa_openid", external_id=openid, follow_state="following")
                    for c, openid in zip(customers, openids, strict=True)
                ]
            )
            follows = {"type": "channel", "op": "follows", "account": account.pk}
            if steered and self.params.steering == "tags":
                segments = {
                    k: segment_create(
                        name=f"sim {name} {suffix} topic {k}", rule={"all": [follows, {"type": "tag", "op": "has", "tag": tag}]}
                    ).pk
                    for k, tag in enumerate(self.topic_tags)
                }
            else:
                whole = segment_create(name=f"sim {name} {suffix} all", rule={"all": [follows]}).pk
                segments = dict.fromkeys(range(self.params.topics), whole)
            arm = Arm(
                name=name,
                steered=steered,
                account=account,
                customer_ids=[c.pk for c in customers],
                identity_ids=[i.pk for i in identities],
                segments=segments,
                following=[True] * self.params.customers,
                unwanted=[deque() for _ in range(self.params.customers)],
                result=ArmResult(name=name),
            )
            arm.by_customer = {cid: i for i, cid in enumerate(arm.customer_ids)}
            self.arms.append(arm)
        from customers.models import EngagementEvent

        self.last_event_id = EngagementEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    # events ------------------------------------------------------------------------------------
    def _push(self, at: datetime, kind: str, **data: Any) -> None:
        heapq.heappush(self.heap, (at, next(self.seq), kind, data))

    def _plan_organic_day(self, day_start_local: datetime) -> None:
        p = self.params
        for person in self.people:
            if self.rng.random() >= p.visit_rate:
                continue
            if self.rng.random() < p.off_interest_visit_share:
                topic = self.rng.randrange(p.topics)
            else:
                topic = self.rng.choice(sorted(person.interests))
            at = day_start_local + timedelta(hours=person.reading_hour, minutes=self.rng.randrange(0, 60))
            self._push(at.astimezone(ZoneInfo("UTC")), "visit", person=person.index, topic=topic)

    def _learn(self) -> None:
        """The analytics worker: fold every new event into the profiles (incremental)."""
        from customers.engagement.services import engagement_events_apply
        from customers.models import EngagementEvent

        ids = list(EngagementEvent.objects.filter(pk__gt=self.last_event_id).order_by("pk").values_list("pk", flat=True))
        if ids:
            for start in range(0, len(ids), 500):
                engagement_events_apply(event_ids=ids[start : start + 500])
            self.last_event_id = ids[-1]

    # campaigns ---------------------------------------------------------------------------------
    def _launch(self, topic: int, at: datetime, number: int) -> None:
        from campaigns import services

        for arm in self.arms:
            campaign = services.campaign_create(
                data={
                    "name": f"sim {arm.name} #{number} topic {topic}",
                    "account": arm.account,
                    "message_type": "template",
                    # Template messages carry a tracked URL; WeChat allows them only as transactional,
                    # so the marketing caps do not apply and do not mask the blast/steered difference.
                    "priority_class": "transactional",
                    "content": {
                        "template_id": "SIM-TPL",
                        "template_keys": ["first"],
                        "fields": {"first": f"News about topic {topic}"},
                        "url": f"https://shop.example.com/topic/{topic}",
                    },
                    "segment_id": arm.segments[topic],
                    "topics": [self.topic_tags[topic]],
                    "send_time_optimization": arm.steered,
                    **({"top_percent": self.params.top_percent} if arm.steered and self.params.steering == "predicted" else {}),
                }
            )
            services.campaign_schedule(campaign=campaign, at=at)
            services.campaign_plan(campaign_id=campaign.pk)
            arm.campaign_ids.append(campaign.pk)
            arm.topic_of = getattr(arm, "topic_of", {})
            arm.topic_of[campaign.pk] = topic

    def _dispatch(self) -> None:
        from campaigns import dispatch
        from campaigns.models import Campaign, CampaignState, Delivery

        for arm in self.arms:
            sending = Campaign.objects.filter(pk__in=arm.campaign_ids, state=CampaignState.SENDING).values_list("pk", flat=True)
            for campaign_id in sending:
                for _ in range(50):
                    result = dispatch.campaign_dispatch(campaign_id=campaign_id, budget_seconds=120)
                    if result.requeue_in != 0:
                        break
            fresh = Delivery.objects.filter(campaign_id__in=arm.campaign_ids, sent_at__isnull=False).exclude(pk__in=arm.seen_deliveries)
            for delivery_id, customer_id, campaign_id, sent_at in fresh.values_list("pk", "customer_id", "campaign_id", "sent_at"):
                arm.seen_deliveries.add(delivery_id)
                arm.result.pushes += 1
                person = self.people[arm.by_customer[customer_id]]
                session = next_session(person, sent_at, self.rng, self.params)
                if session is None:
                    continue
                self._push(session, "read", arm=arm.name, person=person.index, delivery=delivery_id, campaign=campaign_id, sent_at=sent_at)

    # actions -----------------------------------------------------------------------------------
    def _arm(self, name: str) -> Arm:
        return next(a for a in self.arms if a.name == name)

    def _do(self, kind: str, data: dict) -> None:
        from customers.services import events_record_bulk

        if kind == "visit":
            tag = self.topic_tags[data["topic"]]
            events_record_bulk(
                [
                    {
                        "customer_id": arm.customer_ids[data["person"]],
                        "event_type": "mp.page_view",
                        "occurred_at": self.clock.now(),
                        "properties": {"page": f"pages/topic?id={data['topic']}", "topics": [tag]},
                    }
                    for arm in self.arms
                ]
            )
            return
        arm = self._arm(data["arm"])
        person = self.people[data["person"]]
        if not arm.following[person.index]:
            return
        now = self.clock.now()
        delay = (now - data["sent_at"]).total_seconds() / 3600
        topic = arm.topic_of[data["campaign"]]
        clicked = self.rng.random() < notice_probability(delay, self.params) and self.rng.random() < click_probability(person, topic, self.params)
        if clicked:
            self._click(arm, person, data)
            return
        window = arm.unwanted[person.index]
        window.append(now)
        while window and window[0] < now - timedelta(days=self.params.patience_days):
            window.popleft()
        if len(window) >= person.patience:
            self._unfollow(arm, person)

    def _click(self, arm: Arm, person: Person, data: dict) -> None:
        from campaigns.models import Campaign
        from campaigns.tracking.services import tracked_url
        from campaigns.tracking.views import tracked_redirect

        url = Campaign.objects.values_list("content", flat=True).get(pk=data["campaign"])["url"]
        short = tracked_url(delivery_id=data["delivery"], campaign_id=data["campaign"], customer_id=arm.customer_ids[person.index], url=url)
        token = short.rsplit("/", 1)[1]
        request = self.factory.get(f"/r/{token}", HTTP_USER_AGENT=WECHAT_UA)
        response = tracked_redirect(request, token)
        if response.status_code == 302:
            arm.result.clicks += 1

    def _unfollow(self, arm: Arm, person: Person) -> None:
        from customers.models import ChannelIdentity
        from customers.services import event_record, identity_set_follow_state

        now = self.clock.now()
        arm.following[person.index] = False
        arm.result.unfollows += 1
        identity = ChannelIdentity.objects.get(pk=arm.identity_ids[person.index])
        identity_set_follow_state(identity=identity, following=False, at=now)
        event_record(customer_id=arm.customer_ids[person.index], event_type="wechat.unsubscribe", occurred_at=now, account_id=arm.account.pk)

    # main loop ---------------------------------------------------------------------------------
    def run(self, *, keep: bool = False) -> SimResult:
        import campaigns.services as campaign_services

        p = self.params
        with ExitStack() as stack:
            stack.enter_context(_outer_transaction(keep=keep))
            previous_path = _install_db_clock()
            stack.callback(_restore_search_path, previous_path)
            stack.enter_context(mock.patch("django.utils.timezone.now", self.clock.now))
            # The simulation drives planning and dispatch itself, tick by tick.
            stack.enter_context(mock.patch.object(campaign_services, "_enqueue", lambda *a, **k: None))
            self.clock.set(p.start)
            self._setup()
            tz = ZoneInfo(SIM_TZ)
            start_local = p.start.astimezone(tz)
            total_days = p.warmup_days + 7 * p.weeks
            weekdays = [0, 2, 4, 1, 3, 5, 6][: max(1, min(7, p.campaigns_per_week))]
            number = 0
            for hour in range(total_days * 24 + 24):
                tick = start_local + timedelta(hours=hour)
                day = hour // 24
                if tick.hour == 0 and day < total_days:
                    self._plan_organic_day(tick)
                # Actions of the past hour, in time order.
                while self.heap and self.heap[0][0] < tick:
                    at, _, kind, data = heapq.heappop(self.heap)
                    self.clock.set(at)
                    self._do(kind, data)
                self.clock.set(tick)
                self._learn()
                campaign_day = day - p.warmup_days
                if 0 <= campaign_day < 7 * p.weeks and tick.weekday() in weekdays and tick.hour == p.send_hour:
                    self._launch(number % p.topics, tick, number)
                    number += 1
                self._dispatch()
                if hour % (24 * 7) == 0:
                    self.log(f"  day {day}: " + ", ".join(f"{a.name} {a.result.pushes} pushes {a.result.clicks} clicks {a.result.unfollows} unfollows" for a in self.arms))
        return SimResult(blast=self.arms[0].result, steered=self.arms[1].result)


class _Rollback(Exception):
    pass


@contextmanager
def _outer_transaction(*, keep: bool):
    try:
        with transaction.atomic():
            yield
            if not keep:
                raise _Rollback
    except _Rollback:
        pass


def simulate(params: SimParams, *, sandbox_url: str | None = None, keep: bool = False, stdout=None) -> SimResult:
    """Run the simulation against a sandbox (started here unless `sandbox_url` is given)."""
    if sandbox_url:
        return Simulation(params, sandbox_url=sandbox_url, stdout=stdout).run(keep=keep)
    from messaging.sandbox.server import SandboxServer

    server = SandboxServer(host="127.0.0.1", port=0).start()
    try:
        return Simulation(params, sandbox_url=server.base_url, stdout=stdout).run(keep=keep)
    finally:
        server.stop()
