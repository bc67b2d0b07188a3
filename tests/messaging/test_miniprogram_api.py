from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import (
    ConsentCredit,
    CustomerPreference,
    CustomerTag,
    EngagementEvent,
    EngagementProfile,
    InboxMessage,
    TopicSubscription,
)
from messaging.miniprogram.models import MiniProgramSession
from messaging.miniprogram.tasks import mp_sessions_purge_task
from tests.factories import TagFactory, TagGroupFactory

pytestmark = pytest.mark.django_db

BASE = "/api/mp/v1/"


def _refresh(refresh_token: str):
    return APIClient().post(BASE + "token/refresh", {"refresh_token": refresh_token}, format="json")


# --- authentication, sessions ------------------------------------------------------------------


def test_requests_without_a_token_are_401_with_a_bearer_challenge(mp_user):
    response = APIClient().get(BASE + "me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "not_authenticated"


def test_an_operator_drf_token_does_not_open_the_mini_program_api(mp_user, admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    assert client.get(BASE + "me").status_code in (401, 403)


def test_unknown_or_malformed_tokens_are_401(mp_user):
    for header in ["Bearer mpa_nope", "Bearer", "Bearer a b", "Bearer " + mp_user.tokens.refresh_token]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get(BASE + "me").status_code == 401, header


def test_expired_access_token_is_refused_and_refresh_issues_working_tokens(mp_user):
    MiniProgramSession.objects.filter(pk=mp_user.tokens.session.pk).update(access_expires_at=timezone.now() - timedelta(seconds=1))
    expired = mp_user.client.get(BASE + "me")
    assert expired.status_code == 401
    assert expired.json()["code"] == "token_expired"

    response = _refresh(mp_user.tokens.refresh_token)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 2 * 3600
    assert body["refresh_token"] != mp_user.tokens.refresh_token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert client.get(BASE + "me").json()["id"] == mp_user.customer.pk


def test_refresh_token_works_once_and_its_reuse_revokes_the_session(mp_user):
    first = _refresh(mp_user.tokens.refresh_token).json()
    reused = _refresh(mp_user.tokens.refresh_token)
    assert reused.status_code == 401
    assert reused.json()["code"] == "invalid_refresh_token"
    # The copy's holder and the rightful owner are both logged out.
    assert _refresh(first["refresh_token"]).status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {first['access_token']}")
    assert client.get(BASE + "me").status_code == 401


def test_expired_refresh_token_is_refused(mp_user):
    MiniProgramSession.objects.filter(pk=mp_user.tokens.session.pk).update(refresh_expires_at=timezone.now() - timedelta(seconds=1))
    assert _refresh(mp_user.tokens.refresh_token).status_code == 401


def test_tokens_are_stored_only_as_digests(mp_user):
    session = MiniProgramSession.objects.get(pk=mp_user.tokens.session.pk)
    assert mp_user.tokens.access_token not in (session.access_token_hash, session.refresh_token_hash)
    assert len(session.access_token_hash) == 64
    assert session.session_key == "sk-secret"


def test_logout_revokes_the_token(mp_user):
    assert mp_user.client.post(BASE + "logout").status_code == 204
    assert mp_user.client.get(BASE + "me").status_code == 401
    assert _refresh(mp_user.tokens.refresh_token).status_code == 401


# --- profile -----------------------------------------------------------------------------------


def test_me_shows_own_editable_profile_and_no_internal_data(mp_user):
    EngagementProfile.objects.create(customer=mp_user.customer, score=0.93)
    body = mp_user.client.get(BASE + "me").json()
    assert body["id"] == mp_user.customer.pk
    assert body["display_name"] == "Mei"
    for internal in ("score", "engagement", "attributes", "source", "phone_hash", "last_engaged_at", "tags"):
        assert internal not in body


def test_patch_me_edits_allowed_fields_and_ignores_the_rest(mp_user):
    response = mp_user.client.patch(
        BASE + "me",
        {"display_name": "Mei Lin", "city": "Hangzhou", "timezone": "Asia/Shanghai", "phone": "+86 138 0000 1111", "source": "hacked", "attributes": {"vip": True}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    mp_user.customer.refresh_from_db()
    assert (mp_user.customer.display_name, mp_user.customer.city) == ("Mei Lin", "Hangzhou")
    assert mp_user.customer.phone == "13800001111"
    assert mp_user.customer.phone_hash
    assert mp_user.customer.source == ""
    assert mp_user.customer.attributes == {}


def test_patch_me_rejects_bad_values_with_a_clear_400(mp_user):
    response = mp_user.client.patch(BASE + "me", {"timezone": "Mars/Olympus", "gender": 9}, format="json")
    assert response.status_code == 400
    assert set(response.json()["detail"]) == {"timezone", "gender"}


# --- preferences -------------------------------------------------------------------------------


@pytest.fixture
def topics(db):
    group = TagGroupFactory(name="Topics")
    return {name: TagFactory(group=group, name=name) for name in ("sneakers", "coffee", "sales")}


def test_preferences_default_then_put_sets_frequency_quiet_hours_and_topics(mp_user, topics):
    initial = mp_user.client.get(BASE + "me/preferences").json()
    assert initial["frequency"] == "all"
    assert initial["quiet_hours"] is None
    assert {t["name"]: t["subscribed"] for t in initial["topics"]} == {"coffee": None, "sales": None, "sneakers": None}

    response = mp_user.client.put(
        BASE + "me/preferences",
        {
            "frequency": "weekly_digest",
            "quiet_hours": {"start": "22:00", "end": "08:00"},
            "topics": [{"id": topics["coffee"].pk, "subscribed": True}, {"id": topics["sales"].pk, "subscribed": False}],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["frequency"] == "weekly_digest"
    assert body["quiet_hours"] == {"start": "22:00", "end": "08:00"}
    assert {t["name"]: t["subscribed"] for t in body["topics"]} == {"coffee": True, "sales": False, "sneakers": None}
    preference = CustomerPreference.objects.get(customer=mp_user.customer)
    assert preference.frequency == "weekly_digest"
    assert str(preference.quiet_start) == "22:00:00"
    assert dict(TopicSubscription.objects.filter(customer=mp_user.customer).values_list("tag__name", "opted_in")) == {"coffee": True, "sales": False}
    assert list(CustomerTag.objects.filter(customer=mp_user.customer).values_list("tag__name", "source")) == [("coffee", "preference")]
    # Saving them is the customer's own action (their hours, their score), the choices on the event.
    event = EngagementEvent.objects.get(customer=mp_user.customer, event_type="mp.preferences")
    assert event.account_id == mp_user.identity.account_id
    assert event.properties == {"opted_in": [topics["coffee"].pk], "opted_out": [topics["sales"].pk]}


def test_preferences_put_replaces_earlier_topic_choices(mp_user, topics):
    put = lambda chosen: mp_user.client.put(  # noqa: E731
        BASE + "me/preferences",
        {"frequency": "all", "quiet_hours": None, "topics": [{"id": topics[n].pk, "subscribed": True} for n in chosen]},
        format="json",
    )
    assert put(["coffee", "sneakers"]).status_code == 200
    assert put(["sneakers"]).status_code == 200
    assert set(CustomerTag.objects.filter(customer=mp_user.customer).values_list("tag__name", flat=True)) == {"sneakers"}
    assert set(TopicSubscription.objects.filter(customer=mp_user.customer).values_list("tag__name", flat=True)) == {"sneakers"}


def test_preferences_refuse_tags_that_are_not_topics_and_bad_values(mp_user, topics):
    internal = TagFactory(name="high-value")
    response = mp_user.client.put(
        BASE + "me/preferences",
        {"frequency": "all", "quiet_hours": None, "topics": [{"id": internal.pk, "subscribed": True}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_topic"
    assert not CustomerTag.objects.filter(customer=mp_user.customer).exists()
    bad = mp_user.client.put(BASE + "me/preferences", {"frequency": "hourly", "quiet_hours": {"start": "25:00", "end": "x"}, "topics": []}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["detail"]) == {"frequency", "quiet_hours"}


# --- consent -----------------------------------------------------------------------------------


def test_subscription_accept_adds_a_credit_and_reject_or_ban_revoke(mp_user):
    post = lambda results, **extra: mp_user.client.post(BASE + "me/subscriptions", {"results": results, **extra}, format="json")  # noqa: E731
    response = post([{"template_id": "T1", "status": "accept"}, {"template_id": "T2", "status": "accept"}])
    assert response.status_code == 200
    assert response.json() == {"applied": True, "credits": [{"template_id": "T1", "remaining": 1}, {"template_id": "T2", "remaining": 1}]}
    post([{"template_id": "T1", "status": "accept"}, {"template_id": "T2", "status": "filter"}])
    credits = dict(ConsentCredit.objects.filter(customer=mp_user.customer).values_list("template_id", "remaining"))
    assert credits == {"T1": 2, "T2": 1}
    post([{"template_id": "T1", "status": "reject"}, {"template_id": "T2", "status": "ban"}])
    credits = dict(ConsentCredit.objects.filter(customer=mp_user.customer).values_list("template_id", "remaining"))
    assert credits == {"T1": 0, "T2": 0}
    assert ConsentCredit.objects.get(template_id="T1").account_id == mp_user.identity.account_id


def test_subscription_report_with_a_request_id_is_applied_once(mp_user):
    body = {"request_id": "req-1", "results": [{"template_id": "T1", "status": "accept"}]}
    first = mp_user.client.post(BASE + "me/subscriptions", body, format="json").json()
    second = mp_user.client.post(BASE + "me/subscriptions", body, format="json").json()
    assert first["applied"] is True
    assert second == {"applied": False, "credits": [{"template_id": "T1", "remaining": 1}]}


def test_subscription_statuses_are_validated(mp_user):
    for results in ([{"template_id": "T1", "status": "maybe"}], [], [{"template_id": "x" * 129, "status": "accept"}]):
        response = mp_user.client.post(BASE + "me/subscriptions", {"results": results}, format="json")
        assert response.status_code == 400, results
    assert not ConsentCredit.objects.exists()


# --- events ------------------------------------------------------------------------------------


def _events(n: int, prefix: str = "e"):
    return [{"id": f"{prefix}{i}", "type": "page_view", "properties": {"page": f"/p/{i}"}} for i in range(n)]


def test_an_event_batch_sent_twice_is_stored_once(mp_user):
    batch = {"events": _events(50)}
    first = mp_user.client.post(BASE + "events", batch, format="json")
    assert first.status_code == 200
    assert first.json() == {"accepted": 50, "duplicates": 0, "rejected": 0, "errors": []}
    second = mp_user.client.post(BASE + "events", batch, format="json").json()
    assert (second["accepted"], second["duplicates"]) == (0, 50)
    assert EngagementEvent.objects.filter(customer=mp_user.customer, event_type="mp.page_view").count() == 50
    mp_user.customer.refresh_from_db()
    assert mp_user.customer.last_engaged_at is not None


def test_bad_events_are_reported_per_item_while_good_ones_are_kept(mp_user):
    future = (timezone.now() + timedelta(days=1)).isoformat()
    events = [
        {"id": "ok-1", "type": "purchase", "properties": {"order": "A1", "amount": 99}},
        {"id": "bad type", "type": "Purchase!"},
        {"id": "future", "type": "share", "occurred_at": future},
        "not an object",
        {"id": "big", "type": "share", "properties": {"blob": "x" * 5000}},
        {"id": "ok-2", "type": "add_to_cart", "occurred_at": (timezone.now() - timedelta(hours=3)).isoformat()},
    ]
    response = mp_user.client.post(BASE + "events", {"events": events}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 4)
    assert [e["index"] for e in body["errors"]] == [1, 2, 3, 4]
    assert set(body["errors"][0]["errors"]) == {"id", "type"}
    assert "occurred_at" in body["errors"][1]["errors"]
    assert body["errors"][2]["id"] is None
    stored = set(EngagementEvent.objects.filter(customer=mp_user.customer).values_list("event_type", flat=True))
    assert stored == {"mp.purchase", "mp.add_to_cart"}


@pytest.mark.parametrize(
    "body",
    [{}, {"events": []}, {"events": "x"}, {"events": _events(501)}, [1, 2]],
    ids=["missing", "empty", "not-a-list", "over-500", "not-an-object"],
)
def test_a_bad_event_envelope_is_a_400_and_stores_nothing(mp_user, body):
    response = mp_user.client.post(BASE + "events", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not EngagementEvent.objects.exists()


def test_an_oversized_body_is_refused_with_413(mp_user):
    response = mp_user.client.post(BASE + "me/subscriptions", {"results": [{"template_id": "T", "status": "accept"}], "pad": "x" * 70000}, format="json")
    assert response.status_code == 413


def test_malformed_json_is_a_400(mp_user):
    response = mp_user.client.post(BASE + "events", data="{nope", content_type="application/json")
    assert response.status_code == 400


# --- inbox -------------------------------------------------------------------------------------


def test_inbox_lists_own_messages_newest_first_with_pagination(mp_user):
    now = timezone.now()
    for i in range(25):
        InboxMessage.objects.create(customer=mp_user.customer, title=f"m{i}", created_at=now - timedelta(minutes=i))
    page = mp_user.client.get(BASE + "inbox").json()
    assert page["count"] == 25
    assert [m["title"] for m in page["results"][:3]] == ["m0", "m1", "m2"]
    assert len(page["results"]) == 20
    assert len(mp_user.client.get(BASE + "inbox?page=2").json()["results"]) == 5
    assert mp_user.client.get(BASE + "inbox?unread=maybe").status_code == 400


def test_reading_an_inbox_message_marks_it_and_counts_as_engagement_once(mp_user):
    message = InboxMessage.objects.create(customer=mp_user.customer, title="Autumn sale", campaign_id=77, delivery_id=555)
    first = mp_user.client.post(BASE + f"inbox/{message.pk}/read")
    assert first.status_code == 200
    assert first.json()["read_at"] is not None
    mp_user.client.post(BASE + f"inbox/{message.pk}/read")
    events = EngagementEvent.objects.filter(customer=mp_user.customer, event_type="inbox.read")
    assert events.count() == 1
    assert (events[0].campaign_id, events[0].delivery_id) == (77, 555)
    assert mp_user.client.get(BASE + "inbox?unread=true").json()["count"] == 0


# --- isolation ---------------------------------------------------------------------------------


def test_a_token_reaches_only_its_own_customer(mp_user_factory, topics):
    mine, other = mp_user_factory(display_name="Mine"), mp_user_factory(display_name="Other")
    theirs = InboxMessage.objects.create(customer=other.customer, title="private to other")
    ConsentCredit.objects.create(customer=other.customer, account=other.identity.account, template_id="T1", remaining=3)

    assert mine.client.post(BASE + f"inbox/{theirs.pk}/read").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert mine.client.get(BASE + "inbox").json()["count"] == 0
    assert mine.client.get(BASE + "me").json()["id"] == mine.customer.pk
    # Ids in bodies or query strings cannot redirect a write to another customer.
    mine.client.patch(BASE + "me", {"id": other.customer.pk, "display_name": "Changed"}, format="json")
    other.customer.refresh_from_db()
    assert other.customer.display_name == "Other"
    assert mine.client.patch(BASE + f"me?customer_id={other.customer.pk}", {"display_name": "Changed"}, format="json").status_code == 400
    other.customer.refresh_from_db()
    assert other.customer.display_name == "Other"
    mine.client.post(BASE + "me/subscriptions", {"customer_id": other.customer.pk, "results": [{"template_id": "T1", "status": "reject"}]}, format="json")
    assert ConsentCredit.objects.get(customer=other.customer).remaining == 3
    mine.client.put(BASE + "me/preferences", {"customer": other.customer.pk, "frequency": "important_only", "quiet_hours": None, "topics": [{"id": topics["coffee"].pk, "subscribed": False}]}, format="json")
    assert not CustomerPreference.objects.filter(customer=other.customer).exists()
    assert not TopicSubscription.objects.filter(customer=other.customer).exists()
    mine.client.post(BASE + "events", {"customer_id": other.customer.pk, "events": _events(3)}, format="json")
    assert not EngagementEvent.objects.filter(customer=other.customer).exists()
    exported = mine.client.post(BASE + "me/export").json()
    assert exported["customer_id"] == mine.customer.pk
    assert "private to other" not in str(exported)
    assert mine.client.delete(BASE + f"me?customer_id={other.customer.pk}").status_code == 400
    assert mine.client.delete(BASE + "me").status_code == 204
    other.customer.refresh_from_db()
    assert other.customer.erased_at is None
    assert other.client.get(BASE + "me").status_code == 200


def test_the_same_client_event_ids_from_two_customers_are_both_stored(mp_user_factory):
    a, b = mp_user_factory(), mp_user_factory()
    a.client.post(BASE + "events", {"events": _events(3)}, format="json")
    response = b.client.post(BASE + "events", {"events": _events(3)}, format="json")
    assert response.json()["accepted"] == 3
    assert EngagementEvent.objects.filter(customer=b.customer).count() == 3


# --- export and erasure through the API --------------------------------------------------------


def test_delete_me_erases_and_ends_every_session(mp_user):
    InboxMessage.objects.create(customer=mp_user.customer, title="hello")
    mp_user.client.post(BASE + "events", {"events": _events(2)}, format="json")
    assert mp_user.client.delete(BASE + "me").status_code == 204
    assert mp_user.client.get(BASE + "me").status_code == 401
    assert _refresh(mp_user.tokens.refresh_token).status_code == 401
    assert not MiniProgramSession.objects.filter(customer=mp_user.customer).exists()
    mp_user.customer.refresh_from_db()
    assert mp_user.customer.erased_at is not None
    assert mp_user.customer.display_name == ""
    assert EngagementEvent.objects.filter(customer=mp_user.customer).count() == 2


def test_export_returns_my_data(mp_user):
    mp_user.client.post(BASE + "events", {"events": _events(2)}, format="json")
    response = mp_user.client.post(BASE + "me/export")
    assert response.status_code == 200
    body = response.json()
    assert body["profile"]["display_name"] == "Mei"
    assert [i["external_id"] for i in body["identities"]] == [mp_user.identity.external_id]
    assert len(body["events"]) == 2
    assert "sk-secret" not in str(body)


@pytest.mark.parametrize(
    "raw",
    ["[" * 5000 + "]" * 5000, '{"display_name": "a\\u0000b"}', '{"display_name": "\\ud800"}', '{"a": ' * 20 + "1" + "}" * 20],
    ids=["deep-nesting", "nul", "lone-surrogate", "nested-20"],
)
def test_hostile_json_is_a_400_not_a_server_error(mp_user, raw):
    response = mp_user.client.generic("PATCH", BASE + "me", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_nul_characters_inside_event_properties_are_refused(mp_user):
    raw = '{"events": [{"id": "x1", "type": "share", "properties": {"note": "a\\u0000"}}]}'
    response = mp_user.client.generic("POST", BASE + "events", raw, content_type="application/json")
    assert response.status_code == 400
    assert not EngagementEvent.objects.exists()


def test_purging_deletes_long_dead_sessions_only(mp_user_factory):
    live, expired, revoked, recently_revoked = (mp_user_factory() for _ in range(4))
    long_ago = timezone.now() - timedelta(days=8)
    MiniProgramSession.objects.filter(pk=expired.tokens.session.pk).update(refresh_expires_at=long_ago)
    MiniProgramSession.objects.filter(pk=revoked.tokens.session.pk).update(revoked_at=long_ago)
    MiniProgramSession.objects.filter(pk=recently_revoked.tokens.session.pk).update(revoked_at=timezone.now())
    assert mp_sessions_purge_task() == 2
    assert mp_sessions_purge_task() == 0
    left = set(MiniProgramSession.objects.values_list("pk", flat=True))
    assert left == {live.tokens.session.pk, recently_revoked.tokens.session.pk}
    assert live.client.get(BASE + "me").status_code == 200
