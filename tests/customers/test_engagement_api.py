import pytest

from customers.models import EngagementEvent
from tests.factories import ChannelIdentityFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_conversion_by_identity_is_recorded_once_per_order(api_client):
    identity = ChannelIdentityFactory()
    body = {"account_id": identity.account_id, "external_id": identity.external_id, "order_id": "SO-1", "value": "99.50", "campaign_id": 7}
    first = api_client.post("/api/v1/conversions/", body, format="json")
    again = api_client.post("/api/v1/conversions/", body, format="json")
    assert first.status_code == 201 and first.json()["recorded"] == 1
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    event = EngagementEvent.objects.get()
    assert (event.customer_id, event.event_type, event.campaign_id) == (identity.customer_id, "conversion", 7)
    assert event.properties["value"] == "99.50" and event.properties["order_id"] == "SO-1"


def test_conversion_batch_reports_unknown_customers(api_client):
    customer = CustomerFactory()
    response = api_client.post("/api/v1/conversions/", [{"customer_id": customer.pk}, {"customer_id": 999999}], format="json")
    assert response.status_code == 201
    assert response.json() == {"received": 2, "recorded": 1, "duplicates": 0, "unknown_customers": [1]}


def test_conversion_without_a_customer_reference_is_400(api_client):
    response = api_client.post("/api/v1/conversions/", {"order_id": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"]
    assert api_client.post("/api/v1/conversions/", {"customer_id": 999999}, format="json").status_code == 404
