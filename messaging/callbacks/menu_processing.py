"""Menu events (CLICK, VIEW, view_miniprogram, the scan / photo / location menu events): one
engagement event with the menu item, after the handlers registered in messaging.menu_events named
the item and routed a click to its action (menus.routing)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from messaging.callbacks.parsing import as_int
from messaging.menu_events import MENU_EVENT_TYPES, MenuInteraction, menu_interaction_dispatch

if TYPE_CHECKING:
    from customers.models import ChannelIdentity
    from messaging.callbacks.processing import Context


def _menu_details(ctx: Context) -> dict[str, Any]:
    """What a scan, photo or location menu event carries besides its key."""
    details: dict[str, Any] = {}
    scan = ctx.fields.get("ScanCodeInfo")
    if isinstance(scan, dict):
        details["scan_type"] = str(scan.get("ScanType") or "")[:32]
        details["scan_result"] = str(scan.get("ScanResult") or "")[:500]
    pics = ctx.fields.get("SendPicsInfo")
    if isinstance(pics, dict):
        details["pic_count"] = as_int(pics.get("Count"))
    location = ctx.fields.get("SendLocationInfo")
    if isinstance(location, dict):
        details["location"] = {
            name: str(location.get(field) or "")[:200]
            for name, field in (("x", "Location_X"), ("y", "Location_Y"), ("label", "Label"), ("poi", "Poiname"))
        }
    return details


def menu_event(ctx: Context, identity: ChannelIdentity) -> None:
    """CLICK, VIEW, view_miniprogram and the scan / photo / location menu events: one engagement
    event with the menu item (the handlers registered in messaging.menu_events name it and route a
    click to its action)."""
    event = ctx.text("Event")
    key = ctx.text("EventKey")
    properties: dict[str, Any] = {"url": key[:1000]} if event == "VIEW" else {"key": key[:200]}
    if ctx.text("MenuId"):
        properties["menu_id"] = ctx.text("MenuId")
    details = _menu_details(ctx)
    properties.update(details)
    properties.update(
        menu_interaction_dispatch(
            MenuInteraction(
                account_id=ctx.account.pk,
                customer_id=identity.customer_id,
                openid=ctx.openid,
                event=event,
                key=key,
                occurred_at=ctx.at,
                dedupe_key=ctx.dedupe(),
                menu_id=ctx.text("MenuId"),
                details=details,
            )
        )
    )
    ctx.event(identity, MENU_EVENT_TYPES[event], properties)
