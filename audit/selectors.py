"""Reading the audit trail: entries for an object, and an entry told in the operator's language."""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from audit.models import AuditAction, AuditEntry
from audit.services import SECRET_CHANGED, SECRET_EMPTY, SECRET_SET


def audit_entries_for(*, obj) -> QuerySet[AuditEntry]:
    opts = obj._meta
    return AuditEntry.objects.filter(app_label=opts.app_label, model=opts.model_name, object_id=str(obj.pk))


def _field_label(entry: AuditEntry, name: str) -> str:
    try:
        return str(apps.get_model(entry.app_label, entry.model)._meta.get_field(name).verbose_name)
    except (LookupError, ValueError, Exception):  # a model or field removed since
        return name


def _value(value: Any) -> str:
    markers = {SECRET_SET: _("set (hidden)"), SECRET_EMPTY: _("not set"), SECRET_CHANGED: _("changed (hidden)")}
    if isinstance(value, str) and value in markers:
        return markers[value]
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        moment = parse_datetime(value)
        if moment is not None and moment.tzinfo is not None:
            return localize(timezone.localtime(moment))  # the operator's clock, as on every other page
    if value is None or value == "":
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def entry_summary(entry: AuditEntry) -> str:
    """One line: the admin's change message, an action and its object count, or the message."""
    if entry.action == AuditAction.ACTION:
        count = entry.detail.get("count", 0)
        return _("%(action)s on %(count)d object(s)") % {"action": entry.message or entry.action_name, "count": count}
    parts = []
    if entry.changes and entry.action == AuditAction.CHANGE:
        # The fields that really changed, named in today's language (Django's change message keeps the
        # form's English labels, and lists secret inputs left empty as changed).
        labels = [_field_label(entry, name) for name in entry.changes]
        parts.append(_("Changed {fields}.").format(fields=get_text_list(labels, _("and"))))
    # Inline rows added, changed or deleted (their entries name the related object).
    change_message = entry.detail.get("change_message") or []
    related = [item for item in change_message if any(isinstance(v, dict) and "name" in v for v in item.values())]
    if not entry.changes:
        related = change_message  # no values loaded before (e.g. the changelist's inline editing): Django's words
    if related:
        parts.append(LogEntry(change_message=json.dumps(related)).get_change_message())
    if entry.message:
        parts.append(entry.message)
    if not parts and entry.action != AuditAction.CHANGE and entry.changes:
        parts.append(", ".join(_field_label(entry, name) for name in entry.changes))
    if not parts and entry.action == AuditAction.CHANGE:
        parts.append(_("No fields changed."))
    return " ".join(parts) or "—"


def entry_changes_table(entry: AuditEntry):
    if not entry.changes:
        return "—"
    rows = format_html_join(
        "",
        '<tr><td class="px-2 py-1 font-medium">{}</td><td class="px-2 py-1">{}</td><td class="px-2 py-1">{}</td></tr>',
        ((_field_label(entry, name), _value(change.get("before")), _value(change.get("after")))
         for name, change in entry.changes.items()),
    )
    return format_html(
        '<table class="border border-base-200 dark:border-base-700 text-sm"><thead><tr>'
        '<th class="px-2 py-1 text-left">{}</th><th class="px-2 py-1 text-left">{}</th>'
        '<th class="px-2 py-1 text-left">{}</th></tr></thead><tbody>{}</tbody></table>',
        _("Field"), _("Before"), _("After"), rows,
    )
