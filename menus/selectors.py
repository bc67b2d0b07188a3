"""Reads on menus, and what WeChat holds: menu/get (read back) and menu/trymatch (what one follower sees)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext
from wechatpy.exceptions import WeChatClientException

from accounts.models import ChannelAccount
from customers.models import ChannelIdentity, FollowState
from menus.errors import MenuError
from menus.models import Menu, MenuVersion
from menus.validation import wechat_buttons
from menus.wechat import NO_MENU, wechat_call, wechat_refusal
from messaging.channels.clients import wechat_client
from scrm.errors import ApplicationError


def menu_list(*, account_id: int | None = None) -> QuerySet[Menu]:
    menus = Menu.objects.select_related("segment", "published_version").order_by("account_id", "segment_id", "id")
    return menus.filter(account_id=account_id) if account_id else menus


def menu_versions(*, menu: Menu) -> QuerySet[MenuVersion]:
    return MenuVersion.objects.filter(menu=menu).select_related("created_by").order_by("-number")


def published_versions(*, account_id: int) -> list[tuple[Menu, MenuVersion]]:
    """The account's published menus with their versions: conditional ones newest first, the default last."""
    menus = Menu.objects.filter(account_id=account_id, published_version__isnull=False).select_related("published_version")
    ordered = sorted(menus, key=lambda m: (m.segment_id is None, -(m.published_at.timestamp() if m.published_at else 0)))
    return [(m, m.published_version) for m in ordered]


def menu_wechat_state(*, account: ChannelAccount) -> dict[str, Any]:
    """What WeChat holds for the account (menu/get): {"menu": {...}, "conditionalmenu": [...]}, or {} for none."""
    client = wechat_client(account)
    try:
        return client.get("menu/get")
    except WeChatClientException as exc:
        if exc.errcode == NO_MENU:
            return {}
        raise wechat_refusal(exc) from exc


def _comparable(buttons: list[dict]) -> list[dict]:
    return [{k: (_comparable(v) if k == "sub_button" else v) for k, v in b.items() if not (k == "sub_button" and not v)} for b in buttons]


def menu_preview_for_customer(*, account: ChannelAccount, customer_id: int) -> dict[str, Any]:
    """The menu WeChat shows one follower (menu/trymatch with their openid), and which of ours it is."""
    identity = (
        ChannelIdentity.objects.filter(account=account, customer_id=customer_id, follow_state=FollowState.FOLLOWING)
        .order_by("-id")
        .first()
    )
    if identity is None:
        raise ApplicationError(gettext("The customer does not follow this account."), code=MenuError.MENU_CUSTOMER_NOT_FOLLOWER)
    result = wechat_call(wechat_client(account).post, "menu/trymatch", data={"user_id": identity.external_id})
    buttons = result.get("button") or []
    # trymatch answers the buttons only: find which published menu they are.
    wanted = _comparable(buttons)
    matched = next((menu for menu, version in published_versions(account_id=account.pk) if _comparable(wechat_buttons(version.buttons)) == wanted), None)
    return {
        "openid": identity.external_id,
        "button": buttons,
        "menu_id": matched.pk if matched else None,
        "menu_name": matched.name if matched else "",
        "segment_id": matched.segment_id if matched else None,
    }
