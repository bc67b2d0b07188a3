"""The console's roles, seeded as Django groups after every `migrate` (idempotent).

    查看者 viewer     reads every console page; writes nothing
    运营 operator     viewer + customers' tags, segments, campaign drafts and their lifecycle
                     (schedule, pause, resume, cancel, test send), auto-replies and custom menus; no approval
    发布者 publisher  operator + campaigns.approve_campaign (releases campaigns over the threshold)
    管理员 admin      every permission: users and groups, channel accounts, the contact policy,
                     customers' personal data, the audit log, periodic tasks

A role is the minimum its group holds: migrate adds what is missing and never removes a permission
an administrator granted by hand. A member also needs "staff status" to log in to the console.
"""

from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

VIEWER = "查看者 viewer"
OPERATOR = "运营 operator"
PUBLISHER = "发布者 publisher"
ADMIN = "管理员 admin"
ROLES = (VIEWER, OPERATOR, PUBLISHER, ADMIN)

# The product's apps: a viewer sees them all (personal data stays masked: customers.view_personal_data
# is the admin's).
PRODUCT_APPS = ("accounts", "customers", "messaging", "campaigns", "menus")

# What an operator writes, as "app_label.codename".
OPERATOR_WRITES = (
    # Customers: editing a profile and its tags (the tag inline), tags and tag groups.
    "customers.change_customer",
    "customers.add_customertag", "customers.change_customertag", "customers.delete_customertag",
    "customers.add_tag", "customers.change_tag", "customers.delete_tag",
    "customers.add_taggroup", "customers.change_taggroup", "customers.delete_taggroup",
    # Segments (builder, static upload, snapshots, counts).
    "customers.add_segment", "customers.change_segment", "customers.delete_segment",
    "customers.add_segmentsnapshot",
    # Campaigns: drafts and their lifecycle (schedule, pause, resume, cancel, test send need change).
    "campaigns.add_campaign", "campaigns.change_campaign",
    # Keyword auto-replies and the template library's sync.
    "messaging.add_autoreplyrule", "messaging.change_autoreplyrule", "messaging.delete_autoreplyrule",
    "messaging.change_messagetemplate",
    # Custom menus: edit, save versions, publish and unpublish.
    "menus.add_menu", "menus.change_menu", "menus.delete_menu",
)
PUBLISHER_EXTRA = ("campaigns.approve_campaign",)


def _perms(names) -> list[Permission]:
    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    return list(Permission.objects.filter(query))


def role_permissions() -> dict[str, list[Permission]]:
    viewer = list(Permission.objects.filter(content_type__app_label__in=PRODUCT_APPS, codename__startswith="view_")
                  .exclude(codename="view_personal_data"))
    operator = viewer + _perms(OPERATOR_WRITES)
    publisher = operator + _perms(PUBLISHER_EXTRA)
    return {VIEWER: viewer, OPERATOR: operator, PUBLISHER: publisher, ADMIN: list(Permission.objects.all())}


def roles_seed(*, using: str = "default") -> dict[str, int]:
    """Create the role groups and add the permissions each is missing; returns permissions added."""
    from django.apps import apps

    # The permissions of every app exist before they are granted (post_migrate runs app by app).
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    added = {}
    for name, permissions in role_permissions().items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        have = set(group.permissions.values_list("pk", flat=True))
        missing = [p for p in permissions if p.pk not in have]
        group.permissions.add(*missing)
        added[name] = len(missing)
    return added


def seed_roles_after_migrate(sender, using="default", **kwargs) -> None:
    """post_migrate is sent once per app with models (the console has none): seed after the last."""
    from django.apps import apps

    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if sender is last:
        roles_seed(using=using)
