"""The learning rules, as pure functions over events: shared by the incremental update and the
full recompute, so the two cannot drift apart.

Decay. Every learned weight halves every ``HALF_LIFE_DAYS`` — interest evidence (topic affinity,
topic pushes and clicks) every ``INTEREST_HALF_LIFE_DAYS``, the same algebra with its own rate. A profile stores its decayed values
*as of a reference time* ``ref`` (``EngagementProfile.score_updated_at``, the time of the newest event
applied). An event at ``t`` adds ``w * 2**(-(ref - t) / H)``; an event newer than ``ref`` first moves
``ref`` to ``t`` by multiplying every stored value by ``2**(-(t - ref) / H)``. Because
``2**a * 2**b == 2**(a + b)``, applying events in any order and in any batches gives the same values
(up to float rounding) as folding the whole history in time order: that is what lets an
incremental update equal a full recompute. The value "now" is ``stored * 2**(-(now - ref) / H)``
(see ``customers.engagement.selectors``).

Score: sum of decayed ``SCORE_WEIGHTS`` of the customer's own actions.

Hour-of-week profile: 168 decayed counts of the customer's own actions (a response to a push —
``RESPONSE_TYPES`` — counts ``RESPONSE_HOUR_WEIGHT``: it is when they read pushes), bucket
``weekday * 24 + hour`` in the customer's local time (customer.timezone, else the event's account's
time zone, else settings.DEFAULT_CUSTOMER_TIMEZONE). ``best_hour`` (0–23), once the whole profile
weighs at least ``BEST_HOUR_MIN_WEIGHT`` (one recent action): summed over the seven days, the
7-hour window (``BEST_HOUR_WINDOW`` either side, wrapping midnight) holding the most weight — ties to
the earlier centre — and the hour in which that window's centre of mass falls. Activity all in one
hour gives that hour (as the busiest hour did); activity scattered around a habit (visits at 17, 19
and 22 for a 20:00 reader) gives its middle, where the busiest single hour picked one of the
scattered visits; a second habit half a day away does not pull the centre. ``None`` before that,
and campaigns then fall back to the audience's covering hour.

Ignored-push streak: let R be the time of the customer's latest response (``RESPONSE_TYPES``: a
tracked-link click or an inbox read; stored as ``last_click_at``) and n the number of ``push.sent``
events strictly after R. Then ``ignored_push_streak = max(0, n - 1)``: the newest push is not
"ignored" yet (it may still be read), each push before it without a response in between is. So a
push increments the streak exactly when the previous push got no click/read, and any click/read
resets it to 0. It is recounted from the events after R (a short, indexed range), which makes it
exact even when a late click arrives after newer pushes.

Topic affinity: events whose ``properties["topics"]`` lists topic tag ids (a tracked click knows its
campaign's topics; mini-program page views and menu views may carry them) add their decayed
``AFFINITY_WEIGHTS`` to each topic. A topic whose affinity (as of ``ref``) reaches
``BEHAVIOUR_TAG_THRESHOLD`` becomes a behavioural interest tag (CustomerTag source "behaviour");
below it, a behaviour-sourced tag is removed (tags assigned by operators are never touched).

Topic pushes and clicks: each ``push.sent`` whose ``properties["topics"]`` lists topic tag ids adds
its decay factor to ``topic_pushes`` of each topic, each ``link.click`` (``CLICK_TYPE``) with topics
to ``topic_clicks``: with the same decay, their ratio is the customer's recent click rate per topic,
and pushes without a click are the negative evidence (see ``customers.engagement.prediction``).
Such a push also adds its decay factor to ``push_hours`` at its local hour (24 counts): the
prediction weighs each push by how likely it was read, sent that long before the customer's hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

HALF_LIFE_DAYS = 30.0
_HALF_LIFE_SECONDS = HALF_LIFE_DAYS * 86400.0
# Interest evidence (topic affinity, pushes and clicks per topic) fades faster than habits (score,
# hours): what someone browses moves on with seasons, purchases made and life, their hours on WeChat
# hardly. A month-old visit to a topic's pages weighs a quarter of today's.
INTEREST_HALF_LIFE_DAYS = 14.0
_INTEREST_HALF_LIFE_SECONDS = INTEREST_HALF_LIFE_DAYS * 86400.0
BEST_HOUR_MIN_WEIGHT = 0.5
# Hours either side of a centre: the best hour is where the activity of the busiest 7-hour window centres.
BEST_HOUR_WINDOW = 3
BEHAVIOUR_TAG_THRESHOLD = 1.0
# A push waits in the chat list: read at the reader's next visit, less likely the longer it waited
# (halving every this many hours; the covering hour, the expected value and the simulator's blast arm
# use the same rule).
READ_HALF_LIFE_HOURS = 3.0
# Values below this are dropped from the stored JSON (they no longer matter, and keep rows small).
PRUNE_BELOW = 1e-6

SCORE_WEIGHTS: dict[str, float] = {
    "link.click": 3.0,
    "inbox.read": 2.0,
    "conversion": 5.0,
    "mp.purchase": 5.0,
    "wechat.message": 2.0,
    "wechat.click": 1.0,
    "wechat.view": 1.0,
    "wechat.scan": 1.0,
    "wechat.subscribe": 1.0,
    "wecom.add_contact": 1.0,
}
# Any other mini-program event (mp.page_view, mp.share …) weighs this much.
MP_DEFAULT_WEIGHT = 1.0
AFFINITY_WEIGHTS: dict[str, float] = {
    "link.click": 1.0,
    "conversion": 2.0,
    "mp.purchase": 2.0,
    "mp.page_view": 0.5,
    "wechat.view": 0.5,
    # A menu item routed to "record interest in topics" (menus.routing) puts them on the click.
    "wechat.click": 1.0,
    "wechat.view_miniprogram": 0.5,
    "inbox.read": 0.5,
}
RESPONSE_TYPES = ("link.click", "inbox.read")
# A response to a push is when they read pushes, to the minute; a visit or a scan is when they browse.
RESPONSE_HOUR_WEIGHT = 3.0
PUSH_TYPE = "push.sent"
CLICK_TYPE = "link.click"


def score_weight(event_type: str) -> float:
    """How much one event of this type says the customer engages (0 for things done to them)."""
    if event_type in SCORE_WEIGHTS:
        return SCORE_WEIGHTS[event_type]
    if event_type.startswith("mp."):
        return MP_DEFAULT_WEIGHT
    return 0.0


def decay_factor(seconds: float) -> float:
    """Weight left after `seconds` of decay."""
    return math.pow(2.0, -seconds / _HALF_LIFE_SECONDS)


def interest_decay_factor(seconds: float) -> float:
    """Weight of interest evidence (topic affinity, pushes, clicks) left after `seconds`."""
    return math.pow(2.0, -seconds / _INTEREST_HALF_LIFE_SECONDS)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def hour_of_week_bucket(at: datetime, tz_name: str) -> int:
    """weekday * 24 + hour of `at` in the zone `tz_name` (Monday 00:00 = 0)."""
    local = at.astimezone(_zone(tz_name))
    return local.weekday() * 24 + local.hour


def event_topics(properties: dict[str, Any] | None) -> list[int]:
    raw = (properties or {}).get("topics") or []
    topics: list[int] = []
    for value in raw if isinstance(raw, list) else []:
        try:
            topics.append(int(value))
        except (TypeError, ValueError):
            continue
    return topics


@dataclass
class LearnedEvent:
    """What learning needs of one event."""

    event_type: str
    occurred_at: datetime
    tz_name: str
    topics: list[int] = field(default_factory=list)


@dataclass
class DecayedState:
    """Score, hour-of-week and topic affinity of one customer, as of `ref`."""

    ref: datetime | None = None
    score: float = 0.0
    hours: list[float] = field(default_factory=lambda: [0.0] * 168)
    affinity: dict[str, float] = field(default_factory=dict)
    last_push_at: datetime | None = None
    last_response_at: datetime | None = None
    pushes: dict[str, float] = field(default_factory=dict)
    clicks: dict[str, float] = field(default_factory=dict)
    push_hours: list[float] = field(default_factory=lambda: [0.0] * 24)

    @classmethod
    def from_stored(
        cls,
        *,
        ref: datetime | None,
        score: float,
        hours: list[float] | None,
        affinity: dict[str, float] | None,
        last_push_at: datetime | None,
        last_response_at: datetime | None,
        pushes: dict[str, float] | None = None,
        clicks: dict[str, float] | None = None,
        push_hours: list[float] | None = None,
    ) -> DecayedState:
        return cls(
            ref=ref,
            score=score or 0.0,
            hours=_fixed_length(hours, 168),
            affinity={str(k): float(v) for k, v in (affinity or {}).items()},
            last_push_at=last_push_at,
            last_response_at=last_response_at,
            pushes={str(k): float(v) for k, v in (pushes or {}).items()},
            clicks={str(k): float(v) for k, v in (clicks or {}).items()},
            push_hours=_fixed_length(push_hours, 24),
        )

    def apply(self, event: LearnedEvent) -> None:
        """Fold one event in (order-independent up to float rounding, see module docstring)."""
        at = event.occurred_at
        if event.event_type == PUSH_TYPE and (self.last_push_at is None or at > self.last_push_at):
            self.last_push_at = at
        if event.event_type in RESPONSE_TYPES and (self.last_response_at is None or at > self.last_response_at):
            self.last_response_at = at
        weight = score_weight(event.event_type)
        affinity_weight = AFFINITY_WEIGHTS.get(event.event_type, 0.0)
        counted = event.event_type in (PUSH_TYPE, CLICK_TYPE)
        topics = event_topics({"topics": event.topics}) if affinity_weight or counted else []
        if weight <= 0 and not topics:
            return
        if self.ref is None:
            self.ref = at
        elif at > self.ref:
            self._advance(at)
        factor = decay_factor((self.ref - at).total_seconds())
        interest = interest_decay_factor((self.ref - at).total_seconds())
        bucket = hour_of_week_bucket(at, event.tz_name)
        if weight > 0:
            self.score += weight * factor
            self.hours[bucket] += (RESPONSE_HOUR_WEIGHT if event.event_type in RESPONSE_TYPES else 1.0) * factor
        if event.event_type == PUSH_TYPE:
            self.push_hours[bucket % 24] += interest
        tally = self.pushes if event.event_type == PUSH_TYPE else self.clicks if event.event_type == CLICK_TYPE else None
        for topic in topics:
            key = str(topic)
            if affinity_weight:
                self.affinity[key] = self.affinity.get(key, 0.0) + affinity_weight * interest
            if tally is not None:
                tally[key] = tally.get(key, 0.0) + interest

    def _advance(self, to: datetime) -> None:
        factor = decay_factor((to - self.ref).total_seconds())
        interest = interest_decay_factor((to - self.ref).total_seconds())
        self.score *= factor
        self.hours = [h * factor for h in self.hours]
        self.affinity = {k: v * interest for k, v in self.affinity.items()}
        self.pushes = {k: v * interest for k, v in self.pushes.items()}
        self.clicks = {k: v * interest for k, v in self.clicks.items()}
        self.push_hours = [h * interest for h in self.push_hours]
        self.ref = to

    def pruned(self) -> DecayedState:
        self.hours = [h if h >= PRUNE_BELOW else 0.0 for h in self.hours]
        self.affinity = _pruned(self.affinity)
        self.pushes = _pruned(self.pushes)
        self.clicks = _pruned(self.clicks)
        self.push_hours = [h if h >= PRUNE_BELOW else 0.0 for h in self.push_hours]
        return self

    def best_hour(self) -> int | None:
        """The hour in which the centre of the customer's activity falls, once there is enough of it:
        the centre of mass of the busiest BEST_HOUR_WINDOW (see the module docstring)."""
        if sum(self.hours) < BEST_HOUR_MIN_WEIGHT:
            return None
        by_hour = [round(sum(self.hours[d * 24 + h] for d in range(7)), 9) for h in range(24)]
        offsets = range(-BEST_HOUR_WINDOW, BEST_HOUR_WINDOW + 1)

        def weight(centre: int) -> float:
            return round(sum(by_hour[(centre + d) % 24] for d in offsets), 9)

        centre = max(range(24), key=lambda c: (weight(c), -c))
        shift = sum(d * by_hour[(centre + d) % 24] for d in offsets) / weight(centre)
        return math.floor(centre + shift + 1e-9) % 24

    def behaviour_topics(self) -> set[int]:
        return {int(k) for k, v in self.affinity.items() if v >= BEHAVIOUR_TAG_THRESHOLD}


def _fixed_length(values: list[float] | None, length: int) -> list[float]:
    """Stored counts as a list of exactly `length` floats (missing ones 0)."""
    stored = [float(v) for v in (values or [])][:length]
    return stored + [0.0] * (length - len(stored))


def _pruned(values: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in sorted(values.items(), key=lambda kv: int(kv[0])) if v >= PRUNE_BELOW}


def ignored_streak(pushes_after_last_response: int) -> int:
    """The streak from the number of pushes after the latest response (see module docstring)."""
    return max(0, pushes_after_last_response - 1)


def full_compute(events: list[LearnedEvent]) -> tuple[DecayedState, int]:
    """Fold a customer's whole history in time order: the oracle the incremental update must equal."""
    state = DecayedState()
    for event in sorted(events, key=lambda e: e.occurred_at):
        state.apply(event)
    pushes_after = sum(
        1
        for e in events
        if e.event_type == PUSH_TYPE and (state.last_response_at is None or e.occurred_at > state.last_response_at)
    )
    return state.pruned(), ignored_streak(pushes_after)
