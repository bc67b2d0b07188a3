"""Cached page chrome (console/templatetags/console_fragments.py): the sidebar with the user menu, the
action bar, the filter panel, the theme colours. What the operator sees must stay exactly what an
uncached render shows — their own CSRF token in every form of every response, their name, the
accounts as they are named now, the actions they may run."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.cache import caches

from accounts.models import ChannelAccount
from console.roles import VIEWER
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/customers/customer/"


@pytest.fixture(autouse=True)
def _empty_fragment_cache():
    caches["fragments"].clear()
    yield
    caches["fragments"].clear()


def _tokens(html: str) -> list[str]:
    return re.findall(r'name="csrfmiddlewaretoken" value="([^"]*)"', html)


def _filter_panel(html: str) -> str:
    start = html.index('id="changelist-filter"')
    return html[start : html.index("</form>", start)]


def test_every_form_carries_a_token_masked_for_this_response_and_valid_for_the_session(client, admin_user):
    client.force_login(admin_user)
    first = client.get(CHANGELIST).content.decode()
    second = client.get(CHANGELIST).content.decode()
    # the language forms, the logout form and the changelist's form: all served from the cache the second time
    assert len(_tokens(first)) >= 3 and len(_tokens(first)) == len(_tokens(second))
    assert "console-fragment-csrf-placeholder" not in second
    assert set(_tokens(first)).isdisjoint(_tokens(second)), "a cached fragment repeated a masked token across responses"

    # a token out of the cached sidebar logs the operator out: it is valid for this session
    csrf_client = client.__class__(enforce_csrf_checks=True)
    csrf_client.cookies = client.cookies
    logout_form = second[second.index('id="logout-form"') :]
    response = csrf_client.post("/admin/logout/", {"csrfmiddlewaretoken": _tokens(logout_form)[0]})
    assert response.status_code == 200
    assert client.get(CHANGELIST).status_code == 302  # logged out: back to the login page


def test_the_user_menu_shows_who_is_logged_in_after_another_operator_filled_the_cache(
    client, django_user_model, admin_user
):
    client.force_login(admin_user)
    client.get(CHANGELIST)
    other = django_user_model.objects.create_user(
        "wang", password="x", is_staff=True, is_superuser=True, first_name="小王", email="wang@example.com"
    )
    client.force_login(other)
    html = client.get(CHANGELIST).content.decode()
    assert "wang@example.com" in html and admin_user.email not in html

    other.email = "xiaowang@example.com"
    other.save()
    assert "xiaowang@example.com" in client.get(CHANGELIST).content.decode()


def test_the_account_filter_lists_accounts_as_they_are_named_now(client, admin_user):
    account = ChannelAccount.objects.create(
        kind="oa", name="旧名字服务号", app_id="wxfragment0001", app_secret="s", token="t"
    )
    client.force_login(admin_user)
    assert "旧名字服务号" in _filter_panel(client.get(CHANGELIST).content.decode())

    account.name = "新名字服务号"
    account.save()
    panel = _filter_panel(client.get(CHANGELIST).content.decode())
    assert "新名字服务号" in panel and "旧名字服务号" not in panel

    chosen = _filter_panel(client.get(f"{CHANGELIST}?account={account.pk}").content.decode())
    assert re.search(rf'<option value="{account.pk}"[^>]*selected', chosen)


def test_the_tag_filter_shows_the_chosen_tag_under_its_current_name(client, admin_user):
    tag = TagFactory(name="高净值")
    client.force_login(admin_user)
    assert "高净值" in _filter_panel(client.get(f"{CHANGELIST}?tag={tag.pk}").content.decode())
    tag.name = "高价值客户"
    tag.save()
    assert "高价值客户" in _filter_panel(client.get(f"{CHANGELIST}?tag={tag.pk}").content.decode())


def test_the_action_bar_offers_only_the_actions_the_operator_may_run(client, django_user_model, admin_user):
    client.force_login(admin_user)
    assert 'value="delete_selected"' in client.get(CHANGELIST).content.decode()

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.groups.add(Group.objects.get(name=VIEWER))
    client.force_login(viewer)
    assert 'value="delete_selected"' not in client.get(CHANGELIST).content.decode()


def test_a_cached_page_is_the_page_an_uncached_render_gives(client, admin_user):
    client.force_login(admin_user)
    uncached = client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    cached = client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    def without_tokens(html):
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)

    assert without_tokens(cached) == without_tokens(uncached)
    english = client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Log out" in english and "注销" not in english and "--color-primary-600" in english


def test_a_page_of_rows_computes_its_column_headers_once_not_once_per_row(client, admin_user):
    CustomerFactory.create_batch(30)
    client.force_login(admin_user)
    client.get(CHANGELIST)
    response = client.get(CHANGELIST)
    html = response.content.decode()
    assert html.count('name="_selected_action"') == 30 and html.count('id="action-toggle"') == 1
    # unfold rendered the "select all" checkbox through the widget templates once per row
    widget_renders = [t.name for t in response.templates if t.name == "django/forms/widgets/checkbox.html"]
    assert widget_renders == []


def test_the_header_counts_what_each_search_found(client, admin_user):
    CustomerFactory(display_name="张三")
    CustomerFactory(display_name="张三丰")
    CustomerFactory(display_name="李四")
    client.force_login(admin_user)
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    assert "2 results" in client.get(f"{CHANGELIST}?q=张三", **english).content.decode()
    assert "1 result" in client.get(f"{CHANGELIST}?q=李四", **english).content.decode()
    assert "2 results" in client.get(f"{CHANGELIST}?q=张三", **english).content.decode()


def test_the_add_button_keeps_each_lists_filters_and_shows_only_to_who_may_add(client, django_user_model, admin_user):
    client.force_login(admin_user)
    assert "_changelist_filters=gender%3D1" in client.get(f"{CHANGELIST}?gender=1").content.decode()
    html = client.get(f"{CHANGELIST}?gender=2").content.decode()
    assert "_changelist_filters=gender%3D2" in html and "gender%3D1" not in html

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.groups.add(Group.objects.get(name=VIEWER))
    client.force_login(viewer)
    assert "/admin/customers/customer/add/" not in client.get(f"{CHANGELIST}?gender=2").content.decode()


def test_clear_all_filters_keeps_the_search_it_was_shown_with(client, admin_user):
    client.force_login(admin_user)
    first = _filter_panel(client.get(f"{CHANGELIST}?q=alpha&gender=1").content.decode())
    second = _filter_panel(client.get(f"{CHANGELIST}?q=beta&gender=1").content.decode())
    assert 'href="?q=alpha"' in first
    assert 'href="?q=beta"' in second and "alpha" not in second
