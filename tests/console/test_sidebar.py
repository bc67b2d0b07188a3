"""The console's sidebar is cached (audit/sites.py): each operator still sees only what they may open,
in their language, with the page they are on marked active."""

import pytest
from django.contrib.auth.models import Group

from console.roles import VIEWER

pytestmark = pytest.mark.django_db

ACCOUNTS_LINK = 'href="/admin/accounts/channelaccount/"'
AUDIT_LINK = 'href="/admin/audit/auditentry/"'


def _sidebar(html: str) -> str:
    start = html.index('id="nav-sidebar-apps"')
    return html[start : html.index("</nav>", start)]


def test_each_operator_sees_only_the_links_they_may_open_whoever_rendered_the_sidebar_first(client, django_user_model, admin_user):
    client.force_login(admin_user)
    admin_sidebar = _sidebar(client.get("/admin/customers/customer/").content.decode())
    assert AUDIT_LINK in admin_sidebar

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.groups.add(Group.objects.get(name=VIEWER))
    client.force_login(viewer)
    viewer_sidebar = _sidebar(client.get("/admin/customers/customer/").content.decode())
    assert 'href="/admin/customers/customer/"' in viewer_sidebar
    assert AUDIT_LINK not in viewer_sidebar

    client.force_login(admin_user)
    assert AUDIT_LINK in _sidebar(client.get("/admin/customers/customer/").content.decode())


def test_the_page_the_operator_is_on_is_the_active_item(client, admin_user):
    client.force_login(admin_user)
    on_customers = _sidebar(client.get("/admin/customers/customer/").content.decode())
    on_accounts = _sidebar(client.get("/admin/accounts/channelaccount/").content.decode())

    def active_link(sidebar: str) -> str:
        anchor = sidebar[: sidebar.index(" active")]
        return anchor[anchor.rindex('href="') :].split('"')[1]

    assert active_link(on_customers) == "/admin/customers/customer/"
    assert active_link(on_accounts) == "/admin/accounts/channelaccount/"


def test_the_sidebar_speaks_the_operators_language(client, admin_user):
    client.force_login(admin_user)
    chinese = _sidebar(client.get("/admin/customers/customer/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode())
    english = _sidebar(client.get("/admin/customers/customer/", HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert "客户" in chinese and "Campaign reports" not in chinese
    assert "Campaign reports" in english


def test_only_the_most_specific_item_is_active(client, admin_user):
    client.force_login(admin_user)
    on_inbox = _sidebar(client.get("/admin/messaging/conversation/inbox/").content.decode())
    assert on_inbox.count(" active") == 1
    anchor = on_inbox[: on_inbox.index(" active")]
    assert anchor[anchor.rindex('href="') :].split('"')[1] == "/admin/messaging/conversation/inbox/"
