import pytest
from django.db import connection

from customers.services import customer_set_phone
from scrm.fields import lookup_hash
from tests.factories import ChannelAccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _raw(sql: str, params: list) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_phone_is_ciphertext_at_rest_and_found_by_its_keyed_hash():
    customer = CustomerFactory()
    customer_set_phone(customer=customer, phone="13800138000")
    customer.save()

    stored_phone, stored_hash = _raw("SELECT phone, phone_hash FROM customers_customer WHERE id = %s", [customer.pk])

    assert "13800138000" not in stored_phone
    assert stored_phone.startswith("gAAAA")  # a Fernet token
    assert stored_hash == lookup_hash("13800138000") and "13800138000" not in stored_hash
    customer.refresh_from_db()
    assert customer.phone == "13800138000"


def test_same_phone_encrypts_differently_each_time_but_hashes_the_same():
    first, second = CustomerFactory(), CustomerFactory()
    for customer in (first, second):
        customer_set_phone(customer=customer, phone="13800138000")
        customer.save()
    rows = [_raw("SELECT phone, phone_hash FROM customers_customer WHERE id = %s", [c.pk]) for c in (first, second)]
    assert rows[0][0] != rows[1][0]
    assert rows[0][1] == rows[1][1]


def test_account_secrets_are_ciphertext_at_rest():
    account = ChannelAccountFactory(
        app_secret="s3cr3t-app-secret-0123456789abcdef", token="tok3nValue", encoding_aes_key="k" * 43
    )
    row = _raw(
        "SELECT app_secret, token, encoding_aes_key, app_id FROM accounts_channelaccount WHERE id = %s", [account.pk]
    )
    assert "s3cr3t-app-secret" not in row[0]
    assert "tok3nValue" not in row[1]
    assert "k" * 43 not in row[2]
    assert all(value.startswith("gAAAA") for value in row[:3])
    assert row[3] == account.app_id  # the app id is not a secret
    account.refresh_from_db()
    assert account.app_secret == "s3cr3t-app-secret-0123456789abcdef"
