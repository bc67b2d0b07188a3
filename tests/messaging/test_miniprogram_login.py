"""Login against the sandbox's jscode2session: the code → identity → customer → our own tokens."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from customers.models import ChannelIdentity, Customer, CustomerMerge, EngagementEvent
from customers.services import event_record, identity_resolve
from messaging.miniprogram.models import MiniProgramSession

pytestmark = pytest.mark.django_db

LOGIN = "/api/mp/v1/login"


def _login(appid: str, code: str):
    return APIClient().post(LOGIN, {"appid": appid, "code": code}, format="json")


def _client(access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


def test_login_with_a_new_code_creates_the_customer_and_returns_tokens_without_the_session_key(sandbox, mp_sandbox_account):
    code = sandbox.control.create_login_code(mp_sandbox_account.app_id, "mp-new-1", unionid="u-new-1")
    response = _login(mp_sandbox_account.app_id, code)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"token_type", "access_token", "expires_in", "refresh_token", "refresh_expires_in", "customer_id"}
    identity = ChannelIdentity.objects.get(account=mp_sandbox_account, external_id="mp-new-1")
    assert identity.kind == "mp_openid"
    assert identity.unionid == "u-new-1"
    assert body["customer_id"] == identity.customer_id
    assert _client(body["access_token"]).get("/api/mp/v1/me").json()["id"] == identity.customer_id
    # WeChat's session_key stays on the server, encrypted at rest.
    session = MiniProgramSession.objects.get(identity=identity)
    assert session.session_key
    assert session.session_key not in response.content.decode()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT session_key FROM {MiniProgramSession._meta.db_table} WHERE id = %s", [session.pk])
        assert cursor.fetchone()[0] != session.session_key
    # The code went to WeChat's jscode2session with the account's credentials.
    assert sandbox.control.requests("jscode2session", app_id=mp_sandbox_account.app_id)


def test_login_resolves_an_existing_follower_by_unionid(sandbox, mp_sandbox_account, oa_sandbox_account):
    follower = identity_resolve(account=oa_sandbox_account, external_id="oa-openid-7", unionid="u-7", profile={"display_name": "Zhang Wei"})
    code = sandbox.control.create_login_code(mp_sandbox_account.app_id, "mp-openid-7", unionid="u-7")
    body = _login(mp_sandbox_account.app_id, code).json()
    assert body["customer_id"] == follower.customer_id
    assert Customer.objects.count() == 1
    me = _client(body["access_token"]).get("/api/mp/v1/me").json()
    assert me["display_name"] == "Zhang Wei"
    assert set(ChannelIdentity.objects.filter(customer_id=follower.customer_id).values_list("kind", flat=True)) == {"oa_openid", "mp_openid"}


def test_a_mini_program_customer_seen_before_without_unionid_is_merged_into_the_follower(sandbox, mp_sandbox_account, oa_sandbox_account):
    earlier = identity_resolve(account=mp_sandbox_account, external_id="mp-openid-8")
    event_record(customer_id=earlier.customer_id, event_type="mp.page_view", dedupe_key="early-1")
    follower = identity_resolve(account=oa_sandbox_account, external_id="oa-openid-8", unionid="u-8")
    code = sandbox.control.create_login_code(mp_sandbox_account.app_id, "mp-openid-8", unionid="u-8")
    body = _login(mp_sandbox_account.app_id, code).json()
    assert body["customer_id"] == follower.customer_id
    assert not Customer.objects.filter(pk=earlier.customer_id).exists()
    assert CustomerMerge.objects.filter(survivor_id=follower.customer_id, merged_customer_id=earlier.customer_id).exists()
    assert EngagementEvent.objects.get(dedupe_key="early-1").customer_id == follower.customer_id


def test_logging_in_again_resolves_the_same_customer_with_a_new_session(sandbox, mp_sandbox_account):
    first = _login(mp_sandbox_account.app_id, sandbox.control.create_login_code(mp_sandbox_account.app_id, "mp-openid-9")).json()
    second = _login(mp_sandbox_account.app_id, sandbox.control.create_login_code(mp_sandbox_account.app_id, "mp-openid-9")).json()
    assert first["customer_id"] == second["customer_id"]
    assert first["access_token"] != second["access_token"]
    assert _client(first["access_token"]).get("/api/mp/v1/me").status_code == 200


def test_a_used_or_unknown_code_is_a_400_and_opens_no_session(sandbox, mp_sandbox_account):
    code = sandbox.control.create_login_code(mp_sandbox_account.app_id, "mp-openid-10")
    assert _login(mp_sandbox_account.app_id, code).status_code == 200
    reused = _login(mp_sandbox_account.app_id, code)
    assert reused.status_code == 400
    assert reused.json()["code"] == "mp_login_failed"
    assert _login(mp_sandbox_account.app_id, "never-issued").json()["code"] == "mp_login_failed"
    assert MiniProgramSession.objects.count() == 1


def test_login_names_the_mini_program_by_appid(sandbox, mp_sandbox_account, oa_sandbox_account):
    code = sandbox.control.create_login_code(mp_sandbox_account.app_id, "mp-openid-11")
    unknown = _login("wx-not-ours", code)
    assert (unknown.status_code, unknown.json()["code"]) == (400, "unknown_appid")
    # A service account's app id is not a mini-program.
    assert _login(oa_sandbox_account.app_id, code).json()["code"] == "unknown_appid"
    mp_sandbox_account.is_active = False
    mp_sandbox_account.save()
    assert _login(mp_sandbox_account.app_id, code).json()["code"] == "unknown_appid"
    missing = APIClient().post(LOGIN, {"code": code}, format="json")
    assert missing.status_code == 400
    assert "appid" in missing.json()["detail"]


def test_after_erasure_the_same_wechat_user_logs_in_as_a_new_empty_customer(sandbox, mp_sandbox_account):
    app_id = mp_sandbox_account.app_id
    first = _login(app_id, sandbox.control.create_login_code(app_id, "mp-openid-12", unionid="u-12")).json()
    client = _client(first["access_token"])
    client.patch("/api/mp/v1/me", {"display_name": "Chen Jie"}, format="json")
    assert client.delete("/api/mp/v1/me").status_code == 204
    assert client.get("/api/mp/v1/me").status_code == 401

    again = _login(app_id, sandbox.control.create_login_code(app_id, "mp-openid-12", unionid="u-12")).json()
    assert again["customer_id"] != first["customer_id"]
    assert _client(again["access_token"]).get("/api/mp/v1/me").json()["display_name"] == ""
    assert Customer.objects.get(pk=first["customer_id"]).erased_at is not None
