"""A customer's timeline, newest first: events from customers' store (messages in, clicks,
conversions, follow changes, …), pushes out from campaigns' deliveries, and the campaigns that left
the customer out (suppressions, with their reason).

Keyset pagination over the three sources, so a page costs the same at the millionth event as at the
first. Every entry has a key (time, source rank, id), unique and totally ordered; a page asks each
source for the entries below the cursor, newest first, at most PAGE_SIZE + 1 of them:

- events: the (customer, occurred_at) index, read backwards from the cursor;
- deliveries: the (customer, sent_at) index gives the customer's deliveries (a few per day at most);
- suppressions have no index by customer (planning writes millions of rows per campaign, see
  campaigns.models.Suppression), so the campaigns below the cursor — and no older than the page the
  other sources already fill — are taken newest first, CAMPAIGN_PROBE at a time, and probed with the
  unique (campaign, customer) index.

A source that stopped early is complete only down to its last key (its "floor"); the page keeps the
merged entries at or above the highest floor, so no entry is skipped, and the next cursor is the key
of the page's last entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from campaigns.models import Campaign, Delivery, Suppression
from customers.models import EngagementEvent

PAGE_SIZE = 50
CAMPAIGN_PROBE = 300
MAX_ROUNDS = 3

EVENTS, PUSHES, SUPPRESSIONS = 1, 2, 3
# Push events duplicate the delivery rows, which say more (campaign, state, times).
PUSH_EVENT_TYPES = ("push.sent", "push.delivered", "push.failed")

MESSAGE_TYPES = ("wechat.message", "mp.message")
CLICK_TYPES = ("link.click",)
CONVERSION_TYPES = ("conversion", "mp.purchase")
FOLLOW_TYPES = ("wechat.subscribe", "wechat.unsubscribe", "wecom.add_contact", "wecom.del_contact")

# The operator's filter: which sources, and which event types of the event store.
KINDS: dict[str, tuple[set[int], tuple[str, ...] | None]] = {
    "all": ({EVENTS, PUSHES, SUPPRESSIONS}, None),
    "messages": ({EVENTS}, MESSAGE_TYPES),
    "pushes": ({PUSHES, SUPPRESSIONS}, None),
    "clicks": ({EVENTS}, CLICK_TYPES),
    "conversions": ({EVENTS}, CONVERSION_TYPES),
    "follows": ({EVENTS}, FOLLOW_TYPES),
}

Key = tuple[datetime, int, int]


class CursorInvalid(ValueError):
    pass


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def cursor_encode(key: Key) -> str:
    """"<microseconds since 1970>~<rank>~<id>": exact, and safe in a URL as it is."""
    return f"{(key[0] - _EPOCH) // _MICROSECOND}~{key[1]}~{key[2]}"


def cursor_decode(text: str) -> Key:
    try:
        micros, rank, pk = (int(part) for part in text.split("~"))
        return _EPOCH + timedelta(microseconds=micros), rank, pk
    except (ValueError, TypeError, OverflowError) as exc:
        raise CursorInvalid(text) from exc


@dataclass
class Entry:
    key: Key
    source: int
    row: Any
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def at(self) -> datetime:
        return self.key[0]


@dataclass
class Page:
    entries: list[Entry]
    next_cursor: str | None


def _below(cursor: Key | None, rank: int, time_field: str, id_field: str) -> Q:
    """Rows whose key (time, rank, id) is below the cursor, for a source of the given rank."""
    if cursor is None:
        return Q()
    at, cursor_rank, pk = cursor
    if rank < cursor_rank:
        return Q(**{f"{time_field}__lte": at})
    if rank > cursor_rank:
        return Q(**{f"{time_field}__lt": at})
    return Q(**{f"{time_field}__lt": at}) | Q(**{time_field: at, f"{id_field}__lt": pk})


def _limited(entries: list[Entry], limit: int) -> tuple[list[Entry], Key | None]:
    if len(entries) > limit:
        entries = entries[:limit]
        return entries, entries[-1].key
    return entries, None


def _events(customer_id: int, cursor: Key | None, limit: int, event_types: tuple[str, ...] | None) -> tuple[list[Entry], Key | None]:
    qs: QuerySet[EngagementEvent] = EngagementEvent.objects.filter(customer_id=customer_id)
    qs = qs.filter(event_type__in=event_types) if event_types else qs.exclude(event_type__in=PUSH_EVENT_TYPES)
    rows = qs.filter(_below(cursor, EVENTS, "occurred_at", "id")).order_by("-occurred_at", "-id")[: limit + 1]
    return _limited([Entry((r.occurred_at, EVENTS, r.pk), EVENTS, r) for r in rows], limit)


def _pushes(customer_id: int, cursor: Key | None, limit: int) -> tuple[list[Entry], Key | None]:
    rows = (
        Delivery.objects.filter(customer_id=customer_id)
        .annotate(at=Coalesce(F("sent_at"), F("created_at")))
        .filter(_below(cursor, PUSHES, "at", "id"))
        .select_related("campaign")
        .order_by("-at", "-id")[: limit + 1]
    )
    return _limited([Entry((r.at, PUSHES, r.pk), PUSHES, r) for r in rows], limit)


def _suppressions(customer_id: int, cursor: Key | None, limit: int, *, since: datetime | None) -> tuple[list[Entry], Key | None]:
    # Keyed by the campaign (one suppression per campaign and customer), so the campaigns' order is the entries' order.
    # `since`: the other sources already fill the page down to that time; older campaigns cannot make it.
    campaigns_below = Campaign.objects.annotate(at=Coalesce(F("planned_at"), F("created_at"))).filter(
        _below(cursor, SUPPRESSIONS, "at", "id")
    )
    if since is not None:
        campaigns_below = campaigns_below.filter(at__gte=since)
    campaigns = list(
        campaigns_below
        .order_by("-at", "-id")
        .only("id", "name", "message_type", "planned_at", "created_at")[:CAMPAIGN_PROBE]
    )
    if not campaigns:
        return [], None
    by_id = {c.pk: c for c in campaigns}
    found = Suppression.objects.filter(customer_id=customer_id, campaign_id__in=list(by_id))
    entries = []
    for suppression in found:
        campaign = by_id[suppression.campaign_id]
        suppression.campaign = campaign
        entries.append(Entry((campaign.at, SUPPRESSIONS, campaign.pk), SUPPRESSIONS, suppression))
    entries.sort(key=lambda e: e.key, reverse=True)
    entries, floor = _limited(entries, limit)
    if len(campaigns) == CAMPAIGN_PROBE:
        last = campaigns[-1]
        probed_floor = (last.at, SUPPRESSIONS, last.pk)
        floor = max(floor, probed_floor) if floor else probed_floor
    return entries, floor


def timeline_page(*, customer_id: int, cursor: str | None = None, kind: str = "all", page_size: int = PAGE_SIZE) -> Page:
    """One page of the customer's timeline below `cursor` (None: the newest), of one kind of entry."""
    sources, event_types = KINDS.get(kind, KINDS["all"])
    position = cursor_decode(cursor) if cursor else None
    page: list[Entry] = []
    for _round in range(MAX_ROUNDS):
        want = page_size - len(page)
        fetched: list[Entry] = []
        floors: list[Key] = []
        for source in sorted(sources):  # suppressions last: they probe only the campaigns the page can reach
            if source == EVENTS:
                entries, floor = _events(customer_id, position, want, event_types)
            elif source == PUSHES:
                entries, floor = _pushes(customer_id, position, want)
            else:
                fetched.sort(key=lambda e: e.key, reverse=True)
                since = fetched[want - 1].at if len(fetched) >= want else None
                entries, floor = _suppressions(customer_id, position, want, since=since)
            fetched += entries
            if floor is not None:
                floors.append(floor)
        fetched.sort(key=lambda e: e.key, reverse=True)
        floor = max(floors) if floors else None
        complete = [e for e in fetched if floor is None or e.key >= floor]
        page += complete[:want]
        if floor is None and len(complete) <= want:
            return Page(page, None)  # every source is exhausted
        if len(page) >= page_size or len(complete) > want:
            return Page(page, cursor_encode(page[-1].key))
        # Sources stopped early (campaigns probed without a suppression): go on below the floor.
        position = floor
    return Page(page, cursor_encode(position) if position else None)
