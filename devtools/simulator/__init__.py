"""The audience simulator (`manage.py simulate_audience`): does steering (learned interests + send-time optimisation) beat blasting?

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

Modules: params (the knobs and the result), people (their behaviour), clock (the fast-forwarded
time), simulation (the loop through the product).
"""

from devtools.simulator.clock import SimClock, install_db_clock, restore_search_path
from devtools.simulator.params import ArmResult, Person, SimParams, SimResult
from devtools.simulator.people import (
    build_audience,
    click_probability,
    next_session,
    notice_probability,
    parse_reading_hours,
)
from devtools.simulator.simulation import Simulation, simulate

__all__ = [
    "ArmResult",
    "Person",
    "SimClock",
    "SimParams",
    "SimResult",
    "Simulation",
    "build_audience",
    "click_probability",
    "install_db_clock",
    "next_session",
    "notice_probability",
    "parse_reading_hours",
    "restore_search_path",
    "simulate",
]
