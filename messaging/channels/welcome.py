"""WeCom welcome messages: the answer to an add_external_contact event, on its own fast lane.

WeCom's `welcome_code` works once and only within 20 seconds of the event (发送新客户欢迎语,
https://developer.work.weixin.qq.com/document/path/92599). So the welcome is not left to the
`callbacks` queue, where it would wait behind any backlog and behind the `externalcontact/get`
round trip of the contact's processing: once the callback's row is committed, the callback path
publishes `welcome_send_task` to the `welcome` queue, served by its own worker. The task needs
nothing but the stored callback and the channel code (by the contact way's `state`), so it sends
at once; the contact itself is processed on `callbacks` as before.

Outcomes, one WelcomeMessage row per welcome code (made before WeCom is called):
- sent;
- expired: WeCom answered 41051 — the documented answer when the welcome was already delivered
  (page 92599: "如果欢迎语已成功下发给客户，应用再调用该接口时，将返回41051"); WeCom documents no
  separate code for an expired welcome_code, and answers it with 41051 as well — or the 20 seconds
  had passed before we could call: recorded, never retried;
- failed: any other refusal.
41096 (another app of the corp is sending the welcome; it may still fail, so the page says retry),
WeCom being busy and network errors are retried within the 20 seconds only; a 40007 (a cached
media_id WeCom no longer knows) uploads the files again once.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import AccountKind
from messaging.callbacks.models import InboundMessage
from messaging.channels import wecom_media
from messaging.channels.clients import wecom_client
from messaging.channels.errors import classify_exception
from messaging.channels.models import ChannelCode, WelcomeMessage, WelcomeState
from messaging.errors import SendErrorCode

logger = logging.getLogger(__name__)

WELCOME_WINDOW = timedelta(seconds=20)
WELCOME_CODE_USED = 41051
WELCOME_BEING_SENT = 41096
# Pause between attempts inside the window (WeCom busy, another app sending, network).
RETRY_PAUSE_SECONDS = 1.0
# A row left `sending` longer than this (worker killed mid-call) may be tried again while the
# window lasts; WeCom's once-only code keeps a second delivery from happening.
SENDING_STALE = timedelta(seconds=5)
TEXT_MAX_BYTES = 4000  # text.content, page 92599


def _present(fields: dict[str, Any], name: str) -> bool:
    return isinstance(fields.get(name), str) and bool(fields[name].strip())


def is_welcome_event(fields: dict[str, Any]) -> bool:
    """An add_external_contact (or half) event carrying a welcome code and a contact-way `state`: a
    welcome is configured per channel code, so an add without a state has none to send."""
    return (
        fields.get("Event") == "change_external_contact"
        and fields.get("ChangeType") in ("add_external_contact", "add_half_external_contact")
        and _present(fields, "WelcomeCode")
        and _present(fields, "State")
    )


def welcome_content(code: ChannelCode | None) -> tuple[str, list[dict]]:
    """(text, attachment specs) a channel code welcomes with; both empty when it has none."""
    if code is None:
        return "", []
    return code.welcome_text or "", list(code.welcome_attachments or [])


def welcome_send(*, inbound_id: int) -> str:
    """Send the welcome message of a stored add_external_contact callback, once; returns the outcome
    (sent, expired, failed, or why nothing was done: no_welcome, already, not_wecom)."""
    inbound = InboundMessage.objects.select_related("account").filter(pk=inbound_id).first()
    if inbound is None or inbound.account.kind != AccountKind.WECOM or not is_welcome_event(inbound.parsed or {}):
        return "not_wecom"
    fields = inbound.parsed
    account = inbound.account
    state = fields.get("State") if isinstance(fields.get("State"), str) else ""
    code = ChannelCode.objects.filter(account=account, scene=state.strip(), is_active=True).first() if state.strip() else None
    text, specs = welcome_content(code)
    if not text and not specs:
        return "no_welcome"
    message = _claim(inbound, code, fields)
    if message is None:
        return "already"
    deadline = inbound.received_at + WELCOME_WINDOW
    return _send_within(message, account, fields["WelcomeCode"].strip(), text, specs, deadline)


def _claim(inbound: InboundMessage, code: ChannelCode | None, fields: dict[str, Any]) -> WelcomeMessage | None:
    """The row of this welcome code, if this call may send it (new, or `sending` and abandoned)."""
    welcome_code = fields["WelcomeCode"].strip()
    now = timezone.now()
    try:
        with transaction.atomic():
            return WelcomeMessage.objects.create(
                account_id=inbound.account_id,
                welcome_code=welcome_code,
                inbound=inbound,
                channel_code=code,
                staff_userid=str(fields.get("UserID") or "")[:64],
                external_userid=str(fields.get("ExternalUserID") or "")[:128],
                state=WelcomeState.SENDING,
                attempts=1,
                event_received_at=inbound.received_at,
            )
    except IntegrityError:
        pass
    taken = WelcomeMessage.objects.filter(
        account_id=inbound.account_id, welcome_code=welcome_code, state=WelcomeState.SENDING, updated_at__lt=now - SENDING_STALE
    ).update(updated_at=now, attempts=F("attempts") + 1)
    if not taken:
        return None
    return WelcomeMessage.objects.get(account_id=inbound.account_id, welcome_code=welcome_code)


def _send_within(message: WelcomeMessage, account, welcome_code: str, text: str, specs: list[dict], deadline) -> str:
    reuploaded = False
    first = True
    while True:
        if timezone.now() >= deadline:
            return _finish(message, WelcomeState.EXPIRED, SendErrorCode.WELCOME_WINDOW_PASSED, "20 s passed")
        if not first:  # the claim counted the first attempt
            message.attempts += 1
            WelcomeMessage.objects.filter(pk=message.pk).update(attempts=message.attempts, updated_at=timezone.now())
        first = False
        attachments: list[dict] = []
        try:
            attachments = wecom_media.attachments_render(account, specs)
            body: dict[str, Any] = {"welcome_code": welcome_code}
            if text:
                body["text"] = {"content": _truncate(text, TEXT_MAX_BYTES)}
            if attachments:
                body["attachments"] = attachments
            wecom_client(account).post("externalcontact/send_welcome_msg", data=body)
        except Exception as exc:  # classify_exception re-raises what it does not know
            outcome = classify_exception(exc)
            errcode = outcome.error_code
            if errcode == str(WELCOME_CODE_USED):
                return _finish(message, WelcomeState.EXPIRED, errcode, outcome.error_message)
            if errcode == str(wecom_media.MEDIA_ID_INVALID) and not reuploaded:
                reuploaded = True
                wecom_media.media_invalidate(account, wecom_media.rendered_media_ids(attachments))
                continue
            if outcome.status == "retryable" or errcode == str(WELCOME_BEING_SENT):
                logger.info("welcome %s: %s, trying again within the window", message.pk, errcode)
                time.sleep(min(RETRY_PAUSE_SECONDS, max((deadline - timezone.now()).total_seconds(), 0)))
                continue
            return _finish(message, WelcomeState.FAILED, errcode, outcome.error_message)
        return _finish(message, WelcomeState.SENT, "", "")


def _finish(message: WelcomeMessage, state: str, error_code: str, error_message: str) -> str:
    now = timezone.now()
    WelcomeMessage.objects.filter(pk=message.pk).update(
        state=state,
        error_code=str(error_code)[:32],
        error_message=str(error_message)[:255],
        sent_at=now if state == WelcomeState.SENT else None,
        updated_at=now,
    )
    if state != WelcomeState.SENT:
        logger.warning("welcome message %s of account %s %s (%s)", message.pk, message.account_id, state, error_code)
    return str(state)


def _truncate(text: str, limit: int) -> str:
    data = text.encode()
    return text if len(data) <= limit else data[:limit].decode(errors="ignore")


def welcome_enqueue(*, inbound_id: int) -> bool:
    """Hand a committed add_external_contact callback to the `welcome` queue (one quick broker
    attempt); False when the broker could not be reached — the callbacks worker then sends it."""
    from messaging.channels.tasks import welcome_send_task  # the tasks module imports this one

    try:
        if welcome_send_task.app.conf.task_always_eager:
            welcome_send_task.apply_async(args=[inbound_id])
            return True
        with welcome_send_task.app.pool.acquire(block=True) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.05, timeout=1.0)
            welcome_send_task.apply_async(args=[inbound_id], connection=connection, retry=False)
    except Exception as exc:  # kombu/transport errors of any broker
        logger.warning("welcome of inbound %s not enqueued (%s); the callbacks worker will send it", inbound_id, type(exc).__name__)
        return False
    return True


# Hourly (scrm/celery.py), the welcome attachments' media_ids that would be too old within this
# lookahead are uploaded again ahead of time, so that a welcome rarely uploads inside its 20 s.
MEDIA_REFRESH_AHEAD = timedelta(hours=2)


def welcome_media_refresh() -> int:
    """Upload again the media of active contact-me ways' welcome attachments that is about to age out;
    returns how many channel codes were refreshed (failures are logged: the send path uploads anyway)."""
    refreshed = 0
    ahead = timezone.now() + MEDIA_REFRESH_AHEAD
    codes = ChannelCode.objects.select_related("account").filter(is_active=True, account__is_active=True).exclude(welcome_attachments=[])
    for code in codes:
        try:
            wecom_media.attachments_render(code.account, code.welcome_attachments, now=ahead)
        except Exception as exc:  # classify_exception re-raises what it does not know
            logger.warning("welcome media of channel code %s not refreshed: %s", code.pk, classify_exception(exc).error_code)
            continue
        refreshed += 1
    return refreshed
