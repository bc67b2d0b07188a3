"""The simulation loop: the same audience mirrored onto one account per arm, run hour by hour through the real product."""

from __future__ import annotations

import heapq
import random
from collections import Counter, defaultdict, deque
from contextlib import ExitStack, contextmanager
from datetime import datetime, time, timedelta
from itertools import count
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from django.db import transaction
from django.test import RequestFactory

import campaigns.services as campaign_services
from accounts.models import ChannelAccount
from campaigns.models import Delivery
from campaigns.policy import global_policy, quiet_edge, quiet_edge_margin, reachable_hour
from campaigns.tracking.services import tracked_url
from campaigns.tracking.views import tracked_redirect
from customers.engagement.prediction import click_estimates, read_chances
from customers.engagement.services import engagement_events_apply
from customers.models import EngagementEvent, PushFrequency
from customers.segments.services import segment_create, segment_static_add
from customers.services import events_record_bulk
from customers.services.consent import consent_credit_add
from customers.services.preferences import PREFERENCES_EVENT, customer_preferences_set
from customers.services.tags import tag_ensure
from devtools.simulator.arms import SUBSCRIBE_TEMPLATE, Arm, arm_disturb, arm_suppressions, followers_create
from devtools.simulator.audience import SIM_TZ, ArmTally, Audience, Push, PushOutcome
from devtools.simulator.clock import SimClock, install_db_clock, restore_search_path
from devtools.simulator.diagnosis import diagnose
from devtools.simulator.params import ARMS, Calibration, SimParams, SimResult
from devtools.simulator.sending import Sending
from messaging.channels.hosts import sandbox_started
from messaging.sandbox.control import SandboxControl
from messaging.sandbox.server import SandboxServer

WECHAT_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42"
# The product's default quiet hours end 08:30 and start 21:00: the hours a single blast may use.
BLAST_HOURS = range(9, 21)
# Campaign days start here (local): the steered and oracle arms plan their own hours after it.
LAUNCH_HOUR = 8
ORGANIC_EVENT = {"page_view": "mp.page_view", "menu_click": "wechat.click", "conversion": "conversion", "preference": PREFERENCES_EVENT}
HISTORY_DAYS = 60


class Simulation(Sending):
    def __init__(self, params: SimParams, audience: Audience, *, sandbox_url: str, stdout=None):
        if params.steering not in ("value", "tags", "predicted"):
            raise ValueError("steering must be 'value', 'tags' or 'predicted'")
        unknown = set(params.arm_names) - set(ARMS)
        if unknown:
            raise ValueError(f"unknown arms: {', '.join(sorted(unknown))} (known: {', '.join(ARMS)})")
        self.params = params
        self.audience = audience
        self.people = list(audience.people())
        self.sandbox_url = sandbox_url
        self.stdout = stdout
        self.organic_rng = random.Random(f"organic:{params.seed}")
        self.declared: defaultdict[int, set[int]] = defaultdict(set)
        self.clock = SimClock(params.start)
        self.heap: list[tuple[datetime, int, str, dict]] = []
        self.seq = count()
        self.last_event_id = 0
        self.factory = RequestFactory()
        self.blast_hour = self._blast_hour()
        self.predictions: dict[int, dict[int, float]] = {}  # blast campaign id → customer id → predicted click
        self.campaign_days: dict[int, tuple[int, datetime]] = {}  # campaign number → (topic, local day start)

    def log(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message)

    def _blast_hour(self) -> int:
        """The single hour best for the audience as a whole: most people read within a few hours of it."""
        hours = Counter(self.audience.traits(p.index, self.params.start).best_hour for p in self.people)

        def reach(h: int) -> float:
            return sum(n * 0.5 ** (((r - h) % 24) / 3) for r, n in hours.items())

        return max(BLAST_HOURS, key=lambda h: (reach(h), -h))

    # setup -------------------------------------------------------------------------------------
    def _setup(self) -> None:
        control = SandboxControl(self.sandbox_url)
        suffix = f"{self.params.seed}-{random.Random().randrange(10**9)}"
        self.topic_tags = [tag_ensure(group_name=f"sim topics {suffix}", name=f"topic-{k}").pk for k in range(self.params.topics)]
        self.arms: list[Arm] = []
        for number, name in enumerate(self.params.arm_names):
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
            # The same openids on every invocation: the product keys its Thompson draws on them (a database
            # id would differ between invocations), so a seed gives the same run twice.
            openids = control.add_followers(account.app_id, len(self.people), openid_prefix=f"osim{name[:2]}{self.params.seed}_")
            customer_ids, identity_ids = followers_create(self.people, account_id=account.pk, openids=openids, name=name)
            for person, openid, customer_id in zip(self.people, openids, customer_ids, strict=True):
                if person.consent_credits > 0:
                    control.grant_consent(account.app_id, openid, SUBSCRIBE_TEMPLATE, count=person.consent_credits)
                    consent_credit_add(customer_id=customer_id, account_id=account.pk, template_id=SUBSCRIBE_TEMPLATE, count=person.consent_credits)
            follows = {"type": "channel", "op": "follows", "account": account.pk}
            if name == "steered" and self.params.steering == "tags":
                segments = {
                    k: segment_create(name=f"sim {name} {suffix} topic {k}", rule={"all": [follows, {"type": "tag", "op": "has", "tag": tag}]}).pk
                    for k, tag in enumerate(self.topic_tags)
                }
            elif name == "oracle":
                segments = {}  # a static segment per campaign and hour, chosen from the hidden traits
            else:
                whole = segment_create(name=f"sim {name} {suffix} all", rule={"all": [follows]}).pk
                segments = dict.fromkeys(range(self.params.topics), whole)
            arm = Arm(
                name=name,
                account=account,
                customer_ids=customer_ids,
                identity_ids=identity_ids,
                rng=random.Random(f"{name}:{self.params.seed}:{number}"),
                segments=segments,
                following=[True] * len(self.people),
                history=[deque() for _ in self.people],
                tally=ArmTally(name=name),
            )
            arm.by_customer = {cid: i for i, cid in enumerate(arm.customer_ids)}
            self.arms.append(arm)
        self.last_event_id = EngagementEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    # events ------------------------------------------------------------------------------------
    def _schedule(self, at: datetime, kind: str, **data: Any) -> None:
        heapq.heappush(self.heap, (at, next(self.seq), kind, data))

    def _organic_hour(self, hour: datetime) -> None:
        rows, answers = [], []
        for person in self.people:
            ticked = []
            for act in self.audience.organic(person.index, hour, self.organic_rng):
                if act.kind == "preference":
                    ticked.append(act)
                    continue
                properties: dict[str, Any] = {}
                if act.topic is not None:
                    properties["topics"] = [self.topic_tags[act.topic]]
                    if act.kind == "page_view":
                        properties["page"] = f"pages/topic?id={act.topic}"
                rows.extend(self._organic_rows(person.index, act.kind, hour + timedelta(minutes=act.minute), properties))
            if ticked:  # the topics ticked in one hour are saved at once: one event
                answers.append((person.index, ticked))
        if rows or answers:
            self.clock.set(hour)
        for person, ticked in answers:
            chosen = self._declare(person, [act.topic for act in ticked if act.topic is not None])
            rows.extend(self._organic_rows(person, "preference", hour + timedelta(minutes=ticked[0].minute), {"opted_in": chosen}))
        if rows:
            events_record_bulk(rows)

    def _organic_rows(self, person: int, kind: str, at: datetime, properties: dict[str, Any]) -> list[dict[str, Any]]:
        """The event of something the person did on their own, in every arm."""
        return [
            {"customer_id": arm.customer_ids[person], "account_id": arm.account.pk, "event_type": ORGANIC_EVENT[kind], "occurred_at": at, "properties": properties}
            for arm in self.arms
        ]

    def _declare(self, person: int, topics: list[int]) -> list[int]:
        """The person ticks topics in the preference centre (in every arm): their opt-ins so far."""
        chosen = self.declared[person]
        chosen.update(self.topic_tags[topic] for topic in topics)
        for arm in self.arms:
            customer_preferences_set(
                customer_id=arm.customer_ids[person], frequency=PushFrequency.ALL, quiet_start=None, quiet_end=None,
                topics=dict.fromkeys(chosen, True), offered_topic_ids=self.topic_tags,
            )
        return sorted(chosen)

    def _learn(self) -> None:
        """The analytics worker: fold every new event into the profiles (incremental)."""
        ids = list(EngagementEvent.objects.filter(pk__gt=self.last_event_id).order_by("pk").values_list("pk", flat=True))
        if ids:
            for start in range(0, len(ids), 500):
                engagement_events_apply(event_ids=ids[start : start + 500])
            self.last_event_id = ids[-1]

    # campaigns ---------------------------------------------------------------------------------
    def _campaign(self, arm: Arm, *, topic: int, number: int, segment_id: int, at: datetime, sto: bool, label: str = "") -> None:
        p = self.params
        data = {
            "name": f"sim {arm.name} #{number} topic {topic}{label}",
            "account": arm.account,
            "message_type": p.channel,
            "priority_class": "marketing",
            "content": {
                "template_id": SUBSCRIBE_TEMPLATE,
                "template_keys": ["thing1"],
                "fields": {"thing1": f"News about topic {topic}"},
                "page": f"pages/topic?id={topic}",
            },
            "segment_id": segment_id,
            "topics": [self.topic_tags[topic]],
            "send_time_optimization": sto,
        }
        if arm.name == "steered" and p.steering in ("predicted", "value") and p.top_percent:
            data["top_percent"] = p.top_percent
        if arm.name == "steered" and p.steering == "value":
            data["steer_by_expected_value"] = True
        campaign = campaign_services.campaign_create(data=data)
        campaign_services.campaign_schedule(campaign=campaign, at=at)
        arm.campaign_ids.append(campaign.pk)
        arm.open_ids.add(campaign.pk)
        arm.topic_of[campaign.pk] = topic
        arm.number_of[campaign.pk] = number

    def _launch(self, topic: int, day_start: datetime, number: int) -> None:
        self.campaign_days[number] = (topic, day_start)
        for arm in self.arms:
            if arm.name == "blast":
                self._campaign(arm, topic=topic, number=number, segment_id=arm.segments[topic], at=day_start + timedelta(hours=self.blast_hour), sto=False)
                # The blast arm pushes everyone: its outcomes check the click estimates made before each push.
                following = [cid for i, cid in enumerate(arm.customer_ids) if arm.following[i]]
                estimates = click_estimates(customer_ids=following, topic_ids=[self.topic_tags[topic]], now=self.clock.now())
                read = read_chances(customer_ids=following, send_hour=self.blast_hour)
                self.predictions[arm.campaign_ids[-1]] = {cid: mean * read[cid] for cid, (mean, _, _) in estimates.items()}
            elif arm.name != "steered":  # steered's campaigns were scheduled with their week (_plan_week)
                self._launch_oracle(arm, topic=topic, day_start=day_start, number=number)

    def _plan_week(self, week_start: datetime, number: int, weekdays: list[int]) -> None:
        """The steered arm's campaigns of the coming week, created and scheduled at its start, as a brand's
        content calendar: planning each one then knows the others competing for a customer's weekly
        budget and keeps it for the one worth most to them (campaigns.budget, budget_reserved)."""
        for arm in self.arms:
            if arm.name != "steered":
                continue
            days = [week_start + timedelta(days=offset) for offset in range(7)]
            for n, day in enumerate((d for d in days if d.weekday() in weekdays), start=number):
                topic = n % self.params.topics
                self._campaign(arm, topic=topic, number=n, segment_id=arm.segments[topic], at=day + timedelta(hours=LAUNCH_HOUR), sto=True)

    def _launch_oracle(self, arm: Arm, *, topic: int, day_start: datetime, number: int) -> None:
        """Those who would click this topic now, each group at its reading hour (same policy as the others:
        a reading hour inside the quiet hours is reached shortly before they begin, as planning does)."""
        by_time: dict[time, list[int]] = defaultdict(list)
        policy = global_policy()
        margin = quiet_edge_margin(audience=len(self.people), rate_per_second=arm.account.rate_limit_per_second)
        for person in self.people:
            traits = self.audience.traits(person.index, day_start + timedelta(hours=12))
            if traits.clicks and topic in traits.interests and arm.following[person.index]:
                hour = reachable_hour(traits.best_hour, quiet_start=policy.quiet_start, quiet_end=policy.quiet_end)
                moment = time(hour) if hour == traits.best_hour else quiet_edge(quiet_start=policy.quiet_start, margin=margin)
                by_time[moment].append(arm.customer_ids[person.index])
        for moment, customer_ids in sorted(by_time.items()):
            offset = timedelta(hours=moment.hour, minutes=moment.minute)
            at = day_start + (offset if moment.hour >= LAUNCH_HOUR else offset + timedelta(days=1))
            label = f" h{moment.hour}" + (f":{moment.minute:02d}" if moment.minute else "")
            segment = segment_create(name=f"sim oracle #{number}{label} {self.topic_tags[topic]}", kind="static")
            segment_static_add(segment=segment, customers=customer_ids)
            self._campaign(arm, topic=topic, number=number, segment_id=segment.pk, at=at, sto=False, label=label)

    # actions -----------------------------------------------------------------------------------
    def _arm(self, name: str) -> Arm:
        return next(a for a in self.arms if a.name == name)

    def _react(self, kind: str, data: dict) -> None:
        arm = self._arm(data["arm"])
        person = data["person"]
        if not arm.following[person]:
            return
        now = self.clock.now()
        push: Push = data["push"]
        clicked = False
        if kind == "read":
            arm.tally.reads += 1
            clicked = self.audience.click(person, push, now, arm.rng)
            if clicked:
                self._click(arm, person, data)
        arm.outcomes[(arm.number_of[data["campaign"]], person)] = (kind == "read", clicked)
        history = arm.history[person]
        while history and history[0].push.sent_at < now - timedelta(days=HISTORY_DAYS):
            history.popleft()
        outcome = self.audience.disturbance(person, push, clicked, tuple(history), now, arm.rng)
        history.append(PushOutcome(push=push, read_at=now if kind == "read" else None, clicked=clicked))
        if outcome:
            arm_disturb(arm, person, outcome, now=now)

    def _click(self, arm: Arm, person: int, data: dict) -> None:
        topic = arm.topic_of[data["campaign"]]
        short = tracked_url(
            delivery_id=data["delivery"], campaign_id=data["campaign"], customer_id=arm.customer_ids[person], url=f"https://shop.example.com/topic/{topic}"
        )
        token = short.rsplit("/", 1)[1]
        response = tracked_redirect(self.factory.get(f"/r/{token}", HTTP_USER_AGENT=WECHAT_UA), token)
        if response.status_code == 302:
            arm.tally.clicks += 1

    # main loop ---------------------------------------------------------------------------------
    def run(self, *, keep: bool = False) -> SimResult:
        p = self.params
        with ExitStack() as stack:
            # Installed (and committed) before the run's transaction: CREATE FUNCTION locks the
            # function until commit, and several simulations may run side by side on one database.
            previous_path = install_db_clock()
            stack.callback(restore_search_path, previous_path)
            stack.enter_context(_outer_transaction(keep=keep))
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
            for hour in range(total_days * 24 + 48):
                tick = start_local + timedelta(hours=hour)
                day = hour // 24
                # Reactions of the past hour, in time order.
                while self.heap and self.heap[0][0] < tick:
                    at, _, kind, data = heapq.heappop(self.heap)
                    self.clock.set(at)
                    self._react(kind, data)
                if day < total_days:
                    self._organic_hour(tick - timedelta(hours=1))
                self.clock.set(tick)
                self._learn()
                campaign_day = day - p.warmup_days
                if 0 <= campaign_day < 7 * p.weeks and campaign_day % 7 == 0 and tick.hour == 0:
                    self._plan_week(tick, number, weekdays)
                if 0 <= campaign_day < 7 * p.weeks and tick.weekday() in weekdays and tick.hour == 0:
                    self._launch(number % p.topics, tick, number)
                    number += 1
                self._dispatch()
                self._dispatch_until(tick + timedelta(hours=1))
                if hour % (24 * 7) == 0:
                    self.log(f"  day {day}: " + ", ".join(f"{a.name} {a.tally.pushes} pushes {a.tally.clicks} clicks {a.tally.unfollows} unfollows" for a in self.arms))
            for arm in self.arms:
                arm.tally.suppressed = arm_suppressions(arm)
            calibration = self._calibration()
            diagnosis = diagnose(self)
        return SimResult(
            audience=self.audience.name, seed=p.seed, blast_hour=self.blast_hour, arms={a.name: a.tally for a in self.arms},
            calibration=calibration, diagnosis=diagnosis,
        )

    def _calibration(self) -> Calibration | None:
        """Predicted click (made before each push) against the click, on the last week's blast pushes (held out)."""
        last_week = self.params.start + timedelta(days=self.params.warmup_days + 7 * (self.params.weeks - 1))
        rows = Delivery.objects.filter(campaign_id__in=list(self.predictions), sent_at__gte=last_week).values_list("campaign_id", "customer_id", "clicked_at")
        pairs = [(self.predictions[c].get(cust, 0.0), clicked is not None) for c, cust, clicked in rows]
        return Calibration.of(pairs) if pairs else None


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


def simulate(params: SimParams, audience: Audience, *, sandbox_url: str | None = None, keep: bool = False, stdout=None) -> SimResult:
    """Run the simulation against a sandbox (started here unless `sandbox_url` is given)."""
    if sandbox_url:
        sandbox_started(sandbox_url)  # the sandbox the simulator was told to use
        return Simulation(params, audience, sandbox_url=sandbox_url, stdout=stdout).run(keep=keep)
    server = SandboxServer(host="127.0.0.1", port=0).start()
    try:
        return Simulation(params, audience, sandbox_url=server.base_url, stdout=stdout).run(keep=keep)
    finally:
        server.stop()
