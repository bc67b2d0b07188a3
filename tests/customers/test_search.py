"""Customer search (API `?search=` and the admin changelist): an exact identifier is found by its index
without a substring scan; a name by substring (trigram index on PostgreSQL); big lists count bounded."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from customers.search import MAX_EXACT_MATCHES, customer_ids_exact, search_classify
from customers.services import customer_set_phone
from scrm.pagination import BoundedCountPaginator
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory, CustomerFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/customers/"
ADMIN = "/admin/customers/customer/"
OPENID = "oX9Kd4t8VbQ2mN7rLp3sZ1aYcE0w"
UNIONID = "o6_bmasdasdsad6_2sgVt7hMZOPfL"
EXTERNAL = "wmqfasd1e19278asdasAAAA-x1Z9"


@pytest.fixture
def admin_client_(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def people():
    oa, wecom = ChannelAccountFactory(kind="oa"), ChannelAccountFactory(kind="wecom")
    target = CustomerFactory(display_name="王小明")
    ChannelIdentityFactory(customer=target, account=oa, external_id=OPENID, unionid=UNIONID)
    ChannelIdentityFactory(customer=target, account=wecom, external_id=EXTERNAL)
    customer_set_phone(customer=target, phone="+86 138-0013-8000")
    target.save()
    others = [CustomerFactory(display_name=name) for name in ("李小明", "Alice Smith", "Tom2024", f"Order {target.pk}")]
    return target, others


def _api_ids(client, term) -> set[int]:
    response = client.get(API, {"search": term})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def _admin_ids(client, term) -> set[int]:
    response = client.get(ADMIN, {"q": term})
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def _no_substring_scan(queries) -> None:
    statements = [q["sql"].upper() for q in queries]
    assert statements and not any(" LIKE " in sql or "ILIKE" in sql for sql in statements), statements


def test_exact_identifiers_find_the_customer_without_a_substring_scan(api_client, admin_client_, people):
    target, _ = people
    for term in (OPENID, UNIONID, EXTERNAL, "13800138000", "+86 138 0013 8000", str(target.pk)):
        assert search_classify(term).kind == "identifier", term
        with CaptureQueriesContext(connection) as api_queries:
            assert _api_ids(api_client, term) == {target.pk}, term
        _no_substring_scan(api_queries.captured_queries)
        with CaptureQueriesContext(connection) as admin_queries:
            assert _admin_ids(admin_client_, term) == {target.pk}, term
        _no_substring_scan(admin_queries.captured_queries)


def test_name_search_finds_substrings_including_chinese_names(api_client, admin_client_, people):
    target, (li, alice, tom, _) = people
    for client_ids in (lambda t: _api_ids(api_client, t), lambda t: _admin_ids(admin_client_, t)):
        assert client_ids("小明") == {target.pk, li.pk}
        assert client_ids("王小明") == {target.pk}
        assert client_ids("lice sm") == {alice.pk}
        assert client_ids("ALICE") == {alice.pk}


def test_an_identifier_shaped_input_that_matches_no_identifier_is_searched_as_a_name(api_client, people):
    _, (_, _, tom, _) = people
    assert search_classify("Tom2024").kind == "identifier"
    assert _api_ids(api_client, "Tom2024") == {tom.pk}
    assert _api_ids(api_client, "oNoSuchOpenid000000000000000") == set()


def test_a_customer_id_wins_over_names_containing_the_digits(api_client, people):
    target, _ = people
    # "Order <id>" contains the digits, but the input is the target's id: exact wins.
    assert _api_ids(api_client, str(target.pk)) == {target.pk}


def test_api_count_is_bounded_and_says_so(api_client, monkeypatch):
    monkeypatch.setattr(BoundedCountPaginator, "count_limit", 5)
    for i in range(8):
        CustomerFactory(display_name=f"Bulk {i}")
    body = api_client.get(API, {"page_size": 3}).json()
    assert (body["count"], body["count_exact"]) == (5, False)
    assert len(body["results"]) == 3 and body["next"]
    body = api_client.get(API, {"search": "Bulk 7"}).json()
    assert (body["count"], body["count_exact"]) == (1, True)


def test_admin_changelist_counts_bounded_or_estimated_never_in_full(admin_client_, monkeypatch):
    monkeypatch.setattr(BoundedCountPaginator, "count_limit", 5)
    for i in range(8):
        CustomerFactory(display_name=f"Bulk {i}")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client_.get(ADMIN, {"q": "Bulk"})
    assert response.status_code == 200
    assert response.context["cl"].paginator.count_kind == "bounded"
    assert "more than 5" in response.content.decode() or "超过 5" in response.content.decode()
    # No COUNT(*) over the table: the first 6 ids in the list's order give the count and the page.
    statements = [q["sql"] for q in queries.captured_queries]
    assert not [sql for sql in statements if "COUNT(" in sql.upper()], statements
    assert any("LIMIT 6" in sql for sql in statements), statements
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer")
        response = admin_client_.get(ADMIN)
        assert response.context["cl"].paginator.count_kind == "estimated"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/customers/channelidentity/",
        "/admin/customers/engagementevent/",
        "/admin/campaigns/delivery/",
        "/admin/campaigns/suppression/",
        "/admin/customers/engagementevent/?event_type=link.click&occurred_within=7",
        "/admin/campaigns/delivery/?error_code=user_block&q=abc",
    ],
)
def test_big_changelists_render_with_bounded_paginators(admin_client_, url):
    response = admin_client_.get(url)
    assert response.status_code == 200
    assert isinstance(response.context["cl"].paginator, BoundedCountPaginator)


def test_a_name_search_runs_its_substring_match_once(api_client, admin_client_, people):
    for get in (lambda: admin_client_.get(ADMIN, {"q": "小明"}), lambda: api_client.get(API, {"search": "小明"})):
        with CaptureQueriesContext(connection) as queries:
            assert get().status_code == 200
        # Once over the table; the rows shown are then fetched by the ids it found.
        likes = [q["sql"] for q in queries.captured_queries if " LIKE " in q["sql"].upper() and '"id" IN (' not in q["sql"]]
        assert len(likes) == 1, likes


def _exact_probes(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if '"phone_hash" = ' in q["sql"] or '"external_id" = ' in q["sql"]]


def test_every_exact_probe_an_input_allows_goes_in_one_statement(api_client, people):
    # Digits can be an id, a phone and a numeric WeCom id at once: three index probes, one round trip.
    target, _ = people
    phone_twin = CustomerFactory(display_name="同号客户")
    customer_set_phone(customer=phone_twin, phone=str(target.pk).rjust(11, "1"))
    phone_twin.save()
    ChannelIdentityFactory(customer=CustomerFactory(display_name="企微数字号"), external_id=str(target.pk).rjust(11, "1"))
    term = str(target.pk).rjust(11, "1")
    with CaptureQueriesContext(connection) as queries:
        found = _api_ids(api_client, term)
    assert len(_exact_probes(queries)) == 1, _exact_probes(queries)
    assert phone_twin.pk in found and len(found) == 2


def test_a_phone_shared_by_many_does_not_crowd_out_the_customer_with_that_id():
    number = "9000001"
    owner = CustomerFactory(pk=int(number), display_name="按编号找到的客户")
    sharer = CustomerFactory(display_name="共用号码")
    customer_set_phone(customer=sharer, phone=number)
    sharer.save()
    Customer.objects.bulk_create(
        Customer(display_name=f"共用号码 {n}", phone_hash=sharer.phone_hash) for n in range(MAX_EXACT_MATCHES * 3)
    )
    found = customer_ids_exact(number)
    assert owner.pk in found and len(found) == MAX_EXACT_MATCHES * 3  # the phone's matches fill the rest of the limit
