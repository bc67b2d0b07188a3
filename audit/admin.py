"""The console's base admin classes: the unfold theme, and (audit) every operator write recorded.

Every app's admin subclasses these instead of django.contrib.admin's, so the look, the permission
rule for actions and the audit trail are one decision made here:

- add / change / delete through the forms, and any custom view calling `self.log_change(...)`,
  `self.log_addition(...)` or `self.log_deletions(...)` (Django's admin API), write an AuditEntry
  next to Django's LogEntry, with the changed fields before and after (secrets masked);
- every admin action (the changelist's drop-down) is recorded with its name and the objects it ran on;
- an action that declares no `permissions` needs the change permission (Django's default would
  offer it to anyone who may view the list), for the drop-down and for unfold's action buttons,
  whose URLs also refuse an operator without the permission.
"""

from __future__ import annotations

import json
from functools import lru_cache, wraps

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.admin import StackedInline as UnfoldStackedInline
from unfold.admin import TabularInline as UnfoldTabularInline
from unfold.admin import checkbox as unfold_row_checkbox
from unfold.dataclasses import UnfoldAction

from audit.models import AuditAction, AuditEntry
from audit.services import (
    audit_diff,
    audit_record,
    audit_record_action,
    audit_record_deletions,
    audit_snapshot,
    client_ip,
)

# What an action needs when it declares nothing.
DEFAULT_ACTION_PERMISSIONS = ("change",)
# Recorded by log_deletions (one entry per deleted object) instead of as an action.
_ACTIONS_RECORDED_ELSEWHERE = {"delete_selected"}


def _before_snapshots(request) -> dict:
    if not hasattr(request, "_audit_before"):
        request._audit_before = {}
    return request._audit_before


def _key(obj) -> tuple[str, str]:
    return (obj._meta.label_lower, str(obj.pk))


def _change_message(message) -> tuple[str, dict]:
    """Django's change message is JSON (fields changed, inline rows added/changed/deleted); custom
    views pass plain text."""
    if isinstance(message, list):
        return "", {"change_message": message}
    text = str(message or "")
    try:
        parsed = json.loads(text)
    except ValueError:
        return text, {}
    return ("", {"change_message": parsed}) if isinstance(parsed, list) else (text, {})


_ROW_CHECKBOX_VALUE = "console-row-checkbox-value"


@lru_cache(maxsize=16)
def _row_checkbox_html(language: str | None) -> str:
    return str(unfold_row_checkbox.render(helpers.ACTION_CHECKBOX_NAME, _ROW_CHECKBOX_VALUE))


class ModelAdmin(UnfoldModelAdmin):
    """Project base ModelAdmin: the theme, audited writes, actions that need the change permission."""

    @admin.display(description=UnfoldModelAdmin.action_checkbox.short_description)
    def action_checkbox(self, obj):
        # unfold's row checkbox, rendered through the form widget templates once per language
        # instead of once per row (its only varying part is the row's key).
        html = _row_checkbox_html(get_language()).replace(_ROW_CHECKBOX_VALUE, escape(str(obj.pk)))
        return mark_safe(html)  # noqa: S308 (the widget's own escaped output; the key escaped here)

    # ---- before: the values loaded, kept before the form changes the instance in place
    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "POST":
            _before_snapshots(request).setdefault(_key(obj), audit_snapshot(obj))
        return obj

    # ---- Django's admin log API, each also writing the audit trail
    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        text, detail = _change_message(message)
        audit_record(
            user=request.user, action=AuditAction.ADD, obj=obj, changes=audit_diff({}, audit_snapshot(obj)),
            detail=detail, message=text, ip=client_ip(request),
        )
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        before = _before_snapshots(request).pop(_key(obj), None)
        changes = audit_diff(before, audit_snapshot(obj)) if before is not None else {}
        text, detail = _change_message(message)
        audit_record(
            user=request.user, action=AuditAction.CHANGE, obj=obj, changes=changes, detail=detail, message=text,
            ip=client_ip(request),
        )
        return entry

    def log_deletions(self, request, queryset):
        objects = list(queryset)
        entries = super().log_deletions(request, objects)
        audit_record_deletions(user=request.user, objects=objects, ip=client_ip(request))
        return entries

    # ---- actions: permission by default, and recorded
    def _filter_actions_by_permissions(self, request, actions):
        return super()._filter_actions_by_permissions(request, [_with_default_permissions(a) for a in actions])

    def get_actions(self, request):
        return {
            name: (func if name in _ACTIONS_RECORDED_ELSEWHERE else _audited_action(func, name, description),
                   name, description)
            for name, (func, name, description) in super().get_actions(request).items()
        }

    def get_unfold_action(self, action: str) -> UnfoldAction:
        unfold_action = super().get_unfold_action(action)
        method = unfold_action.method
        if not hasattr(method, "allowed_permissions"):
            method = _permissions_attached(method)
        return UnfoldAction(
            **{**unfold_action.__dict__, "method": self._permission_checked(method, unfold_action)}
        )

    def _permission_checked(self, method, unfold_action: UnfoldAction):
        """unfold mounts its action buttons as plain admin views: refuse them like the hidden button."""
        modeladmin = self

        @wraps(method)
        def view(request, *args, **kwargs):
            probe = UnfoldAction(**{**unfold_action.__dict__, "method": method})
            object_id = kwargs.get("object_id") or None
            if not modeladmin._filter_unfold_actions_by_permissions(request, [probe], object_id):
                raise PermissionDenied
            return method(request, *args, **kwargs)

        return view


def _permissions_attached(method):
    @wraps(method)
    def bound(*args, **kwargs):
        return method(*args, **kwargs)

    bound.allowed_permissions = DEFAULT_ACTION_PERMISSIONS
    return bound


def _with_default_permissions(action):
    func, name, description = action
    if hasattr(func, "allowed_permissions"):
        return action
    return (_permissions_attached(func), name, description)


def _audited_action(func, name: str, description):
    @wraps(func)
    def run(modeladmin, request, queryset):
        # Read the selection first: the action may delete or move the rows.
        ids = list(queryset.values_list("pk", flat=True)[:1000])
        total = len(ids) if len(ids) < 1000 else queryset.count()
        names = [str(obj) for obj in queryset[:20]]
        response = func(modeladmin, request, queryset)
        audit_record_action(
            user=request.user, model=modeladmin.model, action_name=name, description=description,
            object_ids=ids, object_names=names, total=total, ip=client_ip(request),
        )
        return response

    return run


class RecordAdmin(ModelAdmin):
    """A record's pages, read-only for everyone: its rows are written by the product (a sync, an event,
    the trail itself), never added, edited or deleted by an operator."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TabularInline(UnfoldTabularInline):
    """Inline rows are recorded in their parent's change (the change message lists them)."""


class StackedInline(UnfoldStackedInline):
    pass


@admin.register(AuditEntry)
class AuditEntryAdmin(RecordAdmin):
    """The trail, read-only for everyone: nobody adds, edits or deletes an entry here."""

    list_display = ["created_at", "username", "action", "model_display", "object_id", "object_repr", "summary", "ip"]
    list_filter = ["action", "user", "app_label", "model", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=object_id", "object_repr", "=username"]
    search_help_text = _("Object ID (exact), object name or username")
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    show_full_result_count = False
    actions = None
    readonly_fields = [
        "created_at", "username", "user", "action", "action_name", "model_display", "object_id", "object_repr",
        "changes_display", "summary", "ip",
    ]
    fields = readonly_fields


    @admin.display(description=_("object type"), ordering="model")
    def model_display(self, entry: AuditEntry) -> str:
        from django.apps import apps

        try:
            return str(apps.get_model(entry.app_label, entry.model)._meta.verbose_name)
        except (LookupError, ValueError):
            return f"{entry.app_label}.{entry.model}".strip(".")

    @admin.display(description=_("what changed"))
    def summary(self, entry: AuditEntry) -> str:
        from audit.selectors import entry_summary

        return entry_summary(entry)

    @admin.display(description=_("before → after"))
    def changes_display(self, entry: AuditEntry):
        from audit.selectors import entry_changes_table

        return entry_changes_table(entry)
