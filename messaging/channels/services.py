"""Writes of the channels feature: effects of send outcomes on customers, channel codes, sync jobs."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import AccountKind, ChannelAccount
from customers.models import Tag
from customers.selectors import identities_of_external_ids
from customers.services.consent import consent_credits_revoke
from customers.services.identity import Refusal, identity_record_refusal
from messaging.channels import wecom_media
from messaging.channels.base import OutboundMessage, SendOutcome
from messaging.channels.clients import wechat_client, wecom_client
from messaging.channels.errors import BLACKLISTED, NOT_FOLLOWING, USER_REFUSED, classify_exception
from messaging.channels.models import ChannelCode, ChannelCodeKind, SyncJob, SyncJobKind, SyncJobState
from messaging.errors import MessagingError
from scrm.errors import ApplicationError, Conflict

logger = logging.getLogger(__name__)

# --- send outcomes → customer state -----------------------------------------------------------


def send_outcomes_apply(
    *, account: ChannelAccount, message: OutboundMessage, outcomes: Iterable[tuple[str, SendOutcome]]
) -> None:
    """Apply what permanent send failures teach about customers: 43004 unfollowed, 43101 consent
    revoked, 43019 do-not-disturb. (Spending a consent credit on a send is the dispatcher's: it
    reserves the credit before sending.)"""
    by_code: dict[str, list[str]] = {}
    for external_id, outcome in outcomes:
        if outcome.status == "permanent" and outcome.error_code in _EFFECT_CODES:
            by_code.setdefault(outcome.error_code, []).append(external_id)
    if not by_code:
        return
    identities = identities_of_external_ids(account=account, external_ids={eid for eids in by_code.values() for eid in eids})
    now = timezone.now()
    for code, refusal in _REFUSALS.items():
        known = [identities[eid] for eid in by_code.get(code, ()) if eid in identities]
        identity_record_refusal(identity_ids=[pk for pk, _ in known], refusal=refusal, at=now)
    template_id = str(message.payload.get("template_id", ""))
    refused = [identities[eid] for eid in by_code.get(str(USER_REFUSED), ()) if eid in identities]
    if template_id and refused:
        consent_credits_revoke(account_id=account.pk, template_id=template_id, customer_ids=[cid for _, cid in refused])


_REFUSALS = {str(NOT_FOLLOWING): Refusal.UNFOLLOWED, str(BLACKLISTED): Refusal.DO_NOT_DISTURB}
_EFFECT_CODES = frozenset({*_REFUSALS, str(USER_REFUSED)})


# --- channel codes --------------------------------------------------------------------------------

QR_SCENE_MAX = 64
CONTACT_WAY_STATE_MAX = 30


def channel_code_for_scene(account: ChannelAccount, scene: str) -> ChannelCode | None:
    """The active channel code of `account` whose QR scene / contact-way state is `scene`
    (a `qrscene_` prefix, as in subscribe events, is accepted)."""
    if not scene:
        return None
    if scene.startswith("qrscene_"):
        scene = scene[len("qrscene_") :]
    return ChannelCode.objects.filter(account=account, scene=scene, is_active=True).prefetch_related("tags").first()


@transaction.atomic
def channel_code_create(
    *,
    account: ChannelAccount,
    name: str,
    scene: str,
    tag_ids: Iterable[int] = (),
    welcome_text: str = "",
    welcome_attachments: list | None = None,
    staff_userids: Iterable[str] = (),
) -> ChannelCode:
    """Create a parametric QR code (service account) or a contact-me way (WeCom) bound to tags;
    a contact-me way may welcome its new contacts with a text and attachments (welcome.py)."""

    staff = [s for s in staff_userids if s]
    if account.kind == AccountKind.OA:
        kind, limit = ChannelCodeKind.QR, QR_SCENE_MAX
    elif account.kind == AccountKind.WECOM:
        kind, limit = ChannelCodeKind.CONTACT_WAY, CONTACT_WAY_STATE_MAX
        if not staff:
            raise ApplicationError(code=MessagingError.CHANNEL_CODE_NO_STAFF)
    else:
        raise ApplicationError(code=MessagingError.CHANNEL_CODE_BAD_ACCOUNT)
    if not scene or len(scene) > limit:
        raise ApplicationError(
            gettext("The scene must have 1 to %(limit)s characters.") % {"limit": limit},
            code=MessagingError.CHANNEL_CODE_BAD_SCENE,
            detail={"max_length": limit},
        )
    attachments = wecom_media.attachments_validate(welcome_attachments)
    if attachments and kind != ChannelCodeKind.CONTACT_WAY:
        raise ApplicationError(gettext("Only WeCom contact-me ways send welcome attachments."), code=MessagingError.MEDIA_INVALID)
    tag_ids = list(dict.fromkeys(int(t) for t in tag_ids))
    tags = list(Tag.objects.filter(pk__in=tag_ids))
    if len(tags) != len(tag_ids):
        missing = sorted(set(tag_ids) - {t.pk for t in tags})
        raise ApplicationError(code=MessagingError.CHANNEL_CODE_UNKNOWN_TAGS, detail={"tag_ids": missing})
    try:
        with transaction.atomic():
            code = ChannelCode.objects.create(
                account=account,
                kind=kind,
                name=name,
                scene=scene,
                welcome_text=welcome_text,
                welcome_attachments=attachments,
                staff_userids=staff,
            )
    except IntegrityError:
        raise Conflict(code=MessagingError.CHANNEL_CODE_SCENE_TAKEN) from None
    code.tags.set(tags)
    # The row exists first; if WeChat refuses, the transaction rolls it back.
    try:
        if kind == ChannelCodeKind.QR:
            result = wechat_client(account).qrcode.create(
                {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}
            )
            code.ticket, code.url = result.get("ticket", ""), result.get("url", "")
        else:
            result = wecom_client(account).external_contact.add_contact_way(
                type=1 if len(staff) == 1 else 2, scene=2, remark=name[:30], skip_verify=True, state=scene, user=staff
            )
            code.config_id, code.url = result.get("config_id", ""), result.get("qr_code", "")
    except Exception as exc:
        outcome = classify_exception(exc)
        raise ApplicationError(
            code=MessagingError.CHANNEL_CODE_REMOTE_FAILED,
            detail={
                "errcode": outcome.error_code,
                "errmsg": outcome.error_message,
                "retryable": outcome.status == "retryable",
            },
        ) from exc
    code.save(update_fields=["ticket", "url", "config_id"])
    return code


# --- sync jobs --------------------------------------------------------------------------------------


def sync_job_start(*, account: ChannelAccount, kind: str, params: dict | None = None, user=None) -> SyncJob:
    """Create a sync job (or return the unfinished one of that kind) and enqueue its run."""
    from messaging.channels.tasks import sync_job_run_task  # the tasks module imports this one (through sync)

    allowed = {
        SyncJobKind.OA_FOLLOWERS: {AccountKind.OA},
        SyncJobKind.WECOM_CONTACTS: {AccountKind.WECOM},
        SyncJobKind.TAGS_PUSH: {AccountKind.OA, AccountKind.WECOM},
    }
    if kind not in allowed:
        raise ApplicationError(code=MessagingError.SYNC_BAD_KIND, detail={"kinds": list(allowed)})
    if account.kind not in allowed[kind]:
        raise ApplicationError(gettext("A %(kind)s job does not apply to this account.") % {"kind": kind}, code=MessagingError.SYNC_BAD_ACCOUNT)
    with transaction.atomic():
        job = SyncJob.objects.filter(
            account=account, kind=kind, state__in=[SyncJobState.PENDING, SyncJobState.RUNNING, SyncJobState.PAUSED]
        ).first()
        if job is None:
            try:
                with transaction.atomic():
                    job = SyncJob.objects.create(account=account, kind=kind, params=params or {}, created_by=user)
            except IntegrityError:
                job = SyncJob.objects.get(
                    account=account,
                    kind=kind,
                    state__in=[SyncJobState.PENDING, SyncJobState.RUNNING, SyncJobState.PAUSED],
                )
        job_id = job.pk
        transaction.on_commit(lambda: sync_job_run_task.delay(job_id))
    return job
