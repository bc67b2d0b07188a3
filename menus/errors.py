"""menus' error codes (values are a contract: never rename one)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import status

from scrm.errors import ErrorCatalogue


class MenuError(ErrorCatalogue):
    MENU_INVALID = "menu_invalid", _("The menu breaks a WeChat limit or a routing rule; see detail.problems.")
    MENU_BAD_ACCOUNT = "menu_bad_account", _("Custom menus exist for service accounts only.")
    MENU_EXISTS = "menu_exists", _("This account already has a menu for this audience."), status.HTTP_409_CONFLICT
    MENU_NO_VERSION = "menu_no_version", _("The menu has no saved version to publish."), status.HTTP_409_CONFLICT
    MENU_NO_DEFAULT = "menu_no_default", _("Publish the default menu before a conditional one: WeChat requires it."), status.HTTP_409_CONFLICT
    MENU_TAG_SYNC_FAILED = "menu_tag_sync_failed", _("The segment could not be mirrored to a WeChat tag."), status.HTTP_502_BAD_GATEWAY
    MENU_WECHAT_REFUSED = "menu_wechat_refused", _("WeChat refused the menu."), status.HTTP_502_BAD_GATEWAY
    MENU_PUBLISHED = "menu_published", _("A published menu cannot be deleted; unpublish it first."), status.HTTP_409_CONFLICT
    MENU_ANALYTICS_NEEDS_POSTGRESQL = "menu_analytics_needs_postgresql", _("Menu analytics need PostgreSQL; this server runs on the embedded SQLite database.")
    MENU_CUSTOMER_NOT_FOLLOWER = "menu_customer_not_follower", _("The customer does not follow this account."), status.HTTP_404_NOT_FOUND
