"""Tracked links: signed short URLs for campaign links, and recording a click.

Token: ``<link>.<delivery>.<customer>.<sig>`` — the three ids in base 62 (0 = none) and the first
72 bits of an HMAC-SHA256 (Django's ``salted_hmac``, keyed by SECRET_KEY) of the ids. The original
URL is stored once per (campaign, URL) in TrackedLink, so a link rendered for a million deliveries is
one row, and the token stays short. The redirect goes only to that stored URL (no open redirect);
any change to the token breaks the signature and the view answers 404.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from campaigns.counters import campaign_counters_add
from campaigns.models import Campaign, Delivery
from campaigns.tracking.bots import is_bot_request
from campaigns.tracking.models import TrackedLink
from customers.models import Customer, CustomerMerge, EngagementEvent
from customers.services import event_record

logger = logging.getLogger(__name__)

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SALT = "scrm.campaigns.tracking"
_SIG_CHARS = 12
# Repeated clicks of one reader on one link within this many seconds count once.
CLICK_DEDUPE_SECONDS = 10
_link_cache: dict[tuple[int | None, str], int] = {}
_LINK_CACHE_MAX = 4096


def _b62(n: int) -> str:
    if n < 0:
        raise ValueError("negative id")
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(reversed(out))


def _from_b62(s: str) -> int:
    n = 0
    for ch in s:
        idx = _ALPHABET.find(ch)
        if idx < 0:
            raise ValueError("bad base62")
        n = n * 62 + idx
    return n


def _signature(payload: str) -> str:
    digest = salted_hmac(_SALT, payload, algorithm="sha256").hexdigest()
    return _b62(int(digest[:18], 16)).rjust(_SIG_CHARS, "0")[:_SIG_CHARS]


@dataclass(frozen=True)
class TrackingToken:
    link_id: int
    delivery_id: int | None
    customer_id: int | None


def tracking_token_make(*, link_id: int, delivery_id: int | None, customer_id: int | None) -> str:
    """Sign the ids of one rendered link into a short URL-safe token."""
    payload = f"{_b62(link_id)}.{_b62(delivery_id or 0)}.{_b62(customer_id or 0)}"
    return f"{payload}.{_signature(payload)}"


def tracking_token_parse(token: str) -> TrackingToken | None:
    """The ids of a token, or None when it is malformed or its signature does not match."""
    parts = token.split(".")
    if len(parts) != 4 or len(token) > 80:
        return None
    payload, sig = ".".join(parts[:3]), parts[3]
    if not constant_time_compare(sig, _signature(payload)):
        return None
    try:
        link_id, delivery_id, customer_id = (_from_b62(p) for p in parts[:3])
    except ValueError:
        return None
    return TrackingToken(link_id=link_id, delivery_id=delivery_id or None, customer_id=customer_id or None)


def tracked_link_get_or_create(*, campaign_id: int | None, url: str) -> int:
    """The id of the TrackedLink for (campaign, url), created on first use."""
    key = (campaign_id, url)
    cached = _link_cache.get(key)
    if cached is not None:
        return cached
    url_hash = hashlib.sha256(url.encode()).hexdigest()
    TrackedLink.objects.bulk_create(
        [TrackedLink(campaign_id=campaign_id, url=url, url_hash=url_hash)], ignore_conflicts=True
    )
    link_id = TrackedLink.objects.values_list("pk", flat=True).get(campaign_id=campaign_id, url_hash=url_hash)
    # Cache only once committed: a rolled-back transaction would leave a dangling id.
    transaction.on_commit(lambda: _link_cache_put(key, link_id))
    return link_id


def _link_cache_put(key: tuple[int | None, str], link_id: int) -> None:
    if len(_link_cache) >= _LINK_CACHE_MAX:
        _link_cache.clear()
    _link_cache[key] = link_id


def tracked_url(*, delivery_id: int | None, campaign_id: int | None, customer_id: int | None, url: str) -> str:
    """The signed short URL to put in a message in place of `url` (non-web links are left as they are)."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return url
    link_id = tracked_link_get_or_create(campaign_id=campaign_id, url=url)
    token = tracking_token_make(link_id=link_id, delivery_id=delivery_id, customer_id=customer_id)
    return settings.PUBLIC_BASE_URL + reverse("tracking:redirect", kwargs={"token": token})


@dataclass(frozen=True)
class ClickResult:
    url: str
    counted: bool


def _current_customer_id(customer_id: int) -> int | None:
    """Follow merges: a link rendered before a merge still credits the surviving customer."""
    if Customer.objects.filter(pk=customer_id).exists():
        return customer_id
    survivor = CustomerMerge.objects.filter(merged_customer_id=customer_id).values_list("survivor_id", flat=True).first()
    return survivor


def link_click_record(
    *, token: str, method: str = "GET", user_agent: str = "", meta: dict | None = None, at: datetime | None = None
) -> ClickResult | None:
    """Resolve a tracked-link token and record the click; None for an unknown or tampered token."""
    parsed = tracking_token_parse(token)
    if parsed is None:
        return None
    link = TrackedLink.objects.filter(pk=parsed.link_id).values("pk", "url", "campaign_id").first()
    if link is None:
        return None
    if is_bot_request(method=method, user_agent=user_agent, meta=meta):
        TrackedLink.objects.filter(pk=link["pk"]).update(bot_fetches=F("bot_fetches") + 1)
        return ClickResult(url=link["url"], counted=False)

    at = at or timezone.now()
    customer_id = _current_customer_id(parsed.customer_id) if parsed.customer_id else None
    delivery = None
    if parsed.delivery_id:
        delivery = Delivery.objects.filter(pk=parsed.delivery_id).values("pk", "customer_id", "campaign_id", "account_id").first()
        if delivery and customer_id is None:
            customer_id = delivery["customer_id"]
    if customer_id is None:
        TrackedLink.objects.filter(pk=link["pk"]).update(anonymous_clicks=F("anonymous_clicks") + 1)
        return ClickResult(url=link["url"], counted=True)

    campaign_id = link["campaign_id"] or (delivery["campaign_id"] if delivery else None)
    account_id = delivery["account_id"] if delivery else None
    topics: list[int] = []
    if campaign_id:
        topics = sorted(Campaign.topics.through.objects.filter(campaign_id=campaign_id).values_list("tag_id", flat=True))
        if account_id is None:
            account_id = Campaign.objects.filter(pk=campaign_id).values_list("account_id", flat=True).first()
    delivery_id = delivery["pk"] if delivery else None
    recent = EngagementEvent.objects.filter(
        customer_id=customer_id,
        event_type="link.click",
        delivery_id=delivery_id,
        occurred_at__gt=at - timedelta(seconds=CLICK_DEDUPE_SECONDS),
        occurred_at__lte=at,
        properties__link_id=link["pk"],
    )
    if recent.exists():
        return ClickResult(url=link["url"], counted=False)
    # Two simultaneous requests both pass the check above; the bucketed key stores one of them.
    window = int(at.timestamp()) // CLICK_DEDUPE_SECONDS
    with transaction.atomic():
        event_record(
            customer_id=customer_id,
            event_type="link.click",
            occurred_at=at,
            properties={"link_id": link["pk"], "url": link["url"], "user_agent": user_agent[:512], "topics": topics},
            account_id=account_id,
            campaign_id=campaign_id,
            delivery_id=delivery_id,
            dedupe_key=f"link.click:{link['pk']}:{parsed.delivery_id or 0}:{customer_id}:{window}",
        )
        if delivery and Delivery.objects.filter(pk=delivery["pk"], clicked_at__isnull=True).update(clicked_at=at):
            # The delivery's first click (a conditional update): counted once however often it is clicked.
            campaign_counters_add(campaign_id=delivery["campaign_id"], clicked=1)
    return ClickResult(url=link["url"], counted=True)
