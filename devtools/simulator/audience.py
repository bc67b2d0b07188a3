"""The audience interface: what a model of a brand's customers must answer for the simulator.

This is a promise to integrators (docs/engagement.md, "Audiences"): the simulator calls only the
methods of `Audience` below, with only the value types below, and a new version adds methods with
defaults rather than changing these. Plug a model in with
``manage.py simulate_audience --audience my_package.my_module:MyAudience``.

The simulator mirrors every person onto each arm's account (one customer per arm); what a person
does organically happens in every arm alike; how they react to a push is asked per arm, and each
arm has its own random stream, so one arm's pushes never change another arm's draws. Times are
aware datetimes (UTC); ``rng`` is a ``random.Random`` the model must use for every draw (the same
seed gives the same run).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

SIM_TZ = "Asia/Shanghai"

# What people do on their own (recorded as the product records them: a mini-program page view,
# a menu click on the service account, a conversion reported by the brand, a topic ticked in the
# preference centre — e.g. answering a welcome message's question about interests; added later).
ORGANIC_KINDS = ("page_view", "menu_click", "conversion", "preference")
# What a push can make someone do besides clicking.
DISTURBANCES = ("mute", "unfollow", "refuse_consent")


@dataclass(frozen=True)
class PersonSpec:
    """Who someone is: their position in the audience, display name, time zone and how many
    subscribe-message consents they give at the start (0: they refuse consent)."""

    index: int
    display_name: str
    timezone: str = SIM_TZ
    consent_credits: int = 30


@dataclass(frozen=True)
class Organic:
    """Something a person does on their own during a simulated hour (`minute` past that hour)."""

    kind: str  # one of ORGANIC_KINDS
    minute: int = 0
    topic: int | None = None  # the topic index the page, menu item or purchase is about


@dataclass(frozen=True)
class Push:
    """A push as the person meets it: the channel (a campaign message type), its topics, when it
    arrived, the arm that sent it (for models that keep per-arm state), and — added later, with a
    default, so models written before it are unchanged — the variant of a variant test the person
    received (0 = A, 1 = B, …; None outside a variant test). A model may make variants differ in
    appeal (TraitAudience's `variant_appeal` option multiplies the click probability per variant)."""

    channel: str
    topics: frozenset[int]
    sent_at: datetime
    arm: str
    variant: int | None = None


@dataclass(frozen=True)
class PushOutcome:
    """A push the person received earlier in this arm, and what they did with it."""

    push: Push
    read_at: datetime | None
    clicked: bool


@dataclass(frozen=True)
class Traits:
    """The hidden truth the oracle arm may use: what interests the person now and when they read."""

    interests: frozenset[int]
    best_hour: int  # local hour at which a push is most likely read
    clicks: bool = True  # False: this person does not click whatever is sent


class Audience:
    """Base class of an audience model. Override every method; the defaults describe the contract.

    The constructor receives the run's size, number of topics and seed (plus any `options` given
    as ``--audience-option key=value``, as strings) and must be deterministic for them.
    """

    name = "custom"
    description = ""

    def __init__(self, *, size: int, topics: int, seed: int, **options: str) -> None:
        self.size = size
        self.topics = topics
        self.seed = seed
        self.options = options

    def people(self) -> Sequence[PersonSpec]:
        """Everyone in the audience, `index` 0 … size − 1 in order."""
        return [PersonSpec(index=i, display_name=f"person {i}") for i in range(self.size)]

    def organic(self, person: int, hour: datetime, rng: random.Random) -> Sequence[Organic]:
        """What `person` does on their own during the hour starting at `hour` (called every hour)."""
        return ()

    def read(self, person: int, push: Push, rng: random.Random) -> datetime | None:
        """When the person opens and reads `push` (≥ push.sent_at), or None if they never do."""
        return None

    def click(self, person: int, push: Push, read_at: datetime, rng: random.Random) -> bool:
        """Whether they click the push's link when reading it at `read_at`."""
        return False

    def disturbance(self, person: int, push: Push, clicked: bool, recent: Sequence[PushOutcome], at: datetime, rng: random.Random) -> str | None:
        """After reading `push` (or at the moment it went unread, `at`): one of DISTURBANCES or None.

        `recent` is the person's earlier pushes in this arm (oldest first, at most 60 days back)."""
        return None

    def traits(self, person: int, at: datetime) -> Traits:
        """The hidden traits at time `at` (only the oracle arm reads them)."""
        return Traits(interests=frozenset(), best_hour=12)


def audience_load(path: str) -> type[Audience]:
    """The Audience class named by ``package.module:Class`` (or a preset's name)."""
    from importlib import import_module

    from devtools.simulator.presets import PRESETS

    if path in PRESETS:
        return PRESETS[path]
    module_name, _, class_name = path.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"--audience must be a preset ({', '.join(PRESETS)}) or 'package.module:Class', not {path!r}")
    try:
        module = import_module(module_name)
    except ImportError as exc:  # the integrator's dotted path: a typo is theirs to fix, said plainly
        raise ValueError(f"--audience {path!r}: cannot import {module_name!r} ({exc})") from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Audience)):
        raise ValueError(f"{path} is not a subclass of devtools.simulator.audience.Audience")
    return cls


@dataclass
class ArmTally:
    """What one arm did in a run."""

    name: str
    pushes: int = 0
    reads: int = 0
    clicks: int = 0
    unfollows: int = 0
    mutes: int = 0
    consent_refusals: int = 0
    suppressed: dict[str, int] = field(default_factory=dict)

    @property
    def clicks_per_push(self) -> float:
        return self.clicks / self.pushes if self.pushes else 0.0
