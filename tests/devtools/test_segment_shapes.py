"""The segment benchmark's four shapes: the compiled rule and every hand-written form select the same
customers, each once, on a synthetic population with erased customers among them."""

import pytest
from django.db import connection
from django.utils import timezone

from customers.models import Customer
from customers.segments.members import rule_member_ids
from devtools.benchmarks.segments import hand_written_members, shapes
from devtools.population import population_generate

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the generator uses PostgreSQL COPY"),
]


def test_compiled_and_hand_written_forms_return_the_same_members_for_each_shape():
    info = population_generate(customers=400, log=lambda _: None)
    Customer.objects.filter(pk__in=range(info.first_customer_id, info.last_customer_id + 1, 7)).update(
        erased_at=timezone.now()
    )
    now = timezone.now()
    for shape in shapes(info, now):
        compiled = rule_member_ids(shape.rule, now=now)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, compiled.params)
            members = sorted(row[0] for row in cursor.fetchall())
        assert members, f"{shape.name}: the population should give the shape some members"
        assert len(members) == len(set(members)), f"{shape.name}: a member listed twice"
        erased = set(Customer.objects.filter(erased_at__isnull=False).values_list("pk", flat=True))
        assert not erased & set(members), f"{shape.name}: erased customers selected"
        for form, sql in shape.hand_written.items():
            assert sorted(hand_written_members(sql, shape.params)) == members, f"{shape.name}: {form}"
