"""Serializers whose fields are built once per class (scrm.api_fields.FieldsBuiltOnce) still give each
instance fields of its own, and the answers stay what they were."""

import pytest

from customers.serializers import CustomerDetailSerializer, CustomerSerializer
from tests.factories import ChannelIdentityFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_each_serializer_has_its_own_fields_and_a_subclass_its_own_set():
    first, second = CustomerSerializer(), CustomerSerializer()
    assert first.fields["display_name"] is not second.fields["display_name"]
    assert first.fields["display_name"].parent is first and second.fields["display_name"].parent is second
    first.fields.pop("tags")
    assert "tags" in CustomerSerializer().fields
    assert "wecom_relations" in CustomerDetailSerializer().fields and "wecom_relations" not in CustomerSerializer().fields


def test_a_customer_reads_the_same_twice_with_identities_and_tags(api_client):
    customer = CustomerFactory(display_name="李雷")
    identity = ChannelIdentityFactory(customer=customer)
    bodies = [api_client.get(f"/api/v1/customers/?search={identity.external_id}").json() for _ in range(2)]
    assert bodies[0] == bodies[1]
    [row] = bodies[0]["results"]
    assert row["display_name"] == "李雷" and [i["external_id"] for i in row["identities"]] == [identity.external_id]
