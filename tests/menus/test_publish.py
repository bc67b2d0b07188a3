"""Publishing menus: the default menu and a segment's conditional menu (its segment mirrored to a
WeChat tag), read back with menu/get and previewed per customer with menu/trymatch in the sandbox."""

from __future__ import annotations

import pytest

from customers.models import CustomerTag
from customers.segments.models import SegmentStaticMember
from menus import selectors, services
from menus.models import Menu
from menus.segment_tags import segment_tags_sync_published
from scrm.errors import ApplicationError
from tests.menus.conftest import DEFAULT_BUTTONS, VIP_BUTTONS

pytestmark = pytest.mark.django_db


def _publish(account, buttons, segment=None, name="菜单"):
    menu = services.menu_create(account=account, name=name, segment=segment)
    services.menu_version_save(menu=menu, buttons=buttons)
    return services.menu_publish(menu=menu)


def test_a_segments_menu_is_shown_to_members_and_the_default_to_others(sandbox, oa_account, followers, vip_segment):
    (member, member_openid), (other, other_openid) = followers(2)
    segment = vip_segment([member])
    default = _publish(oa_account, DEFAULT_BUTTONS, name="默认菜单")
    vip = _publish(oa_account, VIP_BUTTONS, segment=segment, name="VIP 菜单")

    # The segment became a WeChat tag holding its member, and the rule names that tag.
    assert vip.wechat_tag_id and vip.wechat_menuid
    assert sandbox.control.user(oa_account.app_id, member_openid)["tags"] == [int(vip.wechat_tag_id)]
    added = sandbox.control.requests("menu/addconditional")[-1]["body"]
    assert added["matchrule"] == {"tag_id": vip.wechat_tag_id}
    assert "action" not in added["button"][0]  # the product's routing stays in the product

    for_member = selectors.menu_preview_for_customer(account=oa_account, customer_id=member.pk)
    assert for_member["menu_id"] == vip.pk and for_member["button"][0]["key"] == "VIP_GIFT"
    for_other = selectors.menu_preview_for_customer(account=oa_account, customer_id=other.pk)
    assert for_other["menu_id"] == default.pk and for_other["button"][0]["key"] == "TODAY"

    state = selectors.menu_wechat_state(account=oa_account)
    assert [b["name"] for b in state["menu"]["button"]] == ["今日推荐", "官网", "服务"]
    assert state["conditionalmenu"][0]["matchrule"]["tag_id"] == vip.wechat_tag_id


def test_segment_changes_reach_the_tag_and_the_menu(sandbox, oa_account, followers, vip_segment):
    (member, member_openid), (newcomer, newcomer_openid) = followers(2)
    segment = vip_segment([member])
    _publish(oa_account, DEFAULT_BUTTONS)
    vip = _publish(oa_account, VIP_BUTTONS, segment=segment, name="VIP")
    SegmentStaticMember.objects.filter(segment=segment).delete()
    SegmentStaticMember.objects.create(segment=segment, customer=newcomer)

    assert segment_tags_sync_published() == {vip.pk: "ok"}
    assert selectors.menu_preview_for_customer(account=oa_account, customer_id=newcomer.pk)["menu_id"] == vip.pk
    assert selectors.menu_preview_for_customer(account=oa_account, customer_id=member.pk)["menu_id"] != vip.pk
    assert list(CustomerTag.objects.filter(tag_id=vip.segment_tag_id).values_list("customer_id", flat=True)) == [newcomer.pk]


def test_republishing_replaces_the_conditional_menu_and_keeps_history(sandbox, oa_account, followers, vip_segment):
    (member, _), = followers(1)
    _publish(oa_account, DEFAULT_BUTTONS)
    vip = _publish(oa_account, VIP_BUTTONS, segment=vip_segment([member]), name="VIP")
    first_menuid = vip.wechat_menuid
    second = services.menu_version_save(menu=vip, buttons=[{**VIP_BUTTONS[0], "name": "新福利"}], note="换名")
    vip = services.menu_publish(menu=vip)
    assert vip.published_version == second and second.number == 2
    state = selectors.menu_wechat_state(account=oa_account)
    assert [m["menuid"] for m in state["conditionalmenu"]] == [int(vip.wechat_menuid)] != [int(first_menuid)]
    assert [v.number for v in selectors.menu_versions(menu=vip)] == [2, 1]


def test_a_conditional_menu_needs_the_default_first(sandbox, oa_account, followers, vip_segment):
    (member, _), = followers(1)
    menu = services.menu_create(account=oa_account, name="VIP", segment=vip_segment([member]))
    services.menu_version_save(menu=menu, buttons=VIP_BUTTONS)
    with pytest.raises(ApplicationError) as caught:
        services.menu_publish(menu=menu)
    assert caught.value.code == "menu_no_default" and not sandbox.control.requests("menu/addconditional")


def test_unpublishing_the_default_takes_every_menu_off(sandbox, oa_account, followers, vip_segment):
    (member, _), = followers(1)
    default = _publish(oa_account, DEFAULT_BUTTONS)
    _publish(oa_account, VIP_BUTTONS, segment=vip_segment([member]), name="VIP")
    services.menu_unpublish(menu=default)
    assert selectors.menu_wechat_state(account=oa_account) == {}
    assert not Menu.objects.filter(published_version__isnull=False).exists()
