import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from customers.models import Customer, CustomerTag
from customers.services import customer_set_phone
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory, CustomerFactory, TagFactory, TagGroupFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers/"


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_token_auth_works_for_a_user_made_with_createsuperuser(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "pw-boss-12345")
    call_command("createsuperuser", interactive=False, username="boss", email="boss@example.com", verbosity=0)
    client = APIClient()

    response = client.post("/api/v1/auth/token/", {"username": "boss", "password": "pw-boss-12345"}, format="json")

    assert response.status_code == 200
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(URL).status_code == 200


def test_anonymous_requests_are_refused():
    assert APIClient().get(URL).status_code in (401, 403)


def test_list_is_paginated(api_client):
    CustomerFactory.create_batch(3)
    body = api_client.get(URL, {"page_size": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]


def test_filter_by_tag_any_and_all(api_client):
    coffee, tea = TagFactory(name="coffee"), TagFactory(name="tea")
    both, only_coffee, neither = CustomerFactory(), CustomerFactory(), CustomerFactory()
    CustomerTag.objects.create(customer=both, tag=coffee)
    CustomerTag.objects.create(customer=both, tag=tea)
    CustomerTag.objects.create(customer=only_coffee, tag=coffee)

    assert _ids(api_client.get(URL, {"tag": coffee.id})) == {both.id, only_coffee.id}
    assert _ids(api_client.get(URL, {"tag": f"{coffee.id},{tea.id}"})) == {both.id, only_coffee.id}
    assert _ids(api_client.get(URL, {"tag_all": f"{coffee.id},{tea.id}"})) == {both.id}
    assert neither.id not in _ids(api_client.get(URL, {"tag": tea.id}))


def test_filter_by_account_and_follow_state_on_that_account(api_client):
    oa, mp = ChannelAccountFactory(kind="oa"), ChannelAccountFactory(kind="miniprogram")
    follower = ChannelIdentityFactory(account=oa, follow_state="following").customer
    gone = ChannelIdentityFactory(account=oa, follow_state="unfollowed").customer
    mp_user = ChannelIdentityFactory(account=mp, follow_state="following").customer

    assert _ids(api_client.get(URL, {"account": oa.id})) == {follower.id, gone.id}
    assert _ids(api_client.get(URL, {"account": oa.id, "follow_state": "following"})) == {follower.id}
    assert _ids(api_client.get(URL, {"follow_state": "unfollowed"})) == {gone.id}
    assert _ids(api_client.get(URL, {"account": mp.id})) == {mp_user.id}


def test_unknown_follow_state_is_a_400_naming_the_choices(api_client):
    response = api_client.get(URL, {"follow_state": "maybe"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_filter"


def test_search_finds_a_customer_by_any_of_its_openids_and_external_ids(api_client):
    oa, mp, wecom = (ChannelAccountFactory(kind=k) for k in ("oa", "miniprogram", "wecom"))
    customer = CustomerFactory(display_name="王小明")
    ChannelIdentityFactory(customer=customer, account=oa, external_id="oOA-openid-1", unionid="uUNION-1")
    ChannelIdentityFactory(customer=customer, account=mp, external_id="oMP-openid-1", unionid="uUNION-1")
    ChannelIdentityFactory(customer=customer, account=wecom, external_id="wmEXTERNAL-1")
    CustomerFactory(display_name="someone else")

    for term in ("oOA-openid-1", "oMP-openid-1", "wmEXTERNAL-1", "uUNION-1", "小明"):
        assert _ids(api_client.get(URL, {"search": term})) == {customer.id}, term


def test_search_finds_a_customer_by_exact_phone_through_its_hash(api_client):
    customer = CustomerFactory()
    customer_set_phone(customer=customer, phone="+86 138-0013-8000")
    customer.save()
    CustomerFactory()

    assert _ids(api_client.get(URL, {"search": "13800138000"})) == {customer.id}
    assert _ids(api_client.get(URL, {"search": "13800138001"})) == set()


def test_detail_shows_identities_and_tags(api_client):
    identity = ChannelIdentityFactory(external_id="o-detail")
    tag = TagFactory()
    CustomerTag.objects.create(customer=identity.customer, tag=tag, source="import")

    body = api_client.get(f"{URL}{identity.customer_id}/").json()

    assert body["identities"][0]["external_id"] == "o-detail"
    assert body["tags"] == [{"id": tag.id, "name": tag.name, "group": tag.group.name, "source": "import", "assigned_at": body["tags"][0]["assigned_at"]}]


def test_patch_updates_profile_merges_attributes_and_stores_phone_hashed(api_client):
    customer = CustomerFactory(attributes={"vip": "gold", "old": 1})

    response = api_client.patch(
        f"{URL}{customer.id}/",
        {"display_name": "Li Lei", "city": "上海", "attributes": {"old": None, "size": "M"}, "phone": "13912345678"},
        format="json",
    )

    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert customer.display_name == "Li Lei" and customer.city == "上海"
    assert customer.attributes == {"vip": "gold", "size": "M"}
    assert customer.phone == "13912345678" and customer.phone_hash
    assert response.json()["phone"] == "13912345678"  # the superuser may view personal data


def test_patch_rejects_a_bad_time_zone_with_400(api_client):
    customer = CustomerFactory()
    response = api_client.patch(f"{URL}{customer.id}/", {"timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400
    assert "timezone" in response.json()["detail"]


def test_phone_is_masked_for_operators_without_personal_data_permission(make_operator):
    customer = CustomerFactory()
    customer_set_phone(customer=customer, phone="13812341234")
    customer.save()
    reader = make_operator("customers.view_customer")
    trusted = make_operator("customers.view_customer", "customers.view_personal_data")

    assert reader.get(f"{URL}{customer.id}/").json()["phone"] == "138****1234"
    assert reader.get(URL).json()["results"][0]["phone"] == "138****1234"
    assert trusted.get(f"{URL}{customer.id}/").json()["phone"] == "13812341234"


def test_operators_need_group_permissions_to_read_and_change(make_operator):
    customer = CustomerFactory()
    nobody = make_operator()
    reader = make_operator("customers.view_customer")
    editor = make_operator("customers.view_customer", "customers.change_customer")

    assert nobody.get(URL).status_code == 403
    assert reader.get(URL).status_code == 200
    assert reader.patch(f"{URL}{customer.id}/", {"city": "x"}, format="json").status_code == 403
    assert editor.patch(f"{URL}{customer.id}/", {"city": "x"}, format="json").status_code == 200
    tag = TagFactory()
    body = {"tag_ids": [tag.id], "customer_ids": [customer.id]}
    assert reader.post(f"{URL}bulk-tag/", body, format="json").status_code == 403
    assert editor.post(f"{URL}bulk-tag/", body, format="json").status_code == 200


def test_bulk_tag_by_filter_tags_exactly_the_matching_customers(api_client):
    account = ChannelAccountFactory()
    followers = [ChannelIdentityFactory(account=account, follow_state="following").customer for _ in range(5)]
    others = [ChannelIdentityFactory(account=account, follow_state="unfollowed").customer for _ in range(3)]
    tag = TagFactory()

    response = api_client.post(
        f"{URL}bulk-tag/",
        {"tag_ids": [tag.id], "filter": {"account": [account.id], "follow_state": "following"}},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"matched": 5, "changed": 5}
    tagged = set(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True))
    assert tagged == {c.id for c in followers}
    assert not tagged & {c.id for c in others}
    # Again: nothing new is added.
    again = api_client.post(f"{URL}bulk-tag/", {"tag_ids": [tag.id], "filter": {"account": [account.id], "follow_state": "following"}}, format="json")
    assert again.json()["changed"] == 0


def test_bulk_tag_many_customers_by_filter_in_one_call(api_client):
    group = TagGroupFactory()
    tag = TagFactory(group=group)
    Customer.objects.bulk_create([Customer(display_name=f"bulk {i}") for i in range(3000)])

    response = api_client.post(f"{URL}bulk-tag/", {"tag_ids": [tag.id], "filter": {"search": "bulk"}}, format="json")

    assert response.json() == {"matched": 3000, "changed": 3000}
    assert CustomerTag.objects.filter(tag=tag, source="manual").count() == 3000


def test_bulk_untag_by_ids_removes_only_those_links(api_client):
    tag = TagFactory()
    keep, drop = CustomerFactory(), CustomerFactory()
    CustomerTag.objects.create(customer=keep, tag=tag)
    CustomerTag.objects.create(customer=drop, tag=tag)

    response = api_client.post(f"{URL}bulk-untag/", {"tag_ids": [tag.id], "customer_ids": [drop.id]}, format="json")

    assert response.json()["changed"] == 1
    assert list(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True)) == [keep.id]


def test_bulk_tag_needs_exactly_one_selection_and_known_tags(api_client):
    tag = TagFactory()
    assert api_client.post(f"{URL}bulk-tag/", {"tag_ids": [tag.id]}, format="json").status_code == 400
    response = api_client.post(f"{URL}bulk-tag/", {"tag_ids": [999999], "customer_ids": [1]}, format="json")
    assert response.status_code == 400
    assert "tag_ids" in response.json()["detail"]


def test_tag_groups_and_tags_crud(api_client):
    group = api_client.post("/api/v1/tag-groups/", {"name": "兴趣圈层"}, format="json")
    assert group.status_code == 201
    group_id = group.json()["id"]
    tag = api_client.post("/api/v1/tags/", {"group": group_id, "name": "咖啡"}, format="json")
    assert tag.status_code == 201
    tag_id = tag.json()["id"]
    duplicate = api_client.post("/api/v1/tags/", {"group": group_id, "name": "咖啡"}, format="json")
    assert duplicate.status_code == 400

    assert api_client.patch(f"/api/v1/tags/{tag_id}/", {"name": "精品咖啡"}, format="json").json()["name"] == "精品咖啡"
    listed = api_client.get("/api/v1/tags/", {"group": group_id}).json()
    assert [t["name"] for t in listed["results"]] == ["精品咖啡"]
    assert listed["results"][0]["customer_count"] == 0
    # A group with tags cannot go; its tags can.
    blocked = api_client.delete(f"/api/v1/tag-groups/{group_id}/")
    assert blocked.status_code == 409
    assert blocked.json()["code"] == "tag_group_not_empty"
    assert api_client.delete(f"/api/v1/tags/{tag_id}/").status_code == 204
    assert api_client.delete(f"/api/v1/tag-groups/{group_id}/").status_code == 204

