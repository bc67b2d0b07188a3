"""The contact policy: global defaults (ContactPolicy row) merged with a campaign's overrides. The SQL
that enforces it at planning and again just before each send is `campaigns/policy_sql.py`.

The time arithmetic lives in SQL functions installed by migration 0004 (PostgreSQL; a change is a new
migration):
`scrm_time_in(t, start, end)` (wrapping windows), `scrm_defer_out_of(local, start, end)` (move a local
timestamp past a forbidden window) and `scrm_send_slot(local, window_start, window_end, quiet_start,
quiet_end)` (the first local moment inside the send window and outside quiet hours).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils.translation import gettext

from campaigns.errors import CampaignError
from campaigns.models import ContactPolicy
from customers.engagement.prediction import read_chance
from scrm.errors import ApplicationError

# WeChat's own rule for service-account mass sends (not configurable).
MASS_SENDS_PER_MONTH = 4


@dataclass(frozen=True)
class Policy:
    daily_cap: int = 1
    weekly_cap: int = 3
    min_gap_hours: int = 0
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(8, 30)
    fatigue_ignored_pushes: int = 3
    fatigue_cooldown_days: int = 7
    approval_threshold: int = 50_000
    dispatch_batch_size: int = 500
    max_attempts: int = 5

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("quiet_start", "quiet_end"):
            data[key] = data[key].strftime("%H:%M") if data[key] else None
        return data


def reachable_hour(hour: int, *, quiet_start: time | None, quiet_end: time | None) -> int:
    """The send hour for a reader at local `hour`: that hour, or, inside the quiet hours, the last hour
    before they begin (the push waits for the reader; one sent after them would wait a day). Planning's
    send slots (campaigns/planning_sql.py, SLOTS) send those at `quiet_edge`, within that hour."""
    if quiet_start is None or quiet_end is None or quiet_start == quiet_end:
        return hour
    t = time(hour % 24, 0)
    inside = quiet_start <= t < quiet_end if quiet_start < quiet_end else t >= quiet_start or t < quiet_end
    return (quiet_start.hour - 1) % 24 if inside else hour


# How long before the quiet hours a push for a reader inside them is due: as late as is safe. A push that
# dispatch reaches after they began is put off to their end (campaigns.dispatch.recheck) and misses the
# evening it was meant for, so the margin is twice the time the account's rate limit needs to send the
# whole audience, at least QUIET_EDGE_MIN_MARGIN (the dispatch pump's pace) and at most an hour.
QUIET_EDGE_MIN_MARGIN = timedelta(minutes=15)
QUIET_EDGE_MAX_MARGIN = timedelta(hours=1)


def quiet_edge_margin(*, audience: int, rate_per_second: int) -> timedelta:
    """How long before the quiet hours begin a push for a reader inside them is sent (see above)."""
    needed = timedelta(seconds=2 * audience / max(1, rate_per_second))
    return min(QUIET_EDGE_MAX_MARGIN, max(QUIET_EDGE_MIN_MARGIN, needed))


def quiet_edge(*, quiet_start: time, margin: timedelta) -> time:
    """The local time a push for a reader inside the quiet hours is sent: `margin` before they begin."""
    return (datetime.combine(date(2000, 1, 2), quiet_start) - margin).time()


def covering_hour(hours: dict[int, int], *, quiet_start: time | None, quiet_end: time | None) -> int | None:
    """The send hour that reaches most of these readers ({local best hour: how many}) before their push
    goes stale: Σ n · ½^(hours from the send to their hour / READ_HALF_LIFE_HOURS), over the hours the
    quiet hours leave (ties: the earlier hour). Not the most common hour: a push at 20:00 serves the
    20:00 readers and loses every morning reader to a night's wait, one at 09:00 also reaches 12:00."""
    if not hours:
        return None
    candidates = [h for h in range(24) if reachable_hour(h, quiet_start=quiet_start, quiet_end=quiet_end) == h] or list(range(24))

    def reach(send: int) -> float:
        return sum(n * read_chance(hour, send) for hour, n in hours.items())

    return max(candidates, key=lambda h: (round(reach(h), 9), -h))


OVERRIDABLE = {f.name for f in fields(Policy)} - {"approval_threshold", "dispatch_batch_size", "max_attempts"}


def _parse_time(value: Any, key: str) -> time | None:
    if value in (None, ""):
        return None
    if isinstance(value, time):
        return value
    try:
        hour, minute = str(value).split(":")[:2]
        return time(int(hour), int(minute))
    except (ValueError, TypeError) as exc:
        raise ApplicationError(gettext("%(key)s must be HH:MM.") % {"key": key}, code=CampaignError.INVALID_POLICY, detail={key: value}) from exc


def policy_overrides_clean(overrides: dict[str, Any]) -> dict[str, Any]:
    """Validate a campaign's overrides; unknown keys and bad values are refused."""
    if not isinstance(overrides, dict):
        raise ApplicationError(gettext("policy_overrides must be an object."), code=CampaignError.INVALID_POLICY)
    unknown = set(overrides) - OVERRIDABLE
    if unknown:
        raise ApplicationError(gettext("Unknown policy keys."), code=CampaignError.INVALID_POLICY, detail=sorted(unknown))
    clean: dict[str, Any] = {}
    for key, value in overrides.items():
        if key in ("quiet_start", "quiet_end"):
            parsed = _parse_time(value, key)
            clean[key] = parsed.strftime("%H:%M") if parsed else None
        else:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ApplicationError(
                    gettext("%(key)s must be a non-negative integer.") % {"key": key}, code=CampaignError.INVALID_POLICY, detail={key: value}
                )
            clean[key] = value
    return clean


def counts_as_marketing_push(campaign) -> bool:
    """Marketing pushes count toward (and are held to) the caps; an inbox item is not a push."""
    return campaign.priority_class == "marketing" and campaign.message_type != "inbox"


def global_policy() -> Policy:
    row = ContactPolicy.objects.filter(pk=1).first()
    if row is None:
        return Policy()
    return Policy(**{f.name: getattr(row, f.name) for f in fields(Policy)})


def effective_policy(campaign) -> Policy:
    """The global policy with the campaign's overrides applied."""
    base = asdict(global_policy())
    for key, value in (campaign.policy_overrides or {}).items():
        if key in OVERRIDABLE:
            base[key] = _parse_time(value, key) if key in ("quiet_start", "quiet_end") else value
    if campaign.message_type == "inbox":
        # Shown when the customer opens the mini-program: nothing rings, so no quiet hours.
        base["quiet_start"] = base["quiet_end"] = None
    return Policy(**base)
