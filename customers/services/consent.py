"""Writes on subscribe-message consent: each `accept` of a one-time template allows one send.

Granted by the user's choice (callbacks), spent by dispatch before each send, refunded when WeChat
did not take the send, revoked when the user refuses (43101 or a later reject).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import F
from psycopg import sql

from customers.models import ConsentCredit
from scrm.sqltools import render


def consent_credit_add(*, customer_id: int, account_id: int, template_id: str, count: int = 1) -> None:
    """Record `count` accepted subscribe-message consents (one send each)."""
    credit, created = ConsentCredit.objects.get_or_create(
        customer_id=customer_id, account_id=account_id, template_id=template_id, defaults={"remaining": count}
    )
    if not created:
        ConsentCredit.objects.filter(pk=credit.pk).update(remaining=F("remaining") + count)


def consent_credit_consume(*, customer_id: int, account_id: int, template_id: str) -> bool:
    """Use one credit; False when none is left (conditional update, safe under concurrency)."""
    return customer_id in consent_credits_spend(account_id=account_id, template_id=template_id, customer_ids=[customer_id])


def consent_credit_revoke(*, customer_id: int, account_id: int, template_id: str) -> None:
    """The user refused (43101, or a later reject): no credit is left for this template."""
    ConsentCredit.objects.filter(customer_id=customer_id, account_id=account_id, template_id=template_id).update(remaining=0)


# Uses the unique index (customer, account, template) per customer of the batch.
_SPEND = sql.SQL(
    """
    UPDATE {credit} SET remaining = remaining - 1, updated_at = clock_timestamp()
    WHERE account_id = %(account)s AND template_id = %(template)s AND customer_id = ANY(%(customers)s) AND remaining > 0
    RETURNING customer_id
    """
)

_REFUND = sql.SQL(
    """
    UPDATE {credit} SET remaining = remaining + 1, updated_at = clock_timestamp()
    WHERE account_id = %(account)s AND template_id = %(template)s AND customer_id = ANY(%(customers)s)
    """
)


def consent_credits_spend(*, account_id: int, template_id: str, customer_ids: Iterable[int]) -> set[int]:
    """Spend one credit per customer where one is left; returns the customers whose credit was spent.

    One conditional UPDATE: two dispatchers spending the last credit of a customer cannot both win."""
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            render(_SPEND.format(credit=sql.Identifier(ConsentCredit._meta.db_table))),
            {"account": account_id, "template": template_id, "customers": ids},
        )
        return {row[0] for row in cursor.fetchall()}


def consent_credits_refund(*, account_id: int, template_id: str, customer_ids: Iterable[int]) -> int:
    """Give back one credit per customer whose send WeChat did not take (busy, rate limit, stopped)."""
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            render(_REFUND.format(credit=sql.Identifier(ConsentCredit._meta.db_table))),
            {"account": account_id, "template": template_id, "customers": ids},
        )
        return cursor.rowcount


def consent_credits_revoke(*, account_id: int, template_id: str, customer_ids: Iterable[int]) -> int:
    """The users refused the template (43101): none of them has a credit left for it."""
    ids = sorted({int(pk) for pk in customer_ids})
    return ConsentCredit.objects.filter(account_id=account_id, template_id=template_id, customer_id__in=ids).update(remaining=0)
