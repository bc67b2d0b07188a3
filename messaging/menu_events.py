"""Menu interactions learned by the inbound loop (CLICK, VIEW, view_miniprogram, the scan, photo and
location menu events), handed to whoever registered for them.

messaging/ must not import menus/, so menus registers its handler at start-up
(menus.apps.MenusConfig.ready). The handler runs inside the transaction that processes the callback
(so its effects happen once) and answers the properties to record on the interaction's engagement
event (which menu, version, item and segment it came from).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# WeChat's menu event names (自定义菜单事件推送) → the engagement event type recorded for each.
MENU_EVENT_TYPES: dict[str, str] = {
    "CLICK": "wechat.click",
    "VIEW": "wechat.view",
    "view_miniprogram": "wechat.view_miniprogram",
    "scancode_push": "wechat.scancode_push",
    "scancode_waitmsg": "wechat.scancode_waitmsg",
    "pic_sysphoto": "wechat.pic_sysphoto",
    "pic_photo_or_album": "wechat.pic_photo_or_album",
    "pic_weixin": "wechat.pic_weixin",
    "location_select": "wechat.location_select",
}


@dataclass(frozen=True)
class MenuInteraction:
    account_id: int
    customer_id: int
    openid: str
    event: str  # a key of MENU_EVENT_TYPES
    # EventKey: the click key (click, scan, photo, location), the URL (VIEW) or the page path (view_miniprogram).
    key: str
    occurred_at: datetime
    dedupe_key: str
    menu_id: str = ""  # MenuId, when WeChat names the menu (VIEW / view_miniprogram of a conditional menu)
    details: dict[str, Any] = field(default_factory=dict)


MenuInteractionHandler = Callable[[MenuInteraction], dict[str, Any] | None]
_handlers: list[MenuInteractionHandler] = []


def register_menu_interaction_handler(handler: MenuInteractionHandler) -> None:
    if handler not in _handlers:
        _handlers.append(handler)


def menu_interaction_dispatch(interaction: MenuInteraction) -> dict[str, Any]:
    """Run every handler; their answers merged are the properties to add to the engagement event."""
    properties: dict[str, Any] = {}
    for handler in _handlers:
        properties.update(handler(interaction) or {})
    return properties
