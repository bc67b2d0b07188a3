"""The people: hidden interests, reading hours and patience, and how they read and click."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from devtools.simulator.params import SIM_TZ, Person, SimParams


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
