"""An account's audience as WeChat lists it (service-account followers, WeCom external contacts),
turned into customers: rows from WeChat's JSON, written by customers' bulk upsert, with the
members of mirrored tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ChannelAccount
from customers.models import FollowState, TagSource
from customers.services.bulk import CustomerUpsert, IdentityUpsert, customers_upsert_bulk
from customers.services.tags import tag_links_add_bulk
from messaging.channels.models import TagMirror

_GENDER = {1: 1, 2: 2}


@dataclass
class ImportRow:
    external_id: str
    unionid: str = ""
    profile: dict[str, Any] = field(default_factory=dict)
    followed_at: datetime | None = None
    scene: str = ""
    owner_staff_id: str = ""
    remote_tag_ids: list[str] = field(default_factory=list)


@transaction.atomic
def identities_import(
    *, account: ChannelAccount, rows: list[ImportRow], tag_source: str = TagSource.WECHAT_SYNC
) -> int:
    """Create missing customers and identities for `rows`, mark the known ones following, link
    unionids and mirrored tags; returns how many identities were created."""
    rows = list({row.external_id: row for row in rows if row.external_id}.values())
    if not rows:
        return 0
    now = timezone.now()
    result = customers_upsert_bulk(
        [
            CustomerUpsert(
                values={**row.profile, "first_seen_at": row.followed_at or now},
                identities=[
                    IdentityUpsert(
                        account_id=account.pk,
                        kind=account.identity_kind,
                        external_id=row.external_id,
                        unionid=row.unionid,
                        follow_state=FollowState.FOLLOWING,
                        followed_at=row.followed_at,
                        subscribe_scene=row.scene,
                        owner_staff_id=row.owner_staff_id,
                    )
                ],
            )
            for row in rows
        ],
        refresh_follow=True,
    )
    _mirrored_tags_assign(account=account, rows=rows, customer_ids=result.customer_ids, source=tag_source)
    return result.identities_created


def _mirrored_tags_assign(
    *, account: ChannelAccount, rows: list[ImportRow], customer_ids: list[int], source: str
) -> None:
    remote_ids = {rid for row in rows for rid in row.remote_tag_ids}
    if not remote_ids:
        return
    tag_for = dict(
        TagMirror.objects.filter(account=account, remote_id__in=remote_ids).values_list("remote_id", "tag_id")
    )
    links = {
        (customer_id, tag_for[rid])
        for row, customer_id in zip(rows, customer_ids, strict=True)
        for rid in row.remote_tag_ids
        if rid in tag_for
    }
    tag_links_add_bulk(links=links, source=source)


# --- rows from WeChat's JSON ------------------------------------------------------------------------


def _ts(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def follower_row(info: dict[str, Any]) -> ImportRow:
    """An ImportRow from one user/info entry."""
    profile = {
        "gender": _GENDER.get(int(info.get("sex") or 0), 0),
        "city": (info.get("city") or "")[:64],
        "province": (info.get("province") or "")[:64],
        "country": (info.get("country") or "")[:64],
        "language": (info.get("language") or "")[:16],
        "display_name": (info.get("nickname") or "")[:128],
        "avatar_url": (info.get("headimgurl") or "")[:512],
    }
    return ImportRow(
        external_id=info["openid"],
        unionid=info.get("unionid") or "",
        profile={k: v for k, v in profile.items() if v},
        followed_at=_ts(info.get("subscribe_time")),
        scene=(info.get("qr_scene_str") or info.get("subscribe_scene") or "")[:64],
        remote_tag_ids=[str(t) for t in info.get("tagid_list") or []],
    )


def contact_row(data: dict[str, Any], staff_userid: str) -> ImportRow:
    """An ImportRow from one externalcontact/get answer, as seen by `staff_userid`."""
    contact = data.get("external_contact") or {}
    follow = next((f for f in data.get("follow_user") or [] if f.get("userid") == staff_userid), {})
    profile = {
        "display_name": (contact.get("name") or "")[:128],
        "avatar_url": (contact.get("avatar") or "")[:512],
        "gender": _GENDER.get(int(contact.get("gender") or 0), 0),
    }
    return ImportRow(
        external_id=contact["external_userid"],
        unionid=contact.get("unionid") or "",
        profile={k: v for k, v in profile.items() if v},
        followed_at=_ts(follow.get("createtime")),
        scene=(follow.get("state") or "")[:64],
        owner_staff_id=staff_userid,
        remote_tag_ids=[
            str(t["tag_id"]) for t in follow.get("tags") or [] if t.get("tag_id") and int(t.get("type") or 1) == 1
        ],
    )
