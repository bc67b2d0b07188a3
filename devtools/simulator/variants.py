"""A variant test through the real product, against an even split of the same variants.

The same audience (an `Audience`, with per-variant appeal, e.g. TraitAudience's ``variant_appeal``)
is mirrored onto two service accounts on the sandbox:

- *auto*: one mass campaign with the variants in test-cells mode (each variant `cell_percent` % of
  the audience first; after `wait_hours` the product decides and sends the winner — or the stated
  fallback, A — to the rest);
- *even*: the same campaign and variants split evenly over the whole audience.

Both go through campaign creation, planning (stable-hash assignment), dispatch to the sandbox's
`message/mass/send` (one openid list per variant), the tracked-link view for every click (so
`Delivery.clicked_at` is what the decision counts), and the dispatch pump's decision. Only the
people are simulated: each person's read and click are drawn from a random stream of (seed,
person, variant), so a person who gets the same variant in both arms does the same thing in both
(common random numbers: the arms differ only by who got which variant).

Fast-forwarded clock and one rolled-back transaction, as `simulate_audience` (devtools.simulator).
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from unittest import mock
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.test import RequestFactory

import campaigns.services as campaign_services
from accounts.models import ChannelAccount
from campaigns import dispatch
from campaigns.models import Campaign, CampaignState, Delivery, DeliveryState
from campaigns.tracking.services import tracked_url
from campaigns.tracking.views import tracked_redirect
from campaigns.variants.models import VariantTest
from customers.segments.services import segment_create
from devtools.simulator.arms import followers_create
from devtools.simulator.audience import SIM_TZ, Audience, Push
from devtools.simulator.clock import SimClock, install_db_clock, restore_search_path
from devtools.simulator.simulation import WECHAT_UA, _outer_transaction
from messaging.channels.hosts import sandbox_started
from messaging.sandbox.control import SandboxControl
from messaging.sandbox.server import SandboxServer

SEND_HOUR = 10  # local: inside the default send hours
TOPIC = 0
DEFAULT_TEXTS = ("春季新品 8 折 今天开抢", "你的春季衣橱 少了这一件？", "限量 200 件 第二件半价", "新品到店 会员先看")


@dataclass
class VariantParams:
    customers: int = 2000
    variants: int = 2
    cell_percent: int = 25
    wait_hours: int = 24
    min_sample: int = 100
    threshold: float = 0.95
    seed: int = 7
    topics: int = 6
    start: datetime = field(default_factory=lambda: datetime(2030, 3, 4, 0, 0, tzinfo=ZoneInfo(SIM_TZ)))


@dataclass
class ArmResult:
    name: str
    mode: str
    sent: int = 0
    reads: int = 0
    clicks: int = 0
    by_variant: dict[int, list[int]] = field(default_factory=dict)  # variant → [sent, clicks]
    reads_by_variant: Counter = field(default_factory=Counter)
    cell_reads_by_variant: Counter = field(default_factory=Counter)
    decision: str = ""
    winner: int | None = None

    @property
    def clicks_per_sent(self) -> float:
        return self.clicks / self.sent if self.sent else 0.0


@dataclass
class VariantRunResult:
    audience: str
    seed: int
    appeal: list[float]
    arms: dict[str, ArmResult]

    def table(self) -> str:
        labels = "ABCDEFGH"
        head = f"{'arm':<6} {'mode':<28} {'sent':>6} {'reads':>6} {'clicks':>6} {'clicks/sent':>11}  per variant (sent / clicks)   decision"
        lines = [head, "-" * len(head)]
        for arm in self.arms.values():
            per = ", ".join(f"{labels[v]} {n}/{c}" for v, (n, c) in sorted(arm.by_variant.items()))
            lines.append(f"{arm.name:<6} {arm.mode:<28} {arm.sent:>6} {arm.reads:>6} {arm.clicks:>6} {arm.clicks_per_sent:>11.4f}  {per:<28} {arm.decision}")
        auto, even = self.arms.get("auto"), self.arms.get("even")
        if auto and even and even.clicks:
            lines.append(f"auto − even: {auto.clicks - even.clicks:+d} clicks ({(auto.clicks - even.clicks) / even.clicks:+.1%})")
        return "\n".join(lines)


class VariantRun:
    def __init__(self, params: VariantParams, audience: Audience, *, texts: list[str], sandbox_url: str, stdout=None):
        if not 2 <= len(texts) <= 8:
            raise ValueError("2 to 8 variants")
        self.p = params
        self.audience = audience
        self.texts = texts
        self.people = list(audience.people())
        self.sandbox_url = sandbox_url
        self.stdout = stdout
        self.clock = SimClock(params.start)
        self.factory = RequestFactory()
        self.heap: list[tuple[datetime, int, dict]] = []
        self.seq = count()

    def log(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message)

    def _arm_setup(self, name: str, suffix: str) -> dict:
        control = SandboxControl(self.sandbox_url)
        account = ChannelAccount.objects.create(
            kind="oa", name=f"sim variants {name} {suffix}", app_id=f"wxsimv{name[:2]}{suffix.replace('-', '')}"[:32],
            app_secret=f"simsecret{suffix}", token="simtoken", encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            api_base_url=self.sandbox_url, timezone=SIM_TZ, rate_limit_per_second=100_000, daily_quota=10_000_000,
        )
        control.register_app(kind="oa", app_id=account.app_id, secret=account.app_secret, auto_report=False)
        openids = control.add_followers(account.app_id, len(self.people))
        customer_ids, _ = followers_create(self.people, account_id=account.pk, openids=openids, name=name)
        segment = segment_create(name=f"sim variants {name} {suffix}", rule={"all": [{"type": "channel", "op": "follows", "account": account.pk}]})
        test = {"mode": "split"} if name == "even" else {
            "mode": "cells", "cell_percent": self.p.cell_percent, "wait_minutes": self.p.wait_hours * 60,
            "min_sample": self.p.min_sample, "threshold": self.p.threshold}
        link = " https://shop.example.com/spring"
        campaign = campaign_services.campaign_create(data={
            "name": f"sim variants {name} {suffix}", "account": account, "message_type": "mass", "priority_class": "marketing",
            "content": {"msgtype": "text", "text": self.texts[0] + link, "variants": [{"text": t + link} for t in self.texts], "variant_test": test},
            "segment_id": segment.pk,
        })
        at = self.p.start.astimezone(ZoneInfo(SIM_TZ)).replace(hour=SEND_HOUR)
        campaign_services.campaign_schedule(campaign=campaign, at=at)
        mode = "split evenly" if name == "even" else f"cells {self.p.cell_percent}% each, winner to rest"
        return {"name": name, "account": account, "campaign": campaign, "customer_ids": customer_ids,
                "by_customer": {c: i for i, c in enumerate(customer_ids)},
                "seen": set(), "result": ArmResult(name=name, mode=mode)}

    def _dispatch(self, arm: dict) -> None:
        now = self.clock.now()
        campaign = Campaign.objects.get(pk=arm["campaign"].pk)
        if campaign.state == CampaignState.SCHEDULED and campaign.scheduled_at <= now:
            campaign_services.campaign_plan(campaign_id=campaign.pk)
        if Campaign.objects.filter(pk=campaign.pk, state=CampaignState.SENDING).exists():
            # The pump also decides a test whose wait is over (and releases the rest).
            for _ in range(50):
                if dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=120).requeue_in != 0:
                    break
        fresh = Delivery.objects.filter(campaign_id=campaign.pk, state__in=[DeliveryState.SENT, DeliveryState.DELIVERED])
        for delivery_id, customer_id, variant, sent_at in fresh.values_list("pk", "customer_id", "variant", "sent_at"):
            if delivery_id in arm["seen"]:
                continue
            arm["seen"].add(delivery_id)
            person = arm["by_customer"][customer_id]
            push = Push(channel="mass", topics=frozenset({TOPIC}), sent_at=sent_at, arm=arm["name"], variant=variant)
            # Common random numbers: the same person and variant draw the same in both arms.
            rng = random.Random(f"{self.p.seed}:{person}:{variant}")
            read_at = self.audience.read(person, push, rng)
            if read_at is not None:
                heapq.heappush(self.heap, (max(read_at, sent_at), next(self.seq), {"arm": arm, "person": person, "delivery": delivery_id,
                                                                                  "push": push, "rng": rng}))

    def _read(self, data: dict) -> None:
        arm, result = data["arm"], data["arm"]["result"]
        result.reads += 1
        result.reads_by_variant[data["push"].variant] += 1
        if not self.audience.click(data["person"], data["push"], self.clock.now(), data["rng"]):
            return
        campaign = arm["campaign"]
        short = tracked_url(delivery_id=data["delivery"], campaign_id=campaign.pk, customer_id=arm["customer_ids"][data["person"]],
                            url="https://shop.example.com/spring")
        token = short.rsplit("/", 1)[1]
        tracked_redirect(self.factory.get(f"/r/{token}", HTTP_USER_AGENT=WECHAT_UA), token)

    def run(self) -> VariantRunResult:
        with ExitStack() as stack:
            previous_path = install_db_clock()
            stack.callback(restore_search_path, previous_path)
            stack.enter_context(_outer_transaction(keep=False))
            stack.enter_context(mock.patch("django.utils.timezone.now", self.clock.now))
            stack.enter_context(mock.patch.object(campaign_services, "_enqueue", lambda *a, **k: None))
            self.clock.set(self.p.start)
            suffix = f"{self.p.seed}-{random.Random().randrange(10**9)}"
            arms = [self._arm_setup(name, suffix) for name in ("auto", "even")]
            start_local = self.p.start.astimezone(ZoneInfo(SIM_TZ))
            hours = SEND_HOUR + self.p.wait_hours + 48
            for hour in range(hours + 1):
                tick = start_local + timedelta(hours=hour)
                while self.heap and self.heap[0][0] < tick:
                    at, _, data = heapq.heappop(self.heap)
                    self.clock.set(at)
                    self._read(data)
                self.clock.set(tick)
                for arm in arms:
                    self._dispatch(arm)
            for arm in arms:
                self._tally(arm)
        return VariantRunResult(audience=self.audience.name, seed=self.p.seed, appeal=list(getattr(self.audience, "variant_appeal", [])),
                                arms={a["name"]: a["result"] for a in arms})

    def _tally(self, arm: dict) -> None:
        result: ArmResult = arm["result"]
        rows = (Delivery.objects.filter(campaign_id=arm["campaign"].pk, state__in=[DeliveryState.SENT, DeliveryState.DELIVERED])
                .values("variant").annotate(n=Count("pk"), c=Count("pk", filter=Q(clicked_at__isnull=False))))
        counts: Counter = Counter()
        for row in rows:
            result.by_variant[row["variant"]] = [row["n"], row["c"]]
            counts["sent"] += row["n"]
            counts["clicks"] += row["c"]
        result.sent, result.clicks = counts["sent"], counts["clicks"]
        test = VariantTest.objects.get(campaign_id=arm["campaign"].pk)
        labels = "ABCDEFGH"
        if test.mode == "cells":
            if test.state == "decided":
                best = max(test.detail.get("variants", []), key=lambda v: v["p_best"], default={"p_best": 0})
                result.winner = test.winner
                result.decision = f"{labels[test.winner]} to the rest ({test.reason}, P(best) {best['p_best']:.3f})"
            else:
                result.decision = "not decided"
        else:
            result.decision = "—"


def simulate_variants(params: VariantParams, audience: Audience, *, texts: list[str] | None = None, sandbox_url: str | None = None,
                      stdout=None) -> VariantRunResult:
    texts = list(texts or DEFAULT_TEXTS[: params.variants])
    if sandbox_url:
        sandbox_started(sandbox_url)
        return VariantRun(params, audience, texts=texts, sandbox_url=sandbox_url, stdout=stdout).run()
    server = SandboxServer(host="127.0.0.1", port=0).start()
    try:
        return VariantRun(params, audience, texts=texts, sandbox_url=server.base_url, stdout=stdout).run()
    finally:
        server.stop()
