"""The simulation loop: two arms of the same people run hour by hour through the real product."""

from __future__ import annotations

import heapq
import random
from collections import deque
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from django.db import transaction
from django.test import RequestFactory

import campaigns.services as campaign_services
from accounts.models import ChannelAccount
from campaigns import dispatch
from campaigns.models import Campaign, CampaignState, Delivery
from campaigns.tracking.services import tracked_url
from campaigns.tracking.views import tracked_redirect
from customers.engagement.services import engagement_events_apply
from customers.models import ChannelIdentity, EngagementEvent
from customers.segments.services import segment_create
from customers.services import event_record, events_record_bulk, identity_set_follow_state
from customers.services.bulk import CustomerUpsert, IdentityUpsert, customers_upsert_bulk
from customers.services.tags import tag_ensure
from devtools.simulator.clock import SimClock, install_db_clock, restore_search_path
from devtools.simulator.params import SIM_TZ, ArmResult, Person, SimParams, SimResult
from devtools.simulator.people import build_audience, click_probability, next_session, notice_probability
from messaging.channels.hosts import sandbox_started
from messaging.sandbox.control import SandboxControl
from messaging.sandbox.server import SandboxServer

WECHAT_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42"


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
    topic_of: dict[int, int] = field(default_factory=dict)  # campaign id → topic index


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
        control = SandboxControl(self.sandbox_url)
        suffix = f"{self.params.seed}-{self.rng.randrange(10**9)}"
        self.topic_tags = [tag_ensure(group_name=f"sim topics {suffix}", name=f"topic-{k}").pk for k in range(self.params.topics)]
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
            customer_ids, identity_ids = _followers_create(account_id=account.pk, openids=openids, name=name)
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
                customer_ids=customer_ids,
                identity_ids=identity_ids,
                segments=segments,
                following=[True] * self.params.customers,
                unwanted=[deque() for _ in range(self.params.customers)],
                result=ArmResult(name=name),
            )
            arm.by_customer = {cid: i for i, cid in enumerate(arm.customer_ids)}
            self.arms.append(arm)
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

        ids = list(EngagementEvent.objects.filter(pk__gt=self.last_event_id).order_by("pk").values_list("pk", flat=True))
        if ids:
            for start in range(0, len(ids), 500):
                engagement_events_apply(event_ids=ids[start : start + 500])
            self.last_event_id = ids[-1]

    # campaigns ---------------------------------------------------------------------------------
    def _launch(self, topic: int, at: datetime, number: int) -> None:

        for arm in self.arms:
            campaign = campaign_services.campaign_create(
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
            campaign_services.campaign_schedule(campaign=campaign, at=at)
            campaign_services.campaign_plan(campaign_id=campaign.pk)
            arm.campaign_ids.append(campaign.pk)
            arm.topic_of[campaign.pk] = topic

    def _dispatch(self) -> None:

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

        url = Campaign.objects.values_list("content", flat=True).get(pk=data["campaign"])["url"]
        short = tracked_url(delivery_id=data["delivery"], campaign_id=data["campaign"], customer_id=arm.customer_ids[person.index], url=url)
        token = short.rsplit("/", 1)[1]
        request = self.factory.get(f"/r/{token}", HTTP_USER_AGENT=WECHAT_UA)
        response = tracked_redirect(request, token)
        if response.status_code == 302:
            arm.result.clicks += 1

    def _unfollow(self, arm: Arm, person: Person) -> None:

        now = self.clock.now()
        arm.following[person.index] = False
        arm.result.unfollows += 1
        identity = ChannelIdentity.objects.get(pk=arm.identity_ids[person.index])
        identity_set_follow_state(identity=identity, following=False, at=now)
        event_record(customer_id=arm.customer_ids[person.index], event_type="wechat.unsubscribe", occurred_at=now, account_id=arm.account.pk)

    # main loop ---------------------------------------------------------------------------------
    def run(self, *, keep: bool = False) -> SimResult:

        p = self.params
        with ExitStack() as stack:
            stack.enter_context(_outer_transaction(keep=keep))
            previous_path = install_db_clock()
            stack.callback(restore_search_path, previous_path)
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


def _followers_create(*, account_id: int, openids: list[str], name: str) -> tuple[list[int], list[int]]:
    """One customer per follower, through customers' bulk upsert: customer ids and identity ids in order."""
    rows = [
        CustomerUpsert(
            values={"display_name": f"sim {name} {i}", "timezone": SIM_TZ},
            identities=[IdentityUpsert(account_id=account_id, kind="oa_openid", external_id=openid, follow_state="following")],
        )
        for i, openid in enumerate(openids)
    ]
    customer_ids = customers_upsert_bulk(rows, link_unionids=False).customer_ids
    by_openid = dict(ChannelIdentity.objects.filter(account_id=account_id).values_list("external_id", "pk"))
    return customer_ids, [by_openid[openid] for openid in openids]


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
        sandbox_started(sandbox_url)  # the sandbox the simulator was told to use
        return Simulation(params, sandbox_url=sandbox_url, stdout=stdout).run(keep=keep)
    server = SandboxServer(host="127.0.0.1", port=0).start()
    try:
        return Simulation(params, sandbox_url=server.base_url, stdout=stdout).run(keep=keep)
    finally:
        server.stop()
