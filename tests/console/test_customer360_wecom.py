"""Customer 360 shows the customer's WeCom relationships: one row per staff member, with state,
remark, corp tags, channel code and times; remark mobiles masked without the permission."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from customers.wecom.models import WeComStaff
from customers.wecom.services import FollowInfo, relation_record_added, relation_record_removed
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
AT = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def test_360_lists_each_staff_members_relationship(admin_user):
    corp = ChannelAccountFactory(kind="wecom", name="Brand corp")
    identity = ChannelIdentityFactory(account=corp, external_id="wm-360")
    WeComStaff.objects.create(account=corp, userid="alice", name="Alice Wang")
    follow = FollowInfo(remark="Lin VIP", remark_mobiles=("13812345678",), channel_state="store-9",
                        tags=({"id": "et1", "name": "Gold", "group": "Level"},))
    relation_record_added(identity=identity, staff_userid="alice", at=AT, follow=follow)
    relation_record_added(identity=identity, staff_userid="bob", at=AT)
    relation_record_removed(identity=identity, staff_userid="bob", at=AT.replace(hour=3), state="deleted_by_customer")
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/admin/customers/customer/{identity.customer_id}/360/", **ZH).content.decode()
    assert page.count('data-testid="c360-wecom-relation"') == 2
    assert "Alice Wang" in page and "Lin VIP" in page and "Level/Gold" in page and "store-9" in page
    assert "企业微信关系" in page and "被客户删除" in page
    assert "13812345678" in page  # the superuser may see personal data


def test_360_masks_remark_mobiles_without_the_permission():
    corp = ChannelAccountFactory(kind="wecom")
    identity = ChannelIdentityFactory(account=corp, external_id="wm-mask")
    relation_record_added(identity=identity, staff_userid="alice", at=AT, follow=FollowInfo(remark_mobiles=("13812345678",)))
    user = get_user_model().objects.create_user("viewer360", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client = Client()
    client.force_login(user)
    page = client.get(f"/admin/customers/customer/{identity.customer_id}/360/", **ZH).content.decode()
    assert "138****5678" in page and "13812345678" not in page
