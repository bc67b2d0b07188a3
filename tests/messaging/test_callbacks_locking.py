"""Processing a callback locks its inbound message, not the channel account: every event recorded for
the account checks its foreign key (KEY SHARE on the account row), and a FOR UPDATE held on that row
by each processing transaction deadlocked with dispatch recording delivery reports (make e2e)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from messaging.callbacks import services
from tests.plugins.callbacks import wechat_payload

pytestmark = pytest.mark.django_db(transaction=True)


def _other_connection() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"], host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None,
        autocommit=True,
    )


def test_processing_a_callback_leaves_the_account_row_free_for_foreign_key_checks(deliver, callback_oa_account, monkeypatch):
    seen: list[str] = []
    process_fields = services.process_fields

    def probe(*, account, fields, inbound):
        # What a concurrent transaction's foreign-key check asks for, without waiting.
        with _other_connection() as other:
            try:
                other.execute("SELECT 1 FROM accounts_channelaccount WHERE id = %s FOR KEY SHARE NOWAIT", [account.pk])
                seen.append("free")
            except psycopg.errors.LockNotAvailable:
                seen.append("locked")
        return process_fields(account=account, fields=fields, inbound=inbound)

    monkeypatch.setattr(services, "process_fields", probe)
    deliver(callback_oa_account, wechat_payload("subscribe.xml", openid="o-lock", create_time="1760000000"))
    assert seen == ["free"]
