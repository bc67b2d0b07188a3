"""Product tags ↔ WeChat tags (service account) and WeCom corp tags.

Pull: every remote tag gets a product tag (in a tag group named after the account) and a
TagMirror row; members arrive with the follower / contact import (tagid_list, follow_user.tags).
Push: a product tag gets a remote tag (created if needed) and its members are tagged remotely.
WeChat allows 100 tags per account (ids 0-2 reserved) and 20 tags per user; what the platform
refuses is reported per tag, never silently dropped.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone
from wechatpy.exceptions import WeChatClientException

from accounts.models import AccountKind, ChannelAccount
from customers.models import ChannelIdentity, FollowState, Tag
from customers.services.tags import tag_ensure, tag_rename
from customers.wecom.services import corp_tags_forget
from messaging.channels.clients import wechat_client, wecom_client
from messaging.channels.models import SyncJob, TagMirror
from messaging.errors import TagSyncErrorCode

logger = logging.getLogger(__name__)

WECHAT_TAG_LIMIT = 100
WECHAT_TAGS_PER_USER = 20
WECHAT_RESERVED_TAG_IDS = frozenset({0, 1, 2})
WECHAT_TAG_NAME_MAX = 30
WECHAT_TAGGING_BATCH = 50
WECOM_TAG_GROUP = "SCRM"

ERR_TOO_MANY_TAGS = 45056
ERR_USER_TOO_MANY_TAGS = 45059
ERR_TAG_NAME_EXISTS = 45157


@transaction.atomic
def _mirror_ensure(
    *, account: ChannelAccount, remote_id: str, remote_name: str, group_name: str, remote_group_id: str = ""
) -> bool:
    if TagMirror.objects.filter(account=account, remote_id=remote_id).exists():
        return False
    tag = tag_ensure(group_name=group_name, name=remote_name)
    if TagMirror.objects.filter(account=account, tag=tag).exists():
        return False
    TagMirror.objects.create(
        account=account,
        tag=tag,
        remote_id=remote_id,
        remote_name=remote_name,
        remote_group_id=remote_group_id,
        synced_at=timezone.now(),
    )
    return True


def tag_mirrors_for_remote(*, account: ChannelAccount, tags: list[dict[str, str]]) -> dict[str, int]:
    """Product tag ids of WeCom corp tags ({"id", "name", "group"}, as a follow_user entry names
    them), mirroring the ones not seen yet; the mapping covers every id given that is mirrored."""
    for remote in tags:
        if remote.get("id") and remote.get("name"):
            _mirror_ensure(
                account=account,
                remote_id=remote["id"],
                remote_name=remote["name"][:64],
                group_name=f"WeCom · {remote.get('group', '')}"[:64],
            )
    return dict(
        TagMirror.objects.filter(account=account, remote_id__in={t["id"] for t in tags if t.get("id")}).values_list(
            "remote_id", "tag_id"
        )
    )


def corp_tag_event_apply(*, account: ChannelAccount, change: str, remote_id: str, tag_type: str) -> dict[str, int]:
    """change_external_tag: keep the account's corp-tag mirror current. create / update re-read the
    named tag or group (get_corp_tag_list by id) and mirror or rename it; delete drops the mirrors of
    every tag WeCom no longer lists (a deleted group takes its tags with it) together with the
    relationships' and customers' `wecom` links to them; shuffle only reorders (no order is kept
    here) and pulls anything not mirrored yet."""
    client = wecom_client(account)
    counts = {"mirrored": 0, "renamed": 0, "dropped": 0}
    if change in ("create", "update") and remote_id:
        body = {"group_id": [remote_id]} if tag_type == "tag_group" else {"tag_id": [remote_id]}
        for group in client.post("externalcontact/get_corp_tag_list", data=body).get("tag_group") or []:
            for remote in group.get("tag") or []:
                outcome = _mirror_upsert(account=account, remote=remote, group=group)
                counts[outcome] = counts.get(outcome, 0) + 1
    elif change == "delete":
        listed = {
            str(remote["id"])
            for group in client.post("externalcontact/get_corp_tag_list", data={}).get("tag_group") or []
            for remote in group.get("tag") or []
        }
        vanished = TagMirror.objects.filter(account=account).exclude(remote_id__in=listed)
        gone = dict(vanished.values_list("remote_id", "tag_id"))
        if gone:
            corp_tags_forget(account_id=account.pk, remote_ids=set(gone), tag_ids=set(gone.values()))
            counts["dropped"] = vanished.delete()[0]
    elif change == "shuffle":
        counts["mirrored"] = tags_pull(account=account)
    return counts


def _mirror_upsert(*, account: ChannelAccount, remote: dict[str, Any], group: dict[str, Any]) -> str:
    remote_id, name = str(remote["id"]), str(remote.get("name") or "")[:64]
    mirror = TagMirror.objects.filter(account=account, remote_id=remote_id).first()
    if mirror is None:
        _mirror_ensure(account=account, remote_id=remote_id, remote_name=name,
                       group_name=f"WeCom · {group.get('group_name', '')}"[:64], remote_group_id=str(group.get("group_id", "")))
        return "mirrored"
    renamed = mirror.remote_name != name
    if renamed:
        tag_rename(tag_id=mirror.tag_id, name=name)
    TagMirror.objects.filter(pk=mirror.pk).update(
        remote_name=name, remote_group_id=str(group.get("group_id", "")) or mirror.remote_group_id, synced_at=timezone.now()
    )
    return "renamed" if renamed else "mirrored"


def tags_pull(*, account: ChannelAccount) -> int:
    """Mirror every remote tag of `account` as a product tag; returns how many were new."""

    created = 0
    if account.kind == AccountKind.OA:
        for remote in wechat_client(account).tag.get():
            if int(remote["id"]) in WECHAT_RESERVED_TAG_IDS:
                continue
            created += _mirror_ensure(
                account=account,
                remote_id=str(remote["id"]),
                remote_name=remote["name"],
                group_name=f"WeChat · {account.name}",
            )
    elif account.kind == AccountKind.WECOM:
        result = wecom_client(account).external_contact.get_corp_tag_list()
        for group in result.get("tag_group") or []:
            for remote in group.get("tag") or []:
                created += _mirror_ensure(
                    account=account,
                    remote_id=str(remote["id"]),
                    remote_name=remote["name"],
                    group_name=f"WeCom · {group.get('group_name', '')}",
                    remote_group_id=str(group.get("group_id", "")),
                )
    return created


def tag_mirror_push(*, account: ChannelAccount, tag: Tag) -> dict[str, Any]:
    """Mirror one product tag and its members to the account; returns a report naming what the
    platform refused (`status` "ok", "partial" or "refused")."""
    report: dict[str, Any] = {"tag_id": tag.pk, "tag": str(tag), "status": "ok", "added": 0, "removed": 0, "errors": []}
    try:
        if account.kind == AccountKind.OA:
            _wechat_tag_push(account=account, tag=tag, report=report)
        elif account.kind == AccountKind.WECOM:
            _wecom_tag_push(account=account, tag=tag, report=report)
        else:
            report.update(
                status="refused", errors=[{"code": TagSyncErrorCode.TAG_MIRROR_UNSUPPORTED, "message": "mini-programs have no tags"}]
            )
    except WeChatClientException as exc:
        report["status"] = "refused" if not report["added"] else "partial"
        report["errors"].append({"code": str(exc.errcode), "message": str(exc.errmsg or "")})
    return report


def _members(account: ChannelAccount, tag: Tag) -> list[tuple[str, str]]:
    return list(
        ChannelIdentity.objects.filter(
            account=account,
            kind=account.identity_kind,
            follow_state=FollowState.FOLLOWING,
            customer__tag_links__tag=tag,
        ).values_list("external_id", "owner_staff_id")
    )


def _wechat_tag_push(*, account: ChannelAccount, tag: Tag, report: dict[str, Any]) -> None:

    client = wechat_client(account)
    mirror = TagMirror.objects.filter(account=account, tag=tag).first()
    if mirror is None:
        name = tag.name[:WECHAT_TAG_NAME_MAX]
        remote_tags = [t for t in client.tag.get() if int(t["id"]) not in WECHAT_RESERVED_TAG_IDS]
        same = next((t for t in remote_tags if t["name"] == name), None)
        if same is None and len(remote_tags) >= WECHAT_TAG_LIMIT:
            report["status"] = "refused"
            report["errors"].append(
                {
                    "code": TagSyncErrorCode.WECHAT_TAG_LIMIT,
                    "message": f"The account already has {len(remote_tags)} WeChat tags, the platform's limit is {WECHAT_TAG_LIMIT}.",
                }
            )
            return
        if same is None:
            try:
                same = client.tag.create(name)
            except WeChatClientException as exc:
                if exc.errcode != ERR_TOO_MANY_TAGS:
                    raise
                report["status"] = "refused"
                report["errors"].append(
                    {
                        "code": TagSyncErrorCode.WECHAT_TAG_LIMIT,
                        "message": f"WeChat refused a new tag: at most {WECHAT_TAG_LIMIT} per account.",
                    }
                )
                return
        mirror = TagMirror.objects.create(account=account, tag=tag, remote_id=str(same["id"]), remote_name=same["name"])
    remote_id = int(mirror.remote_id)
    wanted = {eid for eid, _ in _members(account, tag)}
    present: set[str] = set()
    next_openid = None
    while True:
        page = client.tag.get_tag_users(remote_id, next_openid)
        present.update((page.get("data") or {}).get("openid") or [])
        next_openid = page.get("next_openid") or None
        if not next_openid or not page.get("count"):
            break
    to_add, to_remove = sorted(wanted - present), sorted(present - wanted)
    over_limit: list[str] = []
    for start in range(0, len(to_add), WECHAT_TAGGING_BATCH):
        chunk = to_add[start : start + WECHAT_TAGGING_BATCH]
        try:
            client.tag.tag_user(remote_id, chunk)
            report["added"] += len(chunk)
        except WeChatClientException as exc:
            if exc.errcode != ERR_USER_TOO_MANY_TAGS:
                raise
            # Someone in the batch already has 20 tags: tag the others one by one to find them.
            for openid in chunk:
                try:
                    client.tag.tag_user(remote_id, [openid])
                    report["added"] += 1
                except WeChatClientException as one:
                    if one.errcode != ERR_USER_TOO_MANY_TAGS:
                        raise
                    over_limit.append(openid)
    for start in range(0, len(to_remove), WECHAT_TAGGING_BATCH):
        chunk = to_remove[start : start + WECHAT_TAGGING_BATCH]
        client.tag.untag_user(remote_id, chunk)
        report["removed"] += len(chunk)
    if over_limit:
        report["status"] = "partial"
        report["over_user_limit"] = over_limit
        report["errors"].append(
            {
                "code": TagSyncErrorCode.WECHAT_USER_TAG_LIMIT,
                "message": f"{len(over_limit)} followers already carry {WECHAT_TAGS_PER_USER} WeChat tags, the platform's limit per user.",
            }
        )
    report["remote_id"] = mirror.remote_id
    TagMirror.objects.filter(pk=mirror.pk).update(synced_at=timezone.now())


def _wecom_tag_push(*, account: ChannelAccount, tag: Tag, report: dict[str, Any]) -> None:

    client = wecom_client(account)
    mirror = TagMirror.objects.filter(account=account, tag=tag).first()
    if mirror is None:
        name = tag.name[:WECHAT_TAG_NAME_MAX]
        existing = None
        for group in client.external_contact.get_corp_tag_list().get("tag_group") or []:
            if group.get("group_name") == WECOM_TAG_GROUP:
                existing = next(
                    ({**t, "group_id": group.get("group_id", "")} for t in group.get("tag") or [] if t["name"] == name),
                    None,
                )
        if existing is None:
            result = client.external_contact.add_corp_tag(None, WECOM_TAG_GROUP, None, [{"name": name}])
            group = result.get("tag_group") or {}
            existing = {**(group.get("tag") or [{}])[0], "group_id": group.get("group_id", "")}
        mirror = TagMirror.objects.create(
            account=account,
            tag=tag,
            remote_id=str(existing["id"]),
            remote_name=existing.get("name", name),
            remote_group_id=str(existing["group_id"]),
        )
    skipped = []
    for external_id, staff in _members(account, tag):
        if not staff:
            skipped.append(external_id)
            continue
        client.external_contact.mark_tag(staff, external_id, add_tag=[mirror.remote_id])
        report["added"] += 1
    if skipped:
        report["status"] = "partial"
        report["errors"].append(
            {
                "code": TagSyncErrorCode.WECOM_NO_STAFF,
                "message": f"{len(skipped)} contacts have no known staff member to tag them through.",
            }
        )
    # WeCom's API has no per-tag member list; removals are mirrored when a contact is re-imported.
    report["remote_id"] = mirror.remote_id
    TagMirror.objects.filter(pk=mirror.pk).update(synced_at=timezone.now())


def tags_push_job_run(*, job: SyncJob) -> dict[str, Any]:
    """Push the job's tags (params.tag_ids) to its account; the report goes on the job."""
    tags = Tag.objects.filter(pk__in=job.params.get("tag_ids") or []).select_related("group")
    return {"tags": [tag_mirror_push(account=job.account, tag=tag) for tag in tags]}
