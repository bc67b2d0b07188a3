"""Writes on menus: create, save a version, publish to WeChat, unpublish. Reading WeChat's side
(menu/get, menu/trymatch) is in selectors.py."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext
from wechatpy.exceptions import WeChatClientException

from accounts.models import AccountKind, ChannelAccount
from customers.models import Segment, Tag
from menus.errors import MenuError
from menus.models import Menu, MenuVersion
from menus.segment_tags import segment_tag_sync
from menus.validation import link_domains, menu_problems, wechat_buttons
from menus.wechat import NO_SUCH_CONDITIONAL_MENU, wechat_call, wechat_refusal
from messaging.channels.clients import wechat_client
from scrm.errors import ApplicationError, Conflict


def menu_create(*, account: ChannelAccount, name: str, segment: Segment | None = None) -> Menu:
    """A new menu of a service account: the default one (no segment) or a segment's conditional menu."""
    if account.kind != AccountKind.OA:
        raise ApplicationError(code=MenuError.MENU_BAD_ACCOUNT)
    if Menu.objects.filter(account=account, segment=segment).exists():
        raise Conflict(code=MenuError.MENU_EXISTS)
    return Menu.objects.create(account=account, segment=segment, name=name)


def menu_rename(*, menu: Menu, name: str) -> Menu:
    Menu.objects.filter(pk=menu.pk).update(name=name, updated_at=timezone.now())
    menu.refresh_from_db()
    return menu


def _other_conditional_domains(menu: Menu) -> set[str]:
    domains: set[str] = set()
    others = Menu.objects.filter(account_id=menu.account_id, segment__isnull=False, published_version__isnull=False).exclude(pk=menu.pk)
    for version in MenuVersion.objects.filter(pk__in=others.values("published_version")):
        domains |= link_domains(version.buttons)
    return domains


def _referenced_tag_ids(buttons: list[dict]) -> set[int]:
    ids: set[int] = set()
    for item in buttons:
        action = item.get("action") or {}
        ids.update(action.get("tag_ids") or [])
        ids.update(action.get("topic_ids") or [])
        ids.update(item.get("topics") or [])
        ids |= _referenced_tag_ids(item.get("sub_button") or [])
    return ids


def menu_check(*, menu: Menu, buttons: Any) -> None:
    """Raise MENU_INVALID listing every limit the buttons break (WeChat's and the routing rules)."""
    problems = menu_problems(buttons, conditional=not menu.is_default, other_conditional_domains=_other_conditional_domains(menu))
    if not problems:
        referenced = _referenced_tag_ids(buttons)
        unknown = referenced - set(Tag.objects.filter(pk__in=referenced).values_list("pk", flat=True))
        if unknown:
            problems.append(
                {"path": "button", "limit": "unknown_tags", "message": gettext("Unknown tag ids: %(ids)s.") % {"ids": ", ".join(map(str, sorted(unknown)))}}
            )
    if problems:
        raise ApplicationError(problems[0]["message"], code=MenuError.MENU_INVALID, detail={"problems": problems})


@transaction.atomic
def menu_version_save(*, menu: Menu, buttons: Any, note: str = "", user=None) -> MenuVersion:
    """Check the buttons and keep them as the menu's next version (nothing is sent to WeChat)."""
    menu_check(menu=menu, buttons=buttons)
    Menu.objects.select_for_update().filter(pk=menu.pk).first()  # version numbers in order
    number = (MenuVersion.objects.filter(menu=menu).aggregate(n=Max("number"))["n"] or 0) + 1
    Menu.objects.filter(pk=menu.pk).update(updated_at=timezone.now())
    return MenuVersion.objects.create(menu=menu, number=number, buttons=buttons, note=note[:200], created_by=user)


def menu_publish(*, menu: Menu, version: MenuVersion | None = None) -> Menu:
    """Publish a version (the newest by default): menu/create for the default menu; for a segment's
    menu, sync its tag, menu/addconditional with that tag, then delconditional the one it replaces."""
    version = version or menu.versions.order_by("-number").first()
    if version is None or version.menu_id != menu.pk:
        raise Conflict(code=MenuError.MENU_NO_VERSION)
    # Limits may have changed since the version was saved (other conditional menus' domains).
    menu_check(menu=menu, buttons=version.buttons)
    client = wechat_client(menu.account)
    body = {"button": wechat_buttons(version.buttons)}
    now = timezone.now()
    if menu.is_default:
        wechat_call(client.post, "menu/create", data=body)
        fields = {"published_version": version, "published_at": now}
    else:
        if not Menu.objects.filter(account_id=menu.account_id, segment__isnull=True, published_version__isnull=False).exists():
            raise Conflict(code=MenuError.MENU_NO_DEFAULT)
        tag_id = wechat_call(segment_tag_sync, menu=menu)
        result = wechat_call(client.post, "menu/addconditional", data={**body, "matchrule": {"tag_id": tag_id}})
        replaced = menu.wechat_menuid
        fields = {"published_version": version, "published_at": now, "wechat_menuid": str(result.get("menuid", "")), "wechat_tag_id": tag_id}
        Menu.objects.filter(pk=menu.pk).update(**fields)
        if replaced:
            # After the new one exists (WeChat matches the newest first), so no follower falls back meanwhile.
            try:
                client.post("menu/delconditional", data={"menuid": replaced})
            except WeChatClientException as exc:
                if exc.errcode != NO_SUCH_CONDITIONAL_MENU:  # already gone
                    raise wechat_refusal(exc) from exc
    MenuVersion.objects.filter(pk=version.pk, published_at__isnull=True).update(published_at=now)
    Menu.objects.filter(pk=menu.pk).update(**fields)
    menu.refresh_from_db()
    return menu


def menu_unpublish(*, menu: Menu) -> Menu:
    """Take the menu off WeChat. The default menu goes with every conditional one (menu/delete
    removes them all, as WeChat does), so they are all marked unpublished."""
    client = wechat_client(menu.account)
    cleared = {"published_version": None, "published_at": None, "wechat_menuid": "", "wechat_tag_id": ""}
    if menu.is_default:
        wechat_call(client.post, "menu/delete", data={})
        Menu.objects.filter(account_id=menu.account_id).update(**cleared)
    elif menu.wechat_menuid:
        try:
            client.post("menu/delconditional", data={"menuid": menu.wechat_menuid})
        except WeChatClientException as exc:
            if exc.errcode != NO_SUCH_CONDITIONAL_MENU:
                raise wechat_refusal(exc) from exc
        Menu.objects.filter(pk=menu.pk).update(**cleared)
    else:
        Menu.objects.filter(pk=menu.pk).update(**cleared)
    menu.refresh_from_db()
    return menu


def menu_delete(*, menu: Menu) -> None:
    if menu.published_version_id:
        raise Conflict(code=MenuError.MENU_PUBLISHED)
    menu.delete()
