"""The shipped audiences: the classic one the steering was designed on, and five that stress it.

All of them are `TraitAudience`s: each person has hidden interests, reading hours, a click
propensity and a patience, drawn from the seed; the presets change how those are drawn and how
visible they are. Every knob is an `--audience-option key=value` (see each class's `knobs`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from devtools.simulator.audience import SIM_TZ, Audience, Organic, PersonSpec, Push, PushOutcome, Traits

# How strongly each channel gets noticed: a subscribe message rings like a template message; a
# group message from a WeCom contact sits among chats; an inbox item waits in the mini-program.
CHANNEL_NOTICE = {"template": 1.0, "oa_subscribe": 1.0, "mp_subscribe": 1.0, "mass": 0.8, "wecom_group": 0.9, "inbox": 0.5}


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_hours(spec: str) -> list[tuple[int, float]]:
    """'9:0.2,20:0.8' → [(9, 0.2), (20, 0.8)]."""
    out = []
    for part in spec.split(","):
        hour, _, weight = part.partition(":")
        out.append((int(hour) % 24, float(weight or 1)))
    return out


def parse_appeal(spec: str) -> list[float]:
    """'1,1.5' → [1.0, 1.5] (each ≥ 0); '' → []."""
    values = [float(part) for part in spec.replace(";", ",").split(",") if part.strip()]
    if any(v < 0 for v in values):
        raise ValueError("variant_appeal: multipliers are ≥ 0")
    return values


@dataclass
class Hidden:
    interests: frozenset[int]
    reading_hour: int
    reading_minute: int
    patience: int
    visits: bool  # False: never visits on their own (no organic signal at all)
    clicks: bool  # False: never clicks whatever they read
    drift_phase: int = 0
    declared: frozenset[int] = frozenset()  # the topics they tick when asked about their interests


class TraitAudience(Audience):
    """People with hidden traits; the knobs are class attributes, overridable as audience options."""

    name = "classic"
    description = "The audience the steering was designed on: organic visits at the reading hour, mostly on an interest."
    # Whose people to draw for a seed (default: this preset's own): a variant of another preset
    # draws the same people, so the two compare person for person.
    trait_stream = ""
    knobs: dict[str, float | str] = {
        "reading_hours": "9:0.2,12:0.3,17:0.15,20:0.35",
        "session_rate": 0.9,
        "bury_hours": 6.0,
        "click_if_interested": 0.6,
        "click_if_not": 0.02,
        "patience_min": 4,
        "patience_max": 10,
        "patience_days": 14,
        "visit_rate": 0.25,
        "off_interest_visit_share": 0.15,
        "never_visit_share": 0.0,
        "never_click_share": 0.0,
        "two_interest_share": 0.4,
        "drift_days": 0,  # > 0: one interest changes every this many days (per-person phase)
        "visit_hour_jitter": 0,  # organic visits at the reading hour ± this many hours
        # Asked about their interests (a welcome message's question): the share who answer, and how
        # they answer — each true interest ticked with declare_tick, each other topic with declare_noise.
        "declare_share": 0.0,
        "declare_tick": 0.8,
        "declare_noise": 0.05,
        # Per-variant multiplier of the click probability, "1,1.5" (A as is, B 1.5×); variants
        # beyond the list, and pushes outside a variant test, get 1.
        "variant_appeal": "",
    }

    def __init__(self, *, size: int, topics: int, seed: int, **options: str) -> None:
        super().__init__(size=size, topics=topics, seed=seed, **options)
        merged = {**TraitAudience.knobs, **type(self).knobs}
        unknown = set(options) - set(merged)
        if unknown:
            raise ValueError(f"unknown audience options for {self.name}: {', '.join(sorted(unknown))}")
        self.k = {key: type(default)(options.get(key, default)) for key, default in merged.items()}
        self.variant_appeal = parse_appeal(str(self.k["variant_appeal"]))
        rng = random.Random(f"{self.trait_stream or self.name}:{seed}")
        hours = parse_hours(str(self.k["reading_hours"]))
        self.hidden: list[Hidden] = []
        for _ in range(size):
            n = 2 if rng.random() < self.k["two_interest_share"] else 1
            self.hidden.append(
                Hidden(
                    interests=frozenset(rng.sample(range(topics), min(n, topics))),
                    reading_hour=rng.choices([h for h, _ in hours], weights=[w for _, w in hours])[0],
                    reading_minute=rng.randrange(60),
                    patience=rng.randint(int(self.k["patience_min"]), int(self.k["patience_max"])),
                    visits=rng.random() >= self.k["never_visit_share"],
                    clicks=rng.random() >= self.k["never_click_share"],
                    drift_phase=rng.randrange(10_000),
                )
            )
        # Answers from a stream of their own: asking never shifts the traits drawn above.
        answers = random.Random(f"{self.name}:{seed}:declared")
        for h in self.hidden:
            if answers.random() < self.k["declare_share"]:
                h.declared = frozenset(
                    t for t in range(topics)
                    if answers.random() < (self.k["declare_tick"] if t in h.interests else self.k["declare_noise"])
                )
        self.answered: set[int] = set()

    # the person's hidden state -------------------------------------------------------------------
    def interests_at(self, person: int, at: datetime) -> frozenset[int]:
        h = self.hidden[person]
        days = int(self.k["drift_days"])
        if days <= 0:
            return h.interests
        epoch = (int(at.timestamp() // 86400) + h.drift_phase) // days
        # Each epoch replaces one interest with another topic, chosen deterministically.
        rng = random.Random(f"{self.seed}:{person}:{epoch}")
        current = sorted(h.interests)
        current[rng.randrange(len(current))] = rng.randrange(self.topics)
        return frozenset(current)

    def local(self, person: int, at: datetime) -> datetime:
        return at.astimezone(_zone(SIM_TZ))

    def traits(self, person: int, at: datetime) -> Traits:
        h = self.hidden[person]
        return Traits(interests=self.interests_at(person, at), best_hour=h.reading_hour, clicks=h.clicks)

    # the interface ---------------------------------------------------------------------------
    def people(self) -> Sequence[PersonSpec]:
        return [PersonSpec(index=i, display_name=f"{self.name} {i}") for i in range(self.size)]

    def organic(self, person: int, hour: datetime, rng: random.Random) -> Sequence[Organic]:
        h = self.hidden[person]
        answer: list[Organic] = []
        if h.declared and person not in self.answered and self.local(person, hour).hour == h.reading_hour:
            # The welcome message asked about their interests; they answer the first time they read it.
            self.answered.add(person)
            answer = [Organic(kind="preference", minute=h.reading_minute, topic=t) for t in sorted(h.declared)]
        return answer + list(self.visits(person, hour, rng))

    def visits(self, person: int, hour: datetime, rng: random.Random) -> Sequence[Organic]:
        h = self.hidden[person]
        if not h.visits:
            return ()
        jitter = int(self.k["visit_hour_jitter"])
        offset = (self.local(person, hour).hour - h.reading_hour) % 24
        if min(offset, 24 - offset) > jitter:
            return ()
        # The day's chance of a visit spread over the hours of the jitter window.
        if rng.random() >= self.k["visit_rate"] / (2 * jitter + 1):
            return ()
        if rng.random() < self.k["off_interest_visit_share"]:
            topic = rng.randrange(self.topics)
        else:
            topic = rng.choice(sorted(self.interests_at(person, hour)))
        return (Organic(kind="page_view", minute=rng.randrange(60), topic=topic),)

    def next_session(self, person: int, after: datetime, rng: random.Random) -> datetime | None:
        h = self.hidden[person]
        local = self.local(person, after)
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(8):
            session = day + timedelta(days=offset, hours=h.reading_hour, minutes=h.reading_minute - 30 + rng.randrange(60))
            if session >= local and rng.random() < self.k["session_rate"]:
                return session.astimezone(_zone("UTC"))
        return None

    def read(self, person: int, push: Push, rng: random.Random) -> datetime | None:
        session = self.next_session(person, push.sent_at, rng)
        if session is None:
            return None
        delay = max(0.0, (session - push.sent_at).total_seconds() / 3600)
        notice = CHANNEL_NOTICE.get(push.channel, 1.0) * math.exp(-delay / self.k["bury_hours"])
        return session if rng.random() < notice else None

    def appeal(self, push: Push) -> float:
        """The variant's appeal: its multiplier of the click probability (1 outside a variant test)."""
        if push.variant is None or push.variant >= len(self.variant_appeal):
            return 1.0
        return self.variant_appeal[push.variant]

    def click_probability(self, person: int, push: Push, at: datetime) -> float:
        if not self.hidden[person].clicks:
            return 0.0
        interested = bool(push.topics & self.interests_at(person, at))
        base = self.k["click_if_interested"] if interested else self.k["click_if_not"]
        return min(1.0, base * self.appeal(push))

    def click(self, person: int, push: Push, read_at: datetime, rng: random.Random) -> bool:
        return rng.random() < self.click_probability(person, push, read_at)

    def disturbance(self, person: int, push: Push, clicked: bool, recent: Sequence[PushOutcome], at: datetime, rng: random.Random) -> str | None:
        if clicked:
            return None
        since = at - timedelta(days=self.k["patience_days"])
        unwanted = 1 + sum(1 for o in recent if not o.clicked and o.push.sent_at > since)
        return "unfollow" if unwanted >= self.hidden[person].patience else None


class ClassicAudience(TraitAudience):
    """Today's audience (the defaults of the original simulator)."""


class SparseSignalsAudience(TraitAudience):
    name = "sparse"
    description = "Interests barely visible: few visits, half of them off-interest, 40 % never visit at all."
    knobs = {"visit_rate": 0.06, "off_interest_visit_share": 0.5, "never_visit_share": 0.4, "two_interest_share": 0.5}


class AskedAudience(SparseSignalsAudience):
    name = "asked"
    description = "sparse's audience, asked about its interests in the welcome message: 30 % answer (each true interest ticked 80 % of the time)."
    knobs = {**SparseSignalsAudience.knobs, "declare_share": 0.3}
    trait_stream = "sparse"  # the same people as sparse for a seed: the answers are all that differs


class DriftingInterestsAudience(TraitAudience):
    name = "drifting"
    description = "One interest changes every 10 days; what was learned goes stale."
    knobs = {"drift_days": 10, "visit_rate": 0.2}


class NightReadersAudience(TraitAudience):
    name = "night"
    description = "Readers outside office hours (early morning, late evening, inside the default quiet hours), visits scattered ±3 h."
    knobs = {"reading_hours": "7:0.25,20:0.2,22:0.3,23:0.25", "visit_hour_jitter": 3, "bury_hours": 4.0}


class NeverClickersAudience(TraitAudience):
    name = "never_click"
    description = "45 % read and visit but never click, whatever is sent."
    knobs = {"never_click_share": 0.45}


class FragilePatienceAudience(TraitAudience):
    """Patience that shrinks with the pushes of the last week: each unclicked push risks a mute and
    an unfollow in proportion to how many pushes came in the 7 days before it."""

    name = "fragile"
    description = "Each unclicked push risks a mute or unfollow, growing with the pushes of the last 7 days."
    knobs = {"mute_per_recent_push": 0.03, "unfollow_per_recent_push": 0.03}

    def disturbance(self, person: int, push: Push, clicked: bool, recent: Sequence[PushOutcome], at: datetime, rng: random.Random) -> str | None:
        if clicked:
            return None
        week = 1 + sum(1 for o in recent if o.push.sent_at > at - timedelta(days=7))
        pressure = week * week / 4
        roll = rng.random()
        if roll < self.k["unfollow_per_recent_push"] * pressure:
            return "unfollow"
        if roll < (self.k["unfollow_per_recent_push"] + self.k["mute_per_recent_push"]) * pressure:
            return "mute"
        return None


PRESETS: dict[str, type[Audience]] = {
    cls.name: cls
    for cls in (
        ClassicAudience,
        SparseSignalsAudience,
        AskedAudience,
        DriftingInterestsAudience,
        NightReadersAudience,
        NeverClickersAudience,
        FragilePatienceAudience,
    )
}
