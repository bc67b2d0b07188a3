"""The console page of WeChat's kf accounts: adding and renaming go through WeChat (the sandbox)
first, and WeChat's refusal is shown on the form, in Chinese."""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.inbox.models import KfAccount

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def console(client, admin_user, sandbox, inbox_account):
    sandbox.control.call("kf_setup", app_id=inbox_account.app_id, wechat_id="gh_brand")
    client.force_login(admin_user)
    return client


def test_a_kf_account_added_and_renamed_in_the_console_is_added_and_renamed_in_wechat(console, sandbox, inbox_account):
    added = console.post(reverse("admin:messaging_kfaccount_add"), {"account": inbox_account.pk, "kf_account": "kefu1@gh_brand", "nickname": "小美"}, **ZH)
    assert added.status_code == 302, added.context["adminform"].form.errors
    kf = KfAccount.objects.get()
    assert [a["kf_nick"] for a in sandbox.control.call("kf_state", app_id=inbox_account.app_id)["accounts"]] == ["小美"]
    changed = console.post(reverse("admin:messaging_kfaccount_change", args=[kf.pk]), {"nickname": "美美"}, **ZH)
    assert changed.status_code == 302
    assert [a["kf_nick"] for a in sandbox.control.call("kf_state", app_id=inbox_account.app_id)["accounts"]] == ["美美"]
    page = console.get(reverse("admin:messaging_kfaccount_changelist"), **ZH).content.decode()
    assert "微信客服账号" in page and "美美" in page


def test_wechats_refusal_is_shown_on_the_form(console, sandbox, inbox_account):
    refused = console.post(reverse("admin:messaging_kfaccount_add"), {"account": inbox_account.pk, "kf_account": "kefu1@gh_other", "nickname": "小美"}, **ZH)
    assert refused.status_code == 200
    assert "@ 后缀必须是本公众号的微信号" in refused.content.decode()
    too_long = console.post(reverse("admin:messaging_kfaccount_add"), {"account": inbox_account.pk, "kf_account": "kefu1@gh_brand", "nickname": "一二三四五六七八九十一二三四五六七"}, **ZH)
    assert too_long.status_code == 200
    assert not KfAccount.objects.exists()
