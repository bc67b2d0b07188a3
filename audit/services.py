"""Writing the audit trail: snapshots of a row's fields, the masked difference, one entry per write."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from audit.models import AuditAction, AuditEntry
from scrm.fields import EncryptedTextField

# Values never written to the trail: only whether one is set. Matched on the field's name (any part),
# and every encrypted field (phone numbers) whatever its name.
SECRET_NAME_PARTS = ("secret", "token", "password", "aes_key", "phone", "ciphertext", "api_key", "session_key")
SECRET_SET = "<set>"
SECRET_EMPTY = "<empty>"
SECRET_CHANGED = "<changed>"
_MAX_VALUE_CHARS = 2000
_MAX_LISTED_OBJECTS = 200


def is_secret_field(name: str, field: models.Field | None = None) -> bool:
    return isinstance(field, EncryptedTextField) or any(part in name.lower() for part in SECRET_NAME_PARTS)


def _jsonable(value: Any) -> Any:
    text = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, default=str)
    if len(text) > _MAX_VALUE_CHARS:
        return text[:_MAX_VALUE_CHARS] + "…"
    return json.loads(text)


class _Secret(str):
    """A secret's digest in a snapshot; never written out (see _public)."""


def _public(value: Any) -> Any:
    if isinstance(value, _Secret):
        return SECRET_SET if value else SECRET_EMPTY
    return value


def audit_snapshot(obj: models.Model) -> dict[str, Any]:
    """The row's field values as JSON (secrets masked); many-to-many fields as sorted id lists."""
    snapshot: dict[str, Any] = {}
    opts = obj._meta
    for field in opts.concrete_fields:
        if getattr(field, "auto_now", False):
            continue  # "updated at" changes with every save: noise in a trail of what the operator changed
        value = getattr(obj, field.attname, None)
        if is_secret_field(field.name, field):
            # A digest, held in memory only, so a changed secret is told from an unchanged one.
            digest = hashlib.sha256(str(value).encode()).hexdigest() if value not in (None, "") else ""
            snapshot[field.name] = _Secret(digest)
        else:
            snapshot[field.name] = _jsonable(value)
    if obj.pk is not None:
        for field in opts.many_to_many:
            snapshot[field.name] = sorted(getattr(obj, field.name).values_list("pk", flat=True))
    return snapshot


def audit_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {"before": …, "after": …}} for the fields whose value differs."""
    changes = {}
    for name in after.keys() | before.keys():
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if isinstance(old, _Secret) and isinstance(new, _Secret) and old and new:
            changes[name] = {"before": SECRET_SET, "after": SECRET_CHANGED}
        else:
            changes[name] = {"before": _public(old), "after": _public(new)}
    return dict(sorted(changes.items()))


def client_ip(request) -> str | None:
    """The address the request came from (the proxy's, when one sits in front and is not trusted)."""
    return (getattr(request, "META", {}) or {}).get("REMOTE_ADDR") or None


def _entry(
    *, user, action: str, obj: models.Model | None = None, model: type[models.Model] | None = None,
    object_id: Any = "", object_repr: str = "", changes: dict | None = None, detail: dict | None = None,
    message: str = "", ip: str | None = None, action_name: str = "",
) -> AuditEntry:
    opts = (obj or model)._meta if (obj is not None or model is not None) else None
    is_user = user is not None and getattr(user, "is_authenticated", False)
    return AuditEntry(
        user=user if is_user else None,
        username=user.get_username() if is_user else "",
        action=action,
        action_name=action_name[:128],
        app_label=opts.app_label if opts else "",
        model=opts.model_name if opts else "",
        object_id=str(obj.pk if obj is not None and not object_id else object_id or "")[:64],
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:200],
        changes=changes or {},
        detail=detail or {},
        message=message,
        ip=ip,
    )


def audit_record(
    *, user, action: str, obj: models.Model | None = None, model: type[models.Model] | None = None,
    object_id: Any = "", object_repr: str = "", changes: dict | None = None, detail: dict | None = None,
    message: str = "", ip: str | None = None, action_name: str = "",
) -> AuditEntry:
    """Record one operator write (`changes` already masked, e.g. from audit_diff)."""
    entry = _entry(
        user=user, action=action, obj=obj, model=model, object_id=object_id, object_repr=object_repr,
        changes=changes, detail=detail, message=message, ip=ip, action_name=action_name,
    )
    entry.save()
    return entry


def audit_record_deletions(*, user, objects: Iterable[models.Model], ip: str | None = None) -> int:
    """One entry per object about to be deleted, keeping its last values (secrets masked)."""
    entries = [
        _entry(
            user=user, action=AuditAction.DELETE, obj=obj, ip=ip,
            changes={name: {"before": _public(value), "after": None} for name, value in audit_snapshot(obj).items()},
        )
        for obj in objects
    ]
    AuditEntry.objects.bulk_create(entries, batch_size=500)
    return len(entries)


def audit_record_action(
    *, user, model: type[models.Model], action_name: str, description: str, object_ids: list, total: int,
    object_names: list[str] | None = None, ip: str | None = None,
) -> AuditEntry:
    """An admin action run on a selection: its name and the objects it was run on."""
    listed = [str(pk) for pk in object_ids[:_MAX_LISTED_OBJECTS]]
    names = object_names or []
    return audit_record(
        user=user, action=AuditAction.ACTION, model=model, action_name=action_name,
        object_id=listed[0] if total == 1 else "", object_repr=", ".join(names)[:200], message=str(description),
        detail={"object_ids": listed, "object_names": names, "count": total}, ip=ip,
    )
