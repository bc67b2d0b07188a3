"""What the bulk upsert takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from customers.errors import CustomerError
from customers.models import Customer, FollowState
from scrm.errors import ApplicationError


@dataclass(frozen=True)
class IdentityUpsert:
    """One channel identity of a customer row; `unionid` links it across the brand's accounts."""

    account_id: int
    kind: str
    external_id: str
    unionid: str = ""
    follow_state: str = FollowState.UNKNOWN
    followed_at: datetime | None = None
    unfollowed_at: datetime | None = None
    subscribe_scene: str = ""
    owner_staff_id: str = ""


@dataclass
class CustomerUpsert:
    """One customer to write.

    `customer_id`: the customer the caller matched, or the id a new customer gets (ids reserved by
    the caller); None: the customer of its identities, else the owner of one of its unionids, else
    a new one. `values`: Customer fields (`attributes` are merged into the stored ones).
    `unionids`: unionids of the customer beyond those of its identities.
    """

    customer_id: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    identities: list[IdentityUpsert] = field(default_factory=list)
    unionids: list[str] = field(default_factory=list)


@dataclass
class UpsertResult:
    customer_ids: list[int]  # per input row, after any merge
    customers_created: int
    identities_created: int


# Customer columns a row may give; the others are the database's (id) or set here (timestamps).


# Customer fields a row may give (every concrete field but the id) and the identity columns it writes.
CUSTOMER_FIELDS = [f for f in Customer._meta.concrete_fields if not f.primary_key]
IDENTITY_COLUMNS = [
    "account_id", "kind", "external_id", "unionid", "follow_state", "followed_at", "unfollowed_at", "subscribe_scene",
    "owner_staff_id",
]  # fmt: skip
_CUSTOMER_NAMES = frozenset(f.attname for f in CUSTOMER_FIELDS)


def values_check(row: CustomerUpsert) -> None:
    unknown = set(row.values) - _CUSTOMER_NAMES
    if unknown:
        raise ApplicationError(code=CustomerError.CUSTOMER_INVALID, detail=sorted(unknown))
