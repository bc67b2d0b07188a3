import logging

import pytest

from accounts.models import ChannelAccount
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/accounts/"
SECRET = "app-secret-abcdefghijklmnopqrstuvwxyz-9876"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TOKEN = "CallbackToken42"


def _create(client, **overrides):
    body = {
        "kind": "oa",
        "name": "品牌服务号",
        "app_id": "wxACCOUNTAPI0001",
        "app_secret": SECRET,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base_url": "https://api.weixin.qq.com/",
        **overrides,
    }
    return client.post(URL, body, format="json")


def test_create_answers_id_and_callback_url_and_never_the_secrets(api_client, caplog):
    caplog.set_level(logging.DEBUG)

    response = _create(api_client)

    assert response.status_code == 201, response.content
    body = response.json()
    account = ChannelAccount.objects.get(pk=body["id"])
    assert body["callback_url"] == account.callback_url
    assert body["callback_url"].endswith(f"/callbacks/wechat/{account.pk}/")
    assert body["app_secret_set"] is True and body["token_set"] is True and body["encoding_aes_key_set"] is True
    assert body["app_secret_last4"] == SECRET[-4:]
    for secret in (SECRET, TOKEN, AES_KEY):
        assert secret not in response.content.decode()
        assert secret not in caplog.text
    assert {"app_secret", "token", "encoding_aes_key"}.isdisjoint(body)
    assert (account.app_secret, account.token, account.encoding_aes_key) == (SECRET, TOKEN, AES_KEY)


def test_list_and_detail_never_return_secrets(api_client):
    account = ChannelAccountFactory(app_secret=SECRET, token=TOKEN, encoding_aes_key=AES_KEY)
    for response in (api_client.get(URL), api_client.get(f"{URL}{account.pk}/")):
        assert response.status_code == 200
        text = response.content.decode()
        assert SECRET not in text and TOKEN not in text and AES_KEY not in text


def test_wecom_account_gets_the_wecom_callback_url(api_client):
    response = _create(api_client, kind="wecom", app_id="wwCORP0001")
    assert "/callbacks/wecom/" in response.json()["callback_url"]


def test_patch_with_empty_secret_keeps_the_stored_one_and_a_new_key_keeps_the_old_as_fallback(api_client):
    account_id = _create(api_client).json()["id"]
    new_key = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"

    response = api_client.patch(f"{URL}{account_id}/", {"name": "renamed", "app_secret": "", "encoding_aes_key": new_key}, format="json")

    assert response.status_code == 200, response.content
    account = ChannelAccount.objects.get(pk=account_id)
    assert account.name == "renamed"
    assert account.app_secret == SECRET
    assert account.encoding_aes_key == new_key
    assert account.previous_encoding_aes_key == AES_KEY
    assert new_key not in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [("encoding_aes_key", "too-short"), ("encoding_aes_key", "!" * 43), ("token", "no spaces allowed"), ("timezone", "Nowhere/City")],
)
def test_bad_account_values_are_400_naming_the_field(api_client, field, value):
    response = _create(api_client, **{field: value})
    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_secret_is_required_on_create(api_client):
    response = _create(api_client, app_secret="")
    assert response.status_code == 400
    assert "app_secret" in response.json()["detail"]


def test_duplicate_app_id_for_the_same_kind_is_400(api_client):
    assert _create(api_client).status_code == 201
    assert _create(api_client).status_code == 400


def test_account_with_identities_cannot_be_deleted(api_client):
    identity = ChannelIdentityFactory()
    response = api_client.delete(f"{URL}{identity.account_id}/")
    assert response.status_code == 409
    assert response.json()["code"] == "account_in_use"


def test_accounts_need_group_permissions(make_operator):
    reader = make_operator("accounts.view_channelaccount")
    assert reader.get(URL).status_code == 200
    assert _create(reader).status_code == 403
    assert _create(make_operator("accounts.add_channelaccount")).status_code == 201


def test_account_on_a_sandbox_is_registered_there_with_its_callback(api_client, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _create(api_client, app_id="wxSANDBOXREG01", api_base_url=sandbox.base_url)

    assert response.status_code == 201, response.content
    registered = {app["app_id"]: app for app in sandbox.control.apps()}
    assert registered["wxSANDBOXREG01"]["callback_url"] == response.json()["callback_url"]
    # The sandbox now hands out tokens for the secret we stored (it checks the secret).
    client = sandbox.wechat_client("wxSANDBOXREG01", SECRET)
    assert client.access_token


def test_account_on_wechats_real_servers_is_not_sent_to_any_sandbox(api_client, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert _create(api_client, app_id="wxREALHOST01").status_code == 201
    assert "wxREALHOST01" not in {app["app_id"] for app in sandbox.control.apps()}
