"""Customer search for the operator (API `?search=` and the admin changelist): the input is classified
first, so an exact identifier is one index probe and only a name pays for a substring match.

- Digits only (a customer id, a phone number, a numeric WeCom id) and identifier shapes (an openid,
  unionid or external_userid: one ASCII token of 6+ letters, digits, `-` and `_`) are looked up exactly: `ChannelIdentity.external_id` / `unionid`
  (their b-tree indexes), `Customer.phone_hash` (the keyed hash of the normalised phone; the phone
  column itself is ciphertext) and the primary key. Uses index: identity external_id, identity
  unionid, customer phone_hash, customer pkey.
- Anything else — or an identifier-shaped input that matched nothing exactly ("Tom2024" may be a
  name) — is a name substring: `UPPER(display_name) LIKE UPPER('%…%')`, served on PostgreSQL by the
  pg_trgm GIN index `customer_name_trgm` (customers migration 0010) when the text has a trigram
  (3+ characters); shorter text walks the id index and stops at the first page of matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Q

from customers.models import ChannelIdentity, Customer
from customers.services import normalize_phone
from scrm.fields import lookup_hash

# One token of the characters WeChat / WeCom ids are made of (openid `oX9…`, unionid, `wm…` external_userid).
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{6,128}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,24}$")
MAX_EXACT_MATCHES = 100


@dataclass(frozen=True)
class SearchInput:
    text: str
    kind: str  # "identifier" (exact lookups first) or "name" (substring only)


def search_classify(text: str) -> SearchInput:
    """Whether the input can be an exact identifier (id, phone, openid / unionid / external_userid) or only a name."""
    text = text.strip()
    if text.isdigit() or _PHONE.match(text):
        return SearchInput(text, "identifier")
    if _IDENTIFIER.match(text):
        return SearchInput(text, "identifier")
    return SearchInput(text, "name")


def customer_ids_exact(text: str) -> list[int]:
    """Customers whose id, phone, openid / external_userid or unionid is exactly `text` (index probes only,
    sent as one statement: UNION ALL of the probes the input's shape allows)."""
    text = text.strip()
    # In the order the rows come back under the shared limit: the id (one row) and the identities
    # (a person's few) before the phone, which a shared number could fill the limit with.
    probes = []
    if text.isdigit() and len(text) < 19:
        probes.append(Customer.objects.filter(pk=int(text)).values_list("pk", flat=True))
    if _IDENTIFIER.match(text):
        probes.append(ChannelIdentity.objects.filter(Q(external_id=text) | Q(unionid=text)).values_list("customer_id", flat=True))
    digits = normalize_phone(text) if _PHONE.match(text) else ""
    if len(digits) >= 5 and digits.lstrip("+").isdigit():
        probes.append(Customer.objects.filter(phone_hash=lookup_hash(digits)).values_list("pk", flat=True))
    if not probes:
        return []
    first, *rest = probes
    matches = first.union(*rest, all=True) if rest else first
    return sorted(set(matches[: MAX_EXACT_MATCHES * len(probes)]))


def customer_search_q(text: str) -> Q:
    """The condition on customers for one search input: exact ids when the input is one and matched, else the name."""
    query = search_classify(text)
    if query.kind == "identifier":
        ids = customer_ids_exact(query.text)
        if ids:
            return Q(pk__in=ids)
    return Q(display_name__icontains=query.text)
