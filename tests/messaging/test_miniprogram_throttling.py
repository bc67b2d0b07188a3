import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

BASE = "/api/mp/v1/"


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}}

    return set_rates


def test_a_token_over_its_rate_gets_429_with_retry_after(mp_user_factory, rates):
    rates(mp_token="3/min")
    mine, other = mp_user_factory(), mp_user_factory()
    codes = [mine.client.get(BASE + "me").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = mine.client.get(BASE + "me")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["code"] == "throttled"
    # Another customer (same IP) is not affected by my token's count.
    assert other.client.get(BASE + "me").status_code == 200


def test_the_token_count_survives_a_refresh(mp_user, rates):
    rates(mp_token="2/min")
    for _ in range(2):
        mp_user.client.get(BASE + "me")
    refreshed = APIClient().post(BASE + "token/refresh", {"refresh_token": mp_user.tokens.refresh_token}, format="json").json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed['access_token']}")
    assert client.get(BASE + "me").status_code == 429


def test_an_ip_over_its_rate_gets_429_across_tokens(mp_user_factory, rates):
    rates(mp_ip="4/min")
    users = [mp_user_factory() for _ in range(5)]
    codes = [u.client.get(BASE + "me", REMOTE_ADDR="10.1.1.1").status_code for u in users]
    assert codes == [200, 200, 200, 200, 429]
    assert users[4].client.get(BASE + "me", REMOTE_ADDR="10.1.1.2").status_code == 200


def test_a_forged_forwarded_for_header_does_not_escape_the_ip_limit(mp_user_factory, rates):
    rates(mp_ip="2/min")
    user = mp_user_factory()
    codes = [user.client.get(BASE + "me", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}").status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_login_attempts_per_ip_are_limited(mp_api_account, rates):
    rates(mp_login_ip="2/min")
    client = APIClient()
    codes = [client.post(BASE + "login", {"appid": "wx-unknown", "code": "c"}, format="json").status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    assert client.post(BASE + "token/refresh", {"refresh_token": "mpr_x"}, format="json").status_code == 429


def test_requests_with_bad_tokens_count_against_the_ip(mp_user, rates):
    rates(mp_ip="3/min")
    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Bearer mpa_guess")
    codes = [guesser.get(BASE + "me", REMOTE_ADDR="10.3.3.3").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
