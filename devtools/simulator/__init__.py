"""The audience simulator (`manage.py simulate_audience`): does steering beat blasting, on audiences it was not designed for?

An audience model (`devtools.simulator.audience.Audience`: the documented plug-in interface; six
presets in `presets`) is mirrored onto one service account per arm in the product:

- *blast* sends every campaign to its whole segment at the single hour best for the audience as a
  whole (chosen from the hidden reading hours, inside the send hours the quiet hours leave);
- *steered* sends it the way the product steers (`--steering tags`: the segment of the topic's
  behavioural interest tag; `predicted`: precision targeting by predicted engagement), each push at
  the customer's learned best hour;
- *oracle* knows the hidden traits: only those who would click the topic now, each at their hour.

All arms send the same marketing channel (subscribe messages with consent by default), under the
same contact policy (caps, fatigue, quiet hours), through the real code: segments, planning,
dispatch to the WeChat sandbox over HTTP, tracked links (/r/<token> view), engagement events and
the incremental learning. Only the people are simulated.

The clock is fast-forwarded: Python's ``django.utils.timezone.now`` and PostgreSQL's ``now()`` /
``clock_timestamp()`` (shadowed by functions in a schema put before pg_catalog on the search path)
both read the simulated time, which advances hour by hour. Everything runs in one transaction that
is rolled back at the end (unless ``keep=True``), so the simulator can be run against any database.

Modules: audience (the interface), presets (the shipped audiences), params (run knobs and result),
clock (the fast-forwarded time), simulation (the loop through the product), report (many seeds).
"""

from devtools.simulator.audience import (
    DISTURBANCES,
    ORGANIC_KINDS,
    ArmTally,
    Audience,
    Organic,
    PersonSpec,
    Push,
    PushOutcome,
    Traits,
    audience_load,
)
from devtools.simulator.clock import SimClock, install_db_clock, restore_search_path
from devtools.simulator.params import SimParams, SimResult
from devtools.simulator.presets import PRESETS, TraitAudience
from devtools.simulator.simulation import Simulation, simulate

__all__ = [
    "DISTURBANCES",
    "ORGANIC_KINDS",
    "PRESETS",
    "ArmTally",
    "Audience",
    "Organic",
    "PersonSpec",
    "Push",
    "PushOutcome",
    "SimClock",
    "SimParams",
    "SimResult",
    "Simulation",
    "Traits",
    "TraitAudience",
    "audience_load",
    "install_db_clock",
    "restore_search_path",
    "simulate",
]
