"""WeCom customer groups: change_external_chat events (the sandbox's XML, delivered encrypted) and
groupchat/list + groupchat/get sync; members linked to customers by external_userid and unionid;
per-group joins and leaves per day."""

from __future__ import annotations

import itertools
import time

import pytest
from wechatpy.exceptions import WeChatClientException

from customers.models import ChannelIdentity
from customers.services import identity_link_unionid
from customers.wecom.models import WeComGroupChat, WeComGroupMember
from customers.wecom.selectors import group_daily_stats
from messaging.channels.wecom_groups import groups_sync
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory

pytestmark = pytest.mark.django_db

_clock = itertools.count(int(time.time()) - 100)


@pytest.fixture
def corp(wecom_sandbox_corp):
    return wecom_sandbox_corp("wwgroupscorp0001", staff=("alice",))


@pytest.fixture
def chat_event(sandbox, corp, deliver):
    def post(change: str, **params):
        answer = sandbox.control.post_event(corp.app_id, event="change_external_chat", change_type=change,
                                            create_time=next(_clock), **params)
        deliver(corp, answer["xml"])

    return post


def _present(group) -> set[str]:
    return set(group.members.filter(left_at__isnull=True).values_list("member_id", flat=True))


def test_group_events_keep_the_group_and_its_members_linked_to_customers(sandbox, corp, chat_event):
    known = ChannelIdentityFactory(account=corp, external_id="wm-1")
    oa_identity = ChannelIdentityFactory(account=ChannelAccountFactory(kind="oa"), external_id="o-2", unionid="u-2")
    identity_link_unionid(identity=oa_identity, unionid="u-2")
    chat_event("create", chat_id="wr-1", name="VIP 群", owner="alice",
               members=[{"userid": "wm-1", "type": 2}, {"userid": "wm-2", "type": 2, "unionid": "u-2"}])
    group = WeComGroupChat.objects.get(account=corp, chat_id="wr-1")
    assert (group.name, group.owner_userid, group.member_count) == ("VIP 群", "alice", 3)
    linked = dict(group.members.values_list("member_id", "customer_id"))
    assert linked == {"alice": None, "wm-1": known.customer_id, "wm-2": oa_identity.customer_id}

    chat_event("update", chat_id="wr-1", update_detail="add_member", members=["wm-3"])
    chat_event("update", chat_id="wr-1", update_detail="del_member", members=["wm-1"])
    chat_event("update", chat_id="wr-1", update_detail="change_name", name="VIP 二群")
    group.refresh_from_db()
    assert group.name == "VIP 二群" and _present(group) == {"alice", "wm-2", "wm-3"}
    assert group.members.get(member_id="wm-1").left_at is not None
    [today] = group_daily_stats(group_id=group.pk)
    assert (today["joins"], today["leaves"]) == (4, 1)

    chat_event("dismiss", chat_id="wr-1")
    group.refresh_from_db()
    assert group.dismissed_at is not None and _present(group) == set()


def test_groups_sync_reads_every_group(sandbox, corp, chat_event):
    for n in range(3):
        sandbox.control.post_event(corp.app_id, event="change_external_chat", change_type="create", chat_id=f"wr-s{n}",
                                   name=f"G{n}", owner="alice", members=[{"userid": f"wm-s{n}", "type": 2}])
    assert groups_sync(corp) == 3
    assert WeComGroupChat.objects.filter(account=corp).count() == 3
    assert WeComGroupMember.objects.filter(group__account=corp).count() == 6
    assert groups_sync(corp) == 3  # again: nothing new
    assert WeComGroupMember.objects.filter(group__account=corp).count() == 6
    assert not ChannelIdentity.objects.filter(account=corp).exists()  # members are not made contacts


def test_groupchat_list_limit_is_enforced(sandbox, corp):
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    with pytest.raises(WeChatClientException) as exc:
        client.post("externalcontact/groupchat/list", data={"limit": 1001})
    assert exc.value.errcode == 40058
    with pytest.raises(WeChatClientException) as missing:
        client.post("externalcontact/groupchat/get", data={"chat_id": "wr-none"})
    assert missing.value.errcode == 40050


def test_groups_sync_raises_what_stopped_the_reading_and_keeps_what_was_written(sandbox, corp, chat_event):
    for n in range(2):
        sandbox.control.post_event(corp.app_id, event="change_external_chat", change_type="create", chat_id=f"wr-f{n}",
                                   name=f"F{n}", owner="alice", members=[{"userid": f"wm-f{n}", "type": 2}])
    sandbox.control.set_faults(rate_busy=1.0, paths=["groupchat/get"])
    try:
        with pytest.raises(WeChatClientException):
            groups_sync(corp)
    finally:
        sandbox.control.reset_faults()
    assert not WeComGroupChat.objects.filter(account=corp).exists()
    assert groups_sync(corp) == 2
