"""Writes on WeCom relationships: one row per (external contact, staff member).

Each change_external_contact event changes only its pair; the identity's follow state is derived
from all pairs afterwards (`identities_reachability_refresh`): a customer stays reachable on WeCom
while any relationship is active. WeCom may deliver events late or twice: a pair's state changes
only when the event is not older than the last change applied to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.models import ChannelIdentity, CustomerTag, FollowState, TagSource
from customers.services.tags import tag_links_add_bulk
from customers.wecom.models import RelationState, WeComRelation, WeComStaff

REMOVED_STATES = (RelationState.DELETED_BY_STAFF, RelationState.DELETED_BY_CUSTOMER, RelationState.TRANSFERRED)


@dataclass(frozen=True)
class FollowInfo:
    """What WeCom says of one pair (an externalcontact/get `follow_user` entry), plain values."""

    remark: str = ""
    description: str = ""
    remark_mobiles: tuple[str, ...] = ()
    remark_corp_name: str = ""
    # Corp tags (type 1) only: ({"id", "name", "group"}, …).
    tags: tuple[dict[str, str], ...] = ()
    add_way: int = 0
    channel_state: str = ""
    added_at: datetime | None = None

    def values(self) -> dict[str, Any]:
        return {
            "remark": self.remark[:128],
            "description": self.description[:512],
            "remark_mobiles": [m[:32] for m in self.remark_mobiles][:20],
            "remark_corp_name": self.remark_corp_name[:128],
            "tags": [dict(t) for t in self.tags],
            "add_way": max(0, min(int(self.add_way or 0), 32767)),
        }


@dataclass
class RelationChange:
    """The outcome of one event on one pair, and what it did to the customer's reachability."""

    relation: WeComRelation
    applied: bool
    was_reachable: bool
    reachable: bool
    changed_tags: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _reachable(identity_id: int) -> bool:
    return WeComRelation.objects.filter(identity_id=identity_id, state=RelationState.ACTIVE).exists()


def _reachable_before(identity: ChannelIdentity) -> bool:
    # An identity known from before relationships (no pair recorded yet) is as its follow state says.
    if WeComRelation.objects.filter(identity_id=identity.pk).exists():
        return _reachable(identity.pk)
    return ChannelIdentity.objects.filter(pk=identity.pk, follow_state=FollowState.FOLLOWING).exists()


def _locked_pair(identity: ChannelIdentity, staff_userid: str) -> tuple[WeComRelation, bool]:
    """The pair's row, locked (created empty when missing, safe under concurrency)."""
    WeComRelation.objects.bulk_create(
        [WeComRelation(identity_id=identity.pk, staff_userid=staff_userid[:64], state=RelationState.ACTIVE)],
        ignore_conflicts=True,
    )
    relation = WeComRelation.objects.select_for_update().get(identity_id=identity.pk, staff_userid=staff_userid[:64])
    created = relation.state_changed_at is None and relation.added_at is None
    return relation, created


def _is_newer(relation: WeComRelation, at: datetime) -> bool:
    return relation.state_changed_at is None or at >= relation.state_changed_at


@transaction.atomic
def relation_record_added(
    *, identity: ChannelIdentity, staff_userid: str, at: datetime, follow: FollowInfo | None = None, half: bool = False
) -> RelationChange:
    """add_external_contact / add_half_external_contact: the pair becomes active (unless a newer
    removal is known); WeCom's follow_user entry fills remark, tags, add way and state."""
    was_reachable = _reachable_before(identity)
    relation, created = _locked_pair(identity, staff_userid)
    follow = follow or FollowInfo()
    applied = _is_newer(relation, at)
    if applied:
        # A full add after a half add means the staff member added the customer back.
        relation.half = half and (created or relation.half or relation.state != RelationState.ACTIVE)
        relation.state = RelationState.ACTIVE
        relation.removed_at = None
        relation.state_changed_at = at
        relation.added_at = follow.added_at or relation.added_at or at
        relation.last_interaction_at = max(filter(None, [relation.last_interaction_at, at]))
        if follow.channel_state or not relation.channel_state:
            relation.channel_state = follow.channel_state[:64]
    changed_tags = _follow_apply(relation, follow)
    relation.save()
    identities_reachability_refresh(identity_ids=[identity.pk], at=at)
    return RelationChange(relation, applied, was_reachable, _reachable(identity.pk), changed_tags)


@transaction.atomic
def relation_record_edited(
    *, identity: ChannelIdentity, staff_userid: str, at: datetime, follow: FollowInfo
) -> RelationChange:
    """edit_external_contact: the staff member changed the remark, description, mobiles or corp
    tags of this pair. The pair's state and every other pair (owner included) are left as they are."""
    reachable = _reachable_before(identity)
    relation, created = _locked_pair(identity, staff_userid)
    if created:
        # Edited before we saw the add (a late add event, or a contact from before the product):
        # WeCom just listed the pair, so it exists.
        relation.state_changed_at = at
        relation.added_at = follow.added_at or at
        relation.channel_state = follow.channel_state[:64]
    # Not an interaction: WeCom's "last chatted" (which staff member a group message goes through)
    # is about conversations, and editing a remark or a tag is none.
    changed_tags = _follow_apply(relation, follow)
    relation.save()
    if created:
        identities_reachability_refresh(identity_ids=[identity.pk], at=at)
    return RelationChange(relation, True, reachable, _reachable(identity.pk), changed_tags)


@transaction.atomic
def relation_record_removed(
    *, identity: ChannelIdentity, staff_userid: str, at: datetime, state: str
) -> RelationChange:
    """del_external_contact (staff deleted the customer), del_follow_user (the customer deleted the
    staff member) or a completed transfer: only this pair ends."""
    if state not in REMOVED_STATES:
        raise ValueError(state)
    was_reachable = _reachable_before(identity)
    relation, created = _locked_pair(identity, staff_userid)
    applied = _is_newer(relation, at)
    if applied:
        relation.state = state
        relation.removed_at = at
        relation.state_changed_at = at
        relation.save()
    identities_reachability_refresh(identity_ids=[identity.pk], at=at)
    return RelationChange(relation, applied, was_reachable, _reachable(identity.pk))


@transaction.atomic
def relation_record_transferred(
    *, identity: ChannelIdentity, handover_userid: str, takeover_userid: str, at: datetime
) -> RelationChange:
    """A completed hand-over (transfer_result status 1): the handover pair ends as `transferred`
    and the takeover pair becomes active with what the handover pair knew (remark, tags, state)."""
    was_reachable = _reachable_before(identity)
    old, _ = _locked_pair(identity, handover_userid)
    new, created = _locked_pair(identity, takeover_userid)
    if _is_newer(old, at):
        old.state, old.removed_at, old.state_changed_at = RelationState.TRANSFERRED, at, at
        old.save()
    if _is_newer(new, at):
        if created:
            for name in ("remark", "description", "remark_mobiles", "remark_corp_name", "tags", "add_way", "channel_state"):
                setattr(new, name, getattr(old, name))
        new.state, new.half, new.removed_at, new.state_changed_at = RelationState.ACTIVE, False, None, at
        new.added_at = new.added_at if not created else at
        new.save()
    identities_reachability_refresh(identity_ids=[identity.pk], at=at)
    return RelationChange(new, True, was_reachable, _reachable(identity.pk))


def _follow_apply(relation: WeComRelation, follow: FollowInfo) -> bool:
    values = follow.values()
    changed_tags = _tag_ids(relation.tags) != _tag_ids(values["tags"])
    for name, value in values.items():
        setattr(relation, name, value)
    return changed_tags


def _tag_ids(tags: Iterable[dict[str, Any]]) -> set[str]:
    return {str(t.get("id")) for t in tags if t.get("id")}


def relation_touch_interaction(*, identity_id: int, staff_userid: str, at: datetime) -> int:
    """A confirmed interaction between the pair (e.g. the staff member's group message reached the
    customer): moves last_interaction_at forward, never back."""
    return (
        WeComRelation.objects.filter(identity_id=identity_id, staff_userid=staff_userid)
        .filter(Q(last_interaction_at__isnull=True) | Q(last_interaction_at__lt=at))
        .update(last_interaction_at=at, updated_at=timezone.now())
    )


def relations_touch_by_external_id(*, account_id: int, external_id: str, staff_userid: str, at: datetime) -> int:
    """relation_touch_interaction for the pair named by WeCom's ids; the owner follows."""
    identity_ids = list(
        ChannelIdentity.objects.filter(account_id=account_id, external_id=external_id).values_list("pk", flat=True)
    )
    touched = 0
    for identity_id in identity_ids:
        touched += relation_touch_interaction(identity_id=identity_id, staff_userid=staff_userid, at=at)
    if touched:
        identities_reachability_refresh(identity_ids=identity_ids, at=at)
    return touched


# --- the identity's state, derived from its pairs ------------------------------------------------


def _active_pairs():
    return WeComRelation.objects.filter(identity_id=OuterRef("pk"), state=RelationState.ACTIVE)


# Who owns an identity among its active relationships: a staff member still in the corp, then the most
# recent interaction, then the most recent add.
_LEADER_ORDER = ("departed", F("last_interaction_at").desc(nulls_last=True), F("added_at").desc(nulls_last=True), "staff_userid")


def identities_reachability_refresh(*, identity_ids: Sequence[int], at: datetime | None = None) -> int:
    """Derive each identity's follow state (following while any pair is active) and its owner (the
    active pair with the most recent interaction, else the latest added) from its relationships.
    A departed staff member leads only when no other active pair exists. Identities without any
    relationship row are left alone. Set-based; returns identities changed."""
    ids = sorted({int(pk) for pk in identity_ids})
    if not ids:
        return 0
    at = at or timezone.now()
    now = timezone.now()
    with_pairs = ChannelIdentity.objects.filter(pk__in=ids).filter(
        Exists(WeComRelation.objects.filter(identity_id=OuterRef("pk")))
    )
    # A departed staff member can confirm no group message: they lead only when nobody else can.
    departed = WeComStaff.objects.filter(
        account_id=OuterRef(OuterRef("account_id")), userid=OuterRef("staff_userid"), departed_at__isnull=False
    )
    leader = (
        _active_pairs()
        .annotate(departed=Exists(departed))
        .order_by(*_LEADER_ORDER)
        .values("staff_userid")[:1]
    )
    changed = with_pairs.filter(Exists(_active_pairs())).exclude(follow_state=FollowState.FOLLOWING).update(
        follow_state=FollowState.FOLLOWING, followed_at=at, updated_at=now
    )
    changed += with_pairs.filter(~Exists(_active_pairs()), follow_state=FollowState.FOLLOWING).update(
        follow_state=FollowState.UNFOLLOWED, unfollowed_at=at, updated_at=now
    )
    if connection.vendor == "postgresql":
        with_pairs.update(owner_staff_id=Coalesce(Subquery(leader), F("owner_staff_id")))
    else:
        # SQLite cannot resolve the identity's account two subqueries deep (no such column): the
        # embedded default (small data) picks each identity's leader by the same order, one by one.
        for pk, account_id in with_pairs.values_list("pk", "account_id"):
            gone = WeComStaff.objects.filter(account_id=account_id, userid=OuterRef("staff_userid"), departed_at__isnull=False)
            owner = (
                WeComRelation.objects.filter(identity_id=pk, state=RelationState.ACTIVE)
                .annotate(departed=Exists(gone))
                .order_by(*_LEADER_ORDER)
                .values_list("staff_userid", flat=True)
                .first()
            )
            if owner is not None:
                ChannelIdentity.objects.filter(pk=pk).exclude(owner_staff_id=owner).update(owner_staff_id=owner)
    return changed


# --- tags set in the WeCom client ----------------------------------------------------------------


def customer_wecom_tags_sync(*, customer_id: int, tag_for_remote: Mapping[str, int]) -> dict[str, int]:
    """Make the customer's tags of source `wecom` the mirrored corp tags that the customer's active
    relationships carry (any staff member, any corp): tags a staff member added arrive, tags every
    staff member removed leave. Tags assigned otherwise (manual, rules…) are never touched.
    `tag_for_remote` maps WeCom corp tag ids to product tag ids (the tag mirror)."""
    carried = {
        tag_for_remote[remote]
        for tags in WeComRelation.objects.filter(identity__customer_id=customer_id, state=RelationState.ACTIVE).values_list(
            "tags", flat=True
        )
        for remote in _tag_ids(tags or [])
        if remote in tag_for_remote
    }
    removed, _ = (
        CustomerTag.objects.filter(customer_id=customer_id, source=TagSource.WECOM)
        .exclude(tag_id__in=carried)
        .filter(tag_id__in=set(tag_for_remote.values()))
        .delete()
    )
    before = CustomerTag.objects.filter(customer_id=customer_id).count()
    tag_links_add_bulk(links={(customer_id, tag_id) for tag_id in carried}, source=TagSource.WECOM)
    added = CustomerTag.objects.filter(customer_id=customer_id).count() - before
    return {"added": added, "removed": removed}


@transaction.atomic
def corp_tags_forget(*, account_id: int, remote_ids: set[str], tag_ids: set[int]) -> int:
    """Corp tags deleted in WeCom (change_external_tag delete): they leave every relationship on
    the corp and every customer's `wecom` links to their product tags; returns relationships changed."""
    if not remote_ids:
        return 0
    relations = WeComRelation.objects.filter(identity__account_id=account_id).exclude(tags=[])
    prefilter = Q()
    for remote in remote_ids:
        prefilter |= Q(tags__icontains=remote)
    changed = 0
    for relation in relations.filter(prefilter).select_for_update(of=("self",)).iterator(chunk_size=1000):
        kept = [t for t in relation.tags if str(t.get("id")) not in remote_ids]
        if len(kept) != len(relation.tags):
            WeComRelation.objects.filter(pk=relation.pk).update(tags=kept, updated_at=timezone.now())
            changed += 1
    CustomerTag.objects.filter(
        tag_id__in=tag_ids, source=TagSource.WECOM, customer__identities__account_id=account_id
    ).delete()
    return changed


def relations_remote_tag_ids(*, customer_id: int) -> set[str]:
    """Corp tag ids carried by the customer's relationships (for resolving the tag mirror)."""
    return {
        remote
        for tags in WeComRelation.objects.filter(identity__customer_id=customer_id).values_list("tags", flat=True)
        for remote in _tag_ids(tags or [])
    }


# --- sync: many pairs at once --------------------------------------------------------------------
