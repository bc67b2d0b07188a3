"""Items of the mini-program message centre go in through customers' inbox service."""

import pytest

from customers.models import InboxMessage
from customers.services.inbox import InboxItem, inbox_messages_create
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_one_item_per_customer_and_campaign_however_often_it_is_put_in():
    customer = CustomerFactory()
    item = InboxItem(customer_id=customer.pk, title="Spring sale " + "x" * 200, body="20% off", campaign_id=7, delivery_id=70)
    inbox_messages_create(items=[item])
    inbox_messages_create(items=[item])
    stored = InboxMessage.objects.get(customer=customer)
    assert stored.body == "20% off" and stored.delivery_id == 70
    assert len(stored.title) == 128 and stored.title.startswith("Spring sale")
