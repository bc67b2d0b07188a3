"""A segment behind a conditional menu, mirrored to a WeChat tag and kept in sync.

WeChat matches conditional menus by user tag only (rules on gender, region, platform or language
are refused with 65320: 创建个性化菜单,
https://developers.weixin.qq.com/doc/service/api/custommenu/api_addconditionalmenu). So each such
segment gets a product tag holding exactly its members (customers' services write it), and
messaging's tag sync (messaging.channels.tagsync) mirrors that tag and its members to WeChat; the
menu's matchrule names the WeChat tag id. A periodic task re-syncs every published conditional menu,
so members who join or leave the segment see the right menu (WeChat refreshes a follower's menu when
they open the chat, at most every 5 minutes).
"""

from __future__ import annotations

import logging

from django.utils.translation import gettext

from customers.segments.selectors import segment_customer_queryset
from customers.services.tags import tag_ensure, tag_members_replace
from menus.errors import MenuError
from menus.models import Menu
from messaging.channels.tagsync import WECHAT_TAG_NAME_MAX, tag_mirror_push
from scrm.errors import ApplicationError

logger = logging.getLogger(__name__)

SEGMENT_TAG_GROUP = "菜单人群"


def segment_tag_sync(*, menu: Menu) -> str:
    """Refresh the tag of the menu's segment and push it to WeChat; returns the WeChat tag id."""
    segment = menu.segment
    tag = menu.segment_tag or tag_ensure(group_name=SEGMENT_TAG_GROUP, name=f"菜单·{segment.name}"[:WECHAT_TAG_NAME_MAX])
    if menu.segment_tag_id != tag.pk:
        Menu.objects.filter(pk=menu.pk).update(segment_tag=tag)
        menu.segment_tag = tag
    tag_members_replace(tag_id=tag.pk, customers=segment_customer_queryset(segment))
    report = tag_mirror_push(account=menu.account, tag=tag)
    if report["status"] == "refused" or "remote_id" not in report:
        raise ApplicationError(
            gettext("The segment could not be mirrored to a WeChat tag: %(errors)s")
            % {"errors": "; ".join(e["message"] for e in report["errors"])},
            code=MenuError.MENU_TAG_SYNC_FAILED,
            detail=report,
        )
    if report["status"] == "partial":
        logger.warning("menu %s: segment tag pushed partially: %s", menu.pk, report["errors"])
    return str(report["remote_id"])


def segment_tags_sync_published() -> dict[int, str]:
    """Re-sync the segment tag of every published conditional menu; returns {menu id: outcome}."""
    outcomes: dict[int, str] = {}
    for menu in Menu.objects.filter(segment__isnull=False, published_version__isnull=False).select_related("account", "segment", "segment_tag"):
        try:
            segment_tag_sync(menu=menu)
            outcomes[menu.pk] = "ok"
        except ApplicationError as exc:
            outcomes[menu.pk] = str(exc.message)
        except Exception as exc:  # one account's outage must not stop the others
            logger.warning("menu %s: segment tag sync failed: %s", menu.pk, type(exc).__name__)
            outcomes[menu.pk] = type(exc).__name__
    return outcomes
