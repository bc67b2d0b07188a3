import io

import pytest
from django.core.management import call_command
from django.db.models import Count
from rest_framework.test import APIClient

from accounts.models import ChannelAccount
from customers.models import ChannelIdentity, Customer, CustomerTag, CustomerUnionId
from devtools.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERNAME
from messaging.serializers import ChannelAccountSerializer

pytestmark = pytest.mark.django_db


def _seed(n: int = 300) -> str:
    out = io.StringIO()
    call_command("seed_demo", customers=n, stdout=out)
    return out.getvalue()


def test_seed_demo_is_idempotent_and_prints_what_a_developer_needs(settings):
    first = _seed()
    counts = (Customer.objects.count(), ChannelIdentity.objects.count(), CustomerTag.objects.count(), ChannelAccount.objects.count())
    second = _seed()

    assert counts[0] == 300 and counts[3] == 3
    assert (Customer.objects.count(), ChannelIdentity.objects.count(), CustomerTag.objects.count(), ChannelAccount.objects.count()) == counts
    oa = ChannelAccount.objects.get(kind="oa")
    for text in (first, second):
        for needle in (f"{settings.PUBLIC_BASE_URL}/admin/", DEMO_USERNAME, DEMO_PASSWORD, oa.app_id, oa.token, oa.encoding_aes_key, oa.callback_url):
            assert needle in text


def test_seed_demo_accounts_point_at_the_sandbox_with_valid_keys(settings):
    _seed(50)
    accounts = list(ChannelAccount.objects.all())
    assert sorted(a.kind for a in accounts) == ["miniprogram", "oa", "wecom"]
    for account in accounts:
        assert account.api_base_url == settings.SANDBOX_BASE_URL
        ChannelAccountSerializer().validate_encoding_aes_key(account.encoding_aes_key)
        ChannelAccountSerializer().validate_token(account.token)


def test_seed_demo_customers_share_unionids_across_channels_consistently():
    _seed()
    multi_channel = Customer.objects.annotate(n=Count("identities__account", distinct=True)).filter(n__gt=1)
    assert multi_channel.exists()
    for customer in multi_channel[:50]:
        unionids = set(customer.identities.values_list("unionid", flat=True))
        assert len(unionids) == 1 and "" not in unionids
        assert CustomerUnionId.objects.get(unionid=unionids.pop()).customer_id == customer.pk


def test_demo_operator_can_log_in_to_the_api():
    _seed(10)
    response = APIClient().post("/api/v1/auth/token/", {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}, format="json")
    assert response.status_code == 200


def test_seed_demo_registers_accounts_and_followers_with_a_running_sandbox(settings, sandbox):
    settings.SANDBOX_BASE_URL = sandbox.base_url
    out = _seed(100)

    assert "sandbox: demo accounts and their followers registered" in out
    apps = {app["app_id"]: app for app in sandbox.control.apps()}
    oa = ChannelAccount.objects.get(kind="oa")
    assert apps[oa.app_id]["callback_url"] == oa.callback_url
    following = ChannelIdentity.objects.filter(account=oa, follow_state="following").count()
    assert apps[oa.app_id]["following"] >= following > 0
    one = ChannelIdentity.objects.filter(account=oa, follow_state="following").exclude(unionid="").first()
    assert sandbox.control.user(oa.app_id, one.external_id)["unionid"] == one.unionid


def test_seed_demo_gives_the_dashboard_a_month_of_follow_history():
    from datetime import timedelta

    from django.utils import timezone

    from console.dashboard.activity import activity_series

    _seed(1000)
    oa = ChannelAccount.objects.get(kind="oa")
    month_ago = timezone.now() - timedelta(days=30)
    recent_follows = ChannelIdentity.objects.filter(account=oa, followed_at__gte=month_ago).count()
    series = activity_series(account_id=oa.pk, today=timezone.localdate())
    assert recent_follows > 0 and sum(series["follows"]) == recent_follows
    _seed(1000)  # seeding again records no second history
    assert sum(activity_series(account_id=oa.pk, today=timezone.localdate())["follows"]) == recent_follows
