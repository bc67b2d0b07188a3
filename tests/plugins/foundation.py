"""Fixtures for the operator API: operators whose rights come from Django groups."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from rest_framework.test import APIClient


@pytest.fixture
def make_operator(db):
    """make_operator("customers.view_customer", …) → an APIClient logged in as a staff operator
    whose only rights are those permissions, granted through a group."""
    counter = {"n": 0}

    def make(*perms: str) -> APIClient:
        counter["n"] += 1
        group = Group.objects.create(name=f"operators-{counter['n']}")
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        user = get_user_model().objects.create_user(f"operator{counter['n']}", password="pw-operator-123", is_staff=True)
        user.groups.add(group)
        client = APIClient()
        client.force_authenticate(user)
        client.user = user
        return client

    return make
