"""The campaign wizard's group audience: a WeCom group message to customer groups chosen by owner,
by group or by name, with the labels and errors in Chinese."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign
from customers.wecom.models import WeComGroupChat, WeComStaff
from tests.campaigns.test_wizard import ADD, EDITOR, form, operator
from tests.factories import ChannelAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def corp():
    account = ChannelAccountFactory(kind="wecom")
    WeComStaff.objects.create(account=account, userid="alice", name="王丽")
    WeComGroupChat.objects.create(account=account, chat_id="wr-1", name="VIP 群", owner_userid="alice", member_count=12)
    WeComGroupChat.objects.create(account=account, chat_id="wr-2", name="新客群", owner_userid="alice", member_count=3)
    return account


def test_wizard_sends_a_group_message_to_chosen_groups_without_a_segment(corp):
    client = operator(*EDITOR)
    page = client.get(ADD, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "客户群" in page and "这些群主的全部客户群" in page and "VIP 群" in page
    staff = WeComStaff.objects.get(userid="alice")
    group = WeComGroupChat.objects.get(chat_id="wr-1")
    response = client.post(ADD, form(corp, None, message_type="wecom_group", text="本周会员日", audience_kind="groups",
                                     group_owners=[staff.pk], group_chats=[group.pk], group_name_contains=" VIP "))
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.segment_id is None
    assert campaign.content["group_audience"] == {"owners": ["alice"], "chat_ids": ["wr-1"], "name_contains": "VIP"}
    # Editing shows the choices again.
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert f'value="{staff.pk}" selected' in page and f'value="{group.pk}" selected' in page


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"message_type": "wecom_group", "text": "hi", "audience_kind": "groups"}, "请选择群主、客户群或群名称"),
        ({"message_type": "wecom_group", "text": "hi", "audience_kind": "segment"}, "该字段是必填项"),
    ],
)
def test_group_audience_problems_are_form_errors_in_chinese(corp, fields, expected):
    response = operator(*EDITOR).post(ADD, form(corp, None, **fields), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert expected in response.content.decode()
    assert not Campaign.objects.exists()


def test_groups_of_another_corp_are_refused(corp):
    other = ChannelAccountFactory(kind="wecom")
    foreign = WeComGroupChat.objects.create(account=other, chat_id="wr-x", name="别家群", owner_userid="bob")
    response = operator(*EDITOR).post(ADD, form(corp, None, message_type="wecom_group", text="hi", audience_kind="groups",
                                                group_chats=[foreign.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200 and "请选择所选企业微信的群主和客户群" in response.content.decode()
    assert not Campaign.objects.exists()
