"""The embedded SQLite database's path: the same outcome one row at a time with the ORM
(demo-sized data and one writer, so no race to guard against)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from customers.models import ChannelIdentity, Customer, CustomerUnionId, FollowState
from customers.services.bulk.rows import IDENTITY_COLUMNS, CustomerUpsert, IdentityUpsert, UpsertResult, values_check
from customers.services.identity import identity_link_unionid


def upsert_row_by_row(
    rows: Sequence[CustomerUpsert], *, overwrite: bool, refresh_follow: bool, link_unionids: bool, now: datetime
) -> UpsertResult:
    """The same outcome one row at a time with the ORM, for the embedded SQLite database (demo-sized
    data, one writer, so no race to guard against)."""
    customer_ids: list[int] = []
    created = identities_created = 0
    seen: set[tuple[int, str, str]] = set()
    for row in rows:
        values_check(row)
        identities = [i for i in row.identities if i.external_id and (i.account_id, i.kind, i.external_id) not in seen]
        seen.update((i.account_id, i.kind, i.external_id) for i in identities)
        customer = _customer_of(row, identities, link_unionids=link_unionids)
        if customer is None:
            customer = Customer(pk=row.customer_id, **row.values)
            customer.save(force_insert=True)
            created += 1
        elif overwrite:
            _customer_overwrite(customer, row.values, now=now)
        for upsert in identities:
            identity, made = ChannelIdentity.objects.get_or_create(
                account_id=upsert.account_id,
                kind=upsert.kind,
                external_id=upsert.external_id,
                defaults={"customer": customer, **{name: getattr(upsert, name) for name in IDENTITY_COLUMNS[3:]}},
            )
            identities_created += made
            if not made and refresh_follow:
                _follow_refresh(identity, upsert, now=now)
            if link_unionids and upsert.unionid:
                CustomerUnionId.objects.get_or_create(
                    unionid=upsert.unionid, defaults={"customer_id": identity.customer_id}
                )
                identity_link_unionid(identity=identity, unionid=upsert.unionid)
        if link_unionids:
            for unionid in row.unionids:
                CustomerUnionId.objects.get_or_create(unionid=unionid, defaults={"customer_id": customer.pk})
        first = identities[0] if identities else None
        customer_ids.append(
            ChannelIdentity.objects.values_list("customer_id", flat=True).get(
                account_id=first.account_id, kind=first.kind, external_id=first.external_id
            )
            if first
            else customer.pk
        )
    return UpsertResult(customer_ids=customer_ids, customers_created=created, identities_created=identities_created)


def _customer_of(row: CustomerUpsert, identities: list[IdentityUpsert], *, link_unionids: bool) -> Customer | None:
    if row.customer_id is not None:
        return Customer.objects.filter(pk=row.customer_id).first()
    for upsert in identities:
        identity = ChannelIdentity.objects.filter(
            account_id=upsert.account_id, kind=upsert.kind, external_id=upsert.external_id
        ).first()
        if identity is not None:
            return identity.customer
    unionids = [*(i.unionid for i in identities if i.unionid), *row.unionids]
    owner = (
        CustomerUnionId.objects.filter(unionid__in=unionids).order_by("customer_id").first()
        if link_unionids and unionids
        else None
    )
    return owner.customer if owner else None


def _customer_overwrite(customer: Customer, values: dict[str, Any], *, now: datetime) -> None:
    changed = []
    for name, value in values.items():
        if name == "attributes":
            value = {**customer.attributes, **value}
        if name == "phone" and values.get("phone_hash") == customer.phone_hash:
            continue
        if getattr(customer, name) != value:
            setattr(customer, name, value)
            changed.append(name)
    if changed:
        customer.updated_at = now
        customer.save(update_fields=[*changed, "updated_at"])


def _follow_refresh(identity: ChannelIdentity, upsert: IdentityUpsert, *, now: datetime) -> None:
    if identity.unfollowed_at and identity.unfollowed_at > now:
        return
    if (
        identity.follow_state == FollowState.FOLLOWING
        and identity.followed_at
        and (identity.owner_staff_id or not upsert.owner_staff_id)
    ):
        return
    identity.follow_state = FollowState.FOLLOWING
    identity.followed_at = identity.followed_at or upsert.followed_at or now
    identity.subscribe_scene = identity.subscribe_scene or upsert.subscribe_scene
    identity.owner_staff_id = identity.owner_staff_id or upsert.owner_staff_id
    identity.updated_at = now
    identity.save(update_fields=["follow_state", "followed_at", "subscribe_scene", "owner_staff_id", "updated_at"])
