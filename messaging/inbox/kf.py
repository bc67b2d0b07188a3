"""WeChat's own customer-service (kf) accounts of a service account, mirrored in `KfAccount`, and the
sessions that hand a customer's conversation to one of them (docs/service-entry.md, "WeChat's kf
accounts"). Every write calls WeChat first and mirrors what WeChat accepted; `kf_accounts_sync`
reads the whole list back (accounts added in WeChat's own console included).

WeChat's pages: 客服账号管理 (api_addkfaccount, api_updatekfaccount, api_delkfaccount,
api_uploadkfheadimg, api_getkflist, api_getonlinekflist) and 会话控制 (api_createkfsession,
api_closesession) under https://developers.weixin.qq.com/doc/service/api/customer/ — the sandbox
(messaging/sandbox/handlers/customservice.py) cites each one.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from requests import RequestException
from wechatpy.exceptions import WeChatClientException

from accounts.models import AccountKind, ChannelAccount
from messaging.channels.clients import wechat_client
from messaging.errors import MessagingError
from messaging.inbox.models import Conversation, KfAccount
from scrm.errors import ApplicationError

PREFIX_RE = re.compile(r"^[A-Za-z0-9_]{1,10}$")
SUFFIX_CHARS = 30
NICKNAME_CHARS = 16
MAX_KF_ACCOUNTS = 100
HEADIMG_MAX_BYTES = 5 * 1024 * 1024  # our own bound on an upload; WeChat's pages name none
# WeChat's answers an operator can act on (409 with the errcode and what it means).
KNOWN_REFUSALS = {
    65400: _("The new customer service is not enabled for this account in WeChat's console."),
    65401: _("WeChat does not know this kf account."),
    65402: _("The kf account is not bound to a WeChat user yet: it cannot take sessions."),
    65403: _("WeChat refused the nickname."),
    65404: _("WeChat refused the kf account (its suffix must be the service account's WeChat ID)."),
    65405: _("The account has WeChat's maximum of 100 kf accounts."),
    65406: _("This kf account exists already in WeChat."),
    65413: _("The customer has no session with this kf account."),
    65414: _("Another kf account is serving this customer."),
    65415: _("The kf account is not online."),
    40003: _("The customer is not a follower of this account."),
}


def _url(account: ChannelAccount, path: str) -> str:
    # The customer-service APIs live beside cgi-bin, not under it (customservice/kfaccount/add).
    return account.resolved_api_base_url + path


def _call(account: ChannelAccount, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    client = wechat_client(account)
    try:
        return getattr(client, method)(_url(account, path), **kwargs)
    except WeChatClientException as exc:
        errcode = int(exc.errcode) if str(exc.errcode).lstrip("-").isdigit() else exc.errcode
        meaning = KNOWN_REFUSALS.get(errcode)
        detail = {"errcode": errcode, "errmsg": str(exc.errmsg or "")}
        if meaning is None:
            raise ApplicationError(gettext("WeChat refused the call: %(errcode)s %(errmsg)s") % detail, code=MessagingError.KF_UNAVAILABLE, detail=detail) from exc
        raise ApplicationError(str(meaning), code=MessagingError.KF_REFUSED, detail=detail) from exc
    except RequestException as exc:
        raise ApplicationError(code=MessagingError.KF_UNAVAILABLE, detail={"error": type(exc).__name__}, status_code=503) from exc


def _service_account(account: ChannelAccount) -> None:
    if account.kind != AccountKind.OA:
        raise ApplicationError(code=MessagingError.KF_BAD_ACCOUNT)


def kf_account_problems(*, kf_account: str | None = None, nickname: str | None = None) -> list[dict[str, str]]:
    """WeChat's rules checked before calling it: [{"field", "limit", "message"}] (empty when valid)."""
    problems = []
    if kf_account is not None:
        prefix, at, suffix = kf_account.partition("@")
        if not at or not PREFIX_RE.match(prefix) or not suffix or len(suffix) > SUFFIX_CHARS or "@" in suffix:
            problems.append({"field": "kf_account", "limit": "kf_account_format", "message": gettext(
                "“%(value)s” is not prefix@WeChat ID: the prefix is 1–10 letters, digits or underscores, the WeChat ID at most 30 characters."
            ) % {"value": kf_account}})
    if nickname is not None and (not nickname.strip() or len(nickname) > NICKNAME_CHARS):
        problems.append({"field": "nickname", "limit": "nickname_chars", "message": gettext(
            "The nickname must have 1–16 characters (“%(value)s” has %(count)s)."
        ) % {"value": nickname, "count": len(nickname)}})
    return problems


def _validate(**fields: str | None) -> None:
    problems = kf_account_problems(**fields)
    if problems:
        raise ApplicationError(problems[0]["message"], code=MessagingError.KF_INVALID, detail={"problems": problems})


def kf_account_add(*, account: ChannelAccount, kf_account: str, nickname: str) -> KfAccount:
    _service_account(account)
    _validate(kf_account=kf_account, nickname=nickname)
    if KfAccount.objects.filter(account=account, kf_account=kf_account).exists():
        raise ApplicationError(code=MessagingError.KF_EXISTS)
    if KfAccount.objects.filter(account=account).count() >= MAX_KF_ACCOUNTS:
        raise ApplicationError(str(KNOWN_REFUSALS[65405]), code=MessagingError.KF_INVALID, detail={"problems": [{"field": "kf_account", "limit": "kf_accounts_count"}]})
    _call(account, "post", "customservice/kfaccount/add", data={"kf_account": kf_account, "nickname": nickname})
    kf, _ = KfAccount.objects.update_or_create(account=account, kf_account=kf_account, defaults={"nickname": nickname})
    return kf


def kf_account_update(*, kf: KfAccount, nickname: str) -> KfAccount:
    _validate(nickname=nickname)
    _call(kf.account, "post", "customservice/kfaccount/update", data={"kf_account": kf.kf_account, "nickname": nickname})
    KfAccount.objects.filter(pk=kf.pk).update(nickname=nickname)
    kf.nickname = nickname
    return kf


def kf_account_delete(*, kf: KfAccount) -> None:
    _call(kf.account, "post", "customservice/kfaccount/del", data={"kf_account": kf.kf_account})
    with transaction.atomic():
        Conversation.objects.filter(account_id=kf.account_id, kf_account=kf.kf_account).update(kf_account="", kf_since=None)
        kf.delete()


def kf_account_upload_headimg(*, kf: KfAccount, data: bytes, filename: str = "avatar.jpg") -> KfAccount:
    if not data or len(data) > HEADIMG_MAX_BYTES or not data.startswith(b"\xff\xd8"):
        raise ApplicationError(gettext("The avatar must be a jpg image of at most 5 MB."), code=MessagingError.KF_INVALID,
                               detail={"problems": [{"field": "media", "limit": "headimg_jpg"}]})
    _call(kf.account, "post", "customservice/kfaccount/uploadheadimg", params={"kf_account": kf.kf_account},
          files={"media": (filename, data, "image/jpeg")})
    kf_accounts_sync(account=kf.account)
    kf.refresh_from_db()
    return kf


def kf_accounts_sync(*, account: ChannelAccount) -> dict[str, int]:
    """Mirror WeChat's list (getkflist) and who is online (getonlinekflist); kf accounts WeChat no
    longer has are removed. Returns {"accounts", "online", "removed"}."""
    _service_account(account)
    listed = _call(account, "get", "cgi-bin/customservice/getkflist").get("kf_list") or []
    online = {o.get("kf_account"): o for o in _call(account, "get", "cgi-bin/customservice/getonlinekflist").get("kf_online_list") or []}
    now = timezone.now()
    with transaction.atomic():
        seen = []
        for entry in listed:
            name = str(entry.get("kf_account") or "")[:41]
            if not name:
                continue
            seen.append(name)
            status = online.get(name) or {}
            KfAccount.objects.update_or_create(account=account, kf_account=name, defaults={
                "nickname": str(entry.get("kf_nick") or "")[:16], "kf_id": str(entry.get("kf_id") or "")[:20],
                "headimgurl": str(entry.get("kf_headimgurl") or "")[:500], "kf_wx": str(entry.get("kf_wx") or "")[:64],
                "invite_wx": str(entry.get("invite_wx") or "")[:64], "invite_status": str(entry.get("invite_status") or "")[:10],
                "online": bool(status.get("status")), "accepted_case": int(status.get("accepted_case") or 0), "synced_at": now,
            })
        removed, _ = KfAccount.objects.filter(account=account).exclude(kf_account__in=seen).delete()
    return {"accounts": len(seen), "online": sum(1 for n in seen if online.get(n, {}).get("status")), "removed": removed}


# --- sessions -------------------------------------------------------------------------------------


def kf_conversation_hold(*, conversation_id: int, kf_account: str, at) -> None:
    """The conversation is held by `kf_account` from `at` (a session created or switched to it)."""
    Conversation.objects.filter(pk=conversation_id).update(kf_account=kf_account[:41], kf_since=at)


def kf_conversation_release(*, conversation_id: int, kf_account: str = "") -> bool:
    """The kf session ended; only the kf holding it releases it (an older close changes nothing)."""
    qs = Conversation.objects.filter(pk=conversation_id)
    if kf_account:
        qs = qs.filter(kf_account=kf_account)
    return bool(qs.update(kf_account="", kf_since=None))


def kf_session_create(*, conversation: Conversation, kf: KfAccount) -> Conversation:
    """Hand the customer to a kf account (kfsession/create). WeChat then posts kf_create_session,
    which records the same holding (idempotent)."""
    if kf.account_id != conversation.account_id:
        raise ApplicationError(code=MessagingError.KF_UNKNOWN)
    _call(kf.account, "post", "customservice/kfsession/create", data={"kf_account": kf.kf_account, "openid": conversation.identity.external_id})
    kf_conversation_hold(conversation_id=conversation.pk, kf_account=kf.kf_account, at=timezone.now())
    conversation.refresh_from_db()
    return conversation


def kf_session_close(*, conversation: Conversation) -> Conversation:
    if not conversation.kf_account:
        raise ApplicationError(code=MessagingError.KF_NO_SESSION)
    _call(conversation.account, "post", "customservice/kfsession/close",
          data={"kf_account": conversation.kf_account, "openid": conversation.identity.external_id})
    kf_conversation_release(conversation_id=conversation.pk, kf_account=conversation.kf_account)
    conversation.refresh_from_db()
    return conversation


def kf_wechat_session(*, conversation: Conversation) -> dict[str, Any]:
    """What WeChat says of the customer's session (kfsession/getsession): {"kf_account", "createtime"}."""
    return _call(conversation.account, "get", "customservice/kfsession/getsession", params={"openid": conversation.identity.external_id})
