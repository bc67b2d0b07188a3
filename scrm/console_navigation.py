"""The console's theme settings (django-unfold): site title, the dashboard and the sidebar grouped by
the operator's jobs. Imported by settings, so it holds lazy strings and URLs only — no models.

Each item shows only to operators with its `view_…` permission, so a viewer's sidebar lists what a
viewer may open. Apps and pages added later join a group here."""

from __future__ import annotations

from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _


def _may(permission: str):
    return lambda request: request.user.has_perm(permission)


def _item(title, icon: str, app_model: str, permission: str | None = None, link=None) -> dict:
    app, model = app_model.split(".")
    return {
        "title": title,
        "icon": icon,
        "link": link or reverse_lazy(f"admin:{app}_{model}_changelist"),
        "permission": _may(permission or f"{app}.view_{model}"),
    }


UNFOLD = {
    "SITE_TITLE": _("Private-domain SCRM"),
    "SITE_HEADER": _("Private-domain SCRM"),
    "SITE_SUBHEADER": _("Operator console"),
    "SITE_SYMBOL": "hub",
    "SITE_URL": "/admin/",
    "SHOW_VIEW_ON_SITE": False,
    "SHOW_LANGUAGES": True,
    "DASHBOARD_CALLBACK": "console.dashboard.dashboard_callback",
    "STYLES": [lambda request: static("console/console.css")],
    # A page that names its icon spares the browser its own request for /favicon.ico (a 404 here).
    "SITE_FAVICONS": [{"rel": "icon", "type": "image/svg+xml", "href": lambda request: static("console/favicon.svg")}],
    "COLORS": {
        "primary": {
            "50": "oklch(97.9% .021 166.113)",
            "100": "oklch(95% .052 163.051)",
            "200": "oklch(90.5% .093 164.15)",
            "300": "oklch(84.5% .143 164.978)",
            "400": "oklch(76.5% .177 163.223)",
            "500": "oklch(69.6% .17 162.48)",
            "600": "oklch(59.6% .145 163.225)",
            "700": "oklch(50.8% .118 165.612)",
            "800": "oklch(43.2% .095 166.913)",
            "900": "oklch(37.8% .077 168.94)",
            "950": "oklch(26.2% .051 172.552)",
        },
    },
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": [
            {
                "title": _("Overview"),
                "items": [
                    {"title": _("Dashboard"), "icon": "dashboard", "link": reverse_lazy("admin:index")},
                ],
            },
            {
                "title": _("Customers"),
                "collapsible": True,
                "items": [
                    _item(_("Customers"), "person", "customers.customer"),
                    _item(_("Channel identities"), "badge", "customers.channelidentity"),
                    _item(_("Tags"), "sell", "customers.tag"),
                    _item(_("Tag groups"), "label", "customers.taggroup"),
                    _item(_("Consent credits"), "verified", "customers.consentcredit"),
                    _item(_("Merge history"), "merge", "customers.customermerge"),
                ],
            },
            {
                "title": _("Audiences"),
                "collapsible": True,
                "items": [
                    _item(_("Segments"), "groups", "customers.segment"),
                    _item(_("Segment snapshots"), "photo_camera", "customers.segmentsnapshot"),
                ],
            },
            {
                "title": _("Campaigns"),
                "collapsible": True,
                "items": [
                    _item(_("Campaigns"), "campaign", "campaigns.campaign"),
                    _item(_("Deliveries"), "outgoing_mail", "campaigns.delivery"),
                    _item(_("Suppressions"), "block", "campaigns.suppression"),
                    _item(_("Contact policy"), "policy", "campaigns.contactpolicy"),
                ],
            },
            {
                "title": _("Engagement & reports"),
                "collapsible": True,
                "items": [
                    {
                        "title": _("Campaign reports"),
                        "icon": "monitoring",
                        "link": reverse_lazy("admin-campaign-reports"),
                        "permission": _may("campaigns.view_campaign"),
                    },
                    _item(_("Engagement events"), "touch_app", "customers.engagementevent"),
                    _item(_("Inbound messages"), "inbox", "messaging.inboundmessage"),
                ],
            },
            {
                "title": _("Customer service"),
                "collapsible": True,
                "items": [
                    {
                        "title": _("Inbox"),
                        "icon": "support_agent",
                        "link": reverse_lazy("admin:messaging_conversation_inbox"),
                        "permission": _may("messaging.view_conversation"),
                    },
                    _item(_("Conversations"), "forum", "messaging.conversation"),
                    _item(_("Quick replies"), "bolt", "messaging.quickreply"),
                    _item(_("Inbox operators"), "headset_mic", "messaging.inboxoperator"),
                    _item(_("Inbox settings"), "schedule", "messaging.inboxsettings"),
                    _item(_("WeChat kf accounts"), "support_agent", "messaging.kfaccount"),
                ],
            },
            {
                "title": _("Channels"),
                "collapsible": True,
                "items": [
                    _item(_("Channel accounts"), "forum", "accounts.channelaccount"),
                    _item(_("Message templates"), "article", "messaging.messagetemplate"),
                    _item(_("Materials"), "perm_media", "messaging.material"),
                    _item(_("Articles"), "newspaper", "messaging.article"),
                    _item(_("Auto-reply rules"), "quickreply", "messaging.autoreplyrule"),
                    _item(_("Welcome messages"), "waving_hand", "messaging.welcomemessage"),
                    _item(_("WeCom staff"), "badge", "customers.wecomstaff"),
                    _item(_("WeCom hand-overs"), "swap_horiz", "messaging.wecomhandover"),
                    _item(_("WeCom customer groups"), "groups", "customers.wecomgroupchat"),
                    _item(_("Group welcome templates"), "celebration", "messaging.groupwelcometemplate"),
                    _item(_("WeCom moments"), "photo_library", "messaging.wecommoment"),
                    _item(_("Custom menus"), "menu", "menus.menu"),
                ],
            },
            {
                "title": _("Settings"),
                "collapsible": True,
                "items": [
                    _item(_("Users"), "manage_accounts", "auth.user"),
                    _item(_("Groups"), "admin_panel_settings", "auth.group"),
                    _item(_("Operator identities"), "fingerprint", "campaigns.operatoridentity"),
                    _item(_("Audit log"), "history", "audit.auditentry"),
                    _item(_("Periodic tasks"), "schedule", "django_celery_beat.periodictask"),
                    _item(_("Crontabs"), "calendar_month", "django_celery_beat.crontabschedule"),
                    _item(_("Intervals"), "timer", "django_celery_beat.intervalschedule"),
                ],
            },
        ],
    },
}
