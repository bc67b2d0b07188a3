"""CSV import (upsert by openid / unionid / phone) and streaming CSV export of customers.

Import works in chunks: each chunk is validated row by row (errors carry the CSV row number and
the row is skipped), then written with a few bulk statements — existing customers found with one
query per key type, new customers/identities/unionids/tags inserted with `bulk_create`, changed
customers written with `bulk_update`. Valid rows are kept even when other rows fail.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import (
    ChannelIdentity,
    Customer,
    CustomerTag,
    CustomerUnionId,
    Gender,
    Tag,
    TagSource,
)
from customers.selectors import EXPORT_COLUMNS, customer_export_rows
from customers.serializers import mask_phone
from customers.services import identity_link_unionid, normalize_phone
from scrm.errors import ApplicationError
from scrm.fields import lookup_hash

logger = logging.getLogger(__name__)

IMPORT_CHUNK_ROWS = 2000
MAX_ERRORS_REPORTED = 1000
PROFILE_COLUMNS = ("display_name", "avatar_url", "city", "province", "country", "language", "timezone")
KNOWN_COLUMNS = {"account", "openid", "external_id", "unionid", "phone", "gender", "tags", *PROFILE_COLUMNS}
_GENDERS = {"0": 0, "1": 1, "2": 2, "unknown": 0, "male": 1, "female": 2, "m": 1, "f": 2, "男": 1, "女": 2, "未知": 0}
_IDENTITY_KIND = {"oa": "oa_openid", "miniprogram": "mp_openid", "wecom": "wecom_external"}


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_total: int = 0

    def error(self, row: int, message: str, column: str = "") -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_ERRORS_REPORTED:
            self.errors.append({"row": row, "column": column, "message": message})

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "failed": self.errors_total,
            "errors": self.errors,
        }


@dataclass
class _Row:
    number: int
    account_id: int | None
    identity_kind: str
    openid: str
    unionid: str
    phone: str
    phone_hash: str
    profile: dict[str, Any]
    attributes: dict[str, str]
    tag_ids: list[int]


def _account_model():
    # customers/ does not import messaging/: reach the account model through the identity FK.
    return ChannelIdentity._meta.get_field("account").related_model


def _decode(stream: IO[bytes]) -> io.TextIOBase:
    head = stream.read(65536)
    stream.seek(0)
    try:
        head.decode("utf-8-sig")
        encoding = "utf-8-sig"
    except UnicodeDecodeError as exc:
        # Excel on Chinese Windows saves CSV as GB18030; a cut multi-byte char at the end of the
        # sample is not an error.
        encoding = "utf-8-sig" if exc.start >= len(head) - 3 else "gb18030"
    return io.TextIOWrapper(stream, encoding=encoding, newline="")


def customers_import_csv(*, stream: IO[bytes], default_account_id: int | None = None, source: str = TagSource.IMPORT) -> ImportResult:
    """Upsert customers from a CSV file; returns counts and row-level errors (row numbers as in the file)."""
    text = _decode(stream)
    reader = csv.DictReader(text)
    if not reader.fieldnames:
        raise ApplicationError(_("The CSV file is empty."), code="import_empty")
    columns = [name.strip() for name in reader.fieldnames]
    reader.fieldnames = columns
    if not {"openid", "external_id", "unionid", "phone"} & set(columns):
        raise ApplicationError(
            _("The CSV needs at least one of the columns openid, unionid, phone."),
            code="import_no_key_column",
            detail={"columns": columns},
        )
    unknown = [c for c in columns if c not in KNOWN_COLUMNS and not c.startswith("attr.")]
    if unknown:
        raise ApplicationError(
            _("Unknown CSV columns."), code="import_unknown_columns", detail={"unknown": unknown, "allowed": sorted(KNOWN_COLUMNS) + ["attr.<name>"]}
        )

    accounts = _load_accounts()
    tags = _load_tags()
    result = ImportResult()
    chunk: list[_Row] = []
    try:
        # Row 1 is the header, so the first data row is row 2 — as a spreadsheet shows it.
        for number, raw in enumerate(reader, start=2):
            result.rows += 1
            row = _parse_row(number, raw, accounts=accounts, tags=tags, default_account_id=default_account_id, result=result)
            if row is not None:
                chunk.append(row)
            if len(chunk) >= IMPORT_CHUNK_ROWS:
                _import_chunk(chunk, result=result, source=source)
                chunk = []
    except (UnicodeDecodeError, csv.Error) as exc:
        result.error(reader.line_num, _("The file could not be read as CSV: %(error)s") % {"error": exc})
    if chunk:
        _import_chunk(chunk, result=result, source=source)
    logger.info("customer import: %s rows, %s created, %s updated, %s failed", result.rows, result.created, result.updated, result.errors_total)
    return result


def _load_accounts() -> dict[str, tuple[int, str]]:
    by_key: dict[str, tuple[int, str]] = {}
    for pk, app_id, kind in _account_model().objects.values_list("pk", "app_id", "kind"):
        by_key[str(pk)] = (pk, _IDENTITY_KIND[kind])
        by_key.setdefault(app_id, (pk, _IDENTITY_KIND[kind]))
    return by_key


def _load_tags() -> dict[str, int | None]:
    """'group/name' → id, and bare 'name' → id when the name is unique (None when ambiguous)."""
    by_key: dict[str, int | None] = {}
    for pk, name, group in Tag.objects.values_list("pk", "name", "group__name"):
        by_key[f"{group}/{name}"] = pk
        by_key[name] = None if name in by_key else pk
    return by_key


def _parse_row(number: int, raw: dict[str, Any], *, accounts, tags, default_account_id, result: ImportResult) -> _Row | None:
    if None in raw:  # more cells than header columns
        result.error(number, _("The row has more cells than the header."))
        return None
    values = {k: (v or "").strip() for k, v in raw.items() if k is not None}
    openid = values.get("openid") or values.get("external_id", "")
    unionid = values.get("unionid", "")
    phone = normalize_phone(values.get("phone", "")) if values.get("phone") else ""
    failed = False
    if values.get("phone") and len(phone.lstrip("+")) < 5:
        result.error(number, _("Not a phone number."), "phone")
        failed = True
    if not (openid or unionid or phone):
        result.error(number, _("The row needs an openid, a unionid or a phone."), "openid")
        return None
    account_id, identity_kind = None, ""
    if openid:
        key = values.get("account") or (str(default_account_id) if default_account_id else "")
        if not key:
            result.error(number, _("An openid needs an account (column 'account': id or app id)."), "account")
            failed = True
        elif key not in accounts:
            result.error(number, _("Unknown account '%(account)s'.") % {"account": key}, "account")
            failed = True
        else:
            account_id, identity_kind = accounts[key]
    profile: dict[str, Any] = {name: values[name] for name in PROFILE_COLUMNS if values.get(name)}
    if values.get("gender"):
        gender = _GENDERS.get(values["gender"].lower())
        if gender is None:
            result.error(number, _("Unknown gender '%(value)s'.") % {"value": values["gender"]}, "gender")
            failed = True
        else:
            profile["gender"] = Gender(gender)
    for name, limit in (("display_name", 128), ("city", 64), ("province", 64), ("country", 64), ("language", 16), ("avatar_url", 512), ("timezone", 64)):
        if len(profile.get(name, "")) > limit:
            result.error(number, _("Too long (at most %(limit)s characters).") % {"limit": limit}, name)
            failed = True
    if len(openid) > 128 or len(unionid) > 64:
        result.error(number, _("openid or unionid too long."), "openid")
        failed = True
    tag_ids: list[int] = []
    for tag_name in filter(None, (t.strip() for t in values.get("tags", "").replace("；", ";").split(";"))):
        tag_id = tags.get(tag_name)
        if tag_id is None:
            message = _("Ambiguous tag '%(tag)s': write group/name.") if tag_name in tags else _("Unknown tag '%(tag)s'.")
            result.error(number, message % {"tag": tag_name}, "tags")
            failed = True
        else:
            tag_ids.append(tag_id)
    if failed:
        return None
    attributes = {k[5:]: v for k, v in values.items() if k.startswith("attr.") and v}
    return _Row(
        number=number,
        account_id=account_id,
        identity_kind=identity_kind,
        openid=openid,
        unionid=unionid,
        phone=phone,
        phone_hash=lookup_hash(phone) if phone else "",
        profile=profile,
        attributes=attributes,
        tag_ids=tag_ids,
    )


class _NewCustomer:
    """A customer to be created by this chunk; several rows of the file may describe it."""

    def __init__(self) -> None:
        self.customer = Customer()
        self.rows: list[_Row] = []


@transaction.atomic
def _import_chunk(rows: list[_Row], *, result: ImportResult, source: str) -> None:
    by_identity: dict[tuple, int] = {}
    identity_rows: dict[tuple, tuple[int, str]] = {}  # key → (identity pk, its unionid)
    for pk, account_id, kind, external_id, customer_id, unionid in ChannelIdentity.objects.filter(
        external_id__in={r.openid for r in rows if r.openid}
    ).values_list("pk", "account_id", "kind", "external_id", "customer_id", "unionid"):
        by_identity[(account_id, kind, external_id)] = customer_id
        identity_rows[(account_id, kind, external_id)] = (pk, unionid)
    by_unionid = dict(
        CustomerUnionId.objects.filter(unionid__in={r.unionid for r in rows if r.unionid}).values_list("unionid", "customer_id")
    )
    by_phone: dict[str, int] = {}
    for phone_hash, customer_id in (
        Customer.objects.filter(phone_hash__in={r.phone_hash for r in rows if r.phone_hash}, erased_at__isnull=True)
        .order_by("-id")
        .values_list("phone_hash", "id")
    ):
        by_phone[phone_hash] = customer_id  # newest first, so the oldest customer is written last and wins

    # Within the chunk, later rows may describe a person introduced by an earlier row.
    pending: dict[tuple, _NewCustomer] = {}
    targets: list[tuple[_Row, int | _NewCustomer]] = []
    for row in rows:
        keys = _row_keys(row)
        identity_owner = by_identity.get((row.account_id, row.identity_kind, row.openid)) if row.openid else None
        unionid_owner = by_unionid.get(row.unionid) if row.unionid else None
        existing = {cid for cid in (identity_owner, unionid_owner) if cid}
        if len(existing) > 1:
            # The file says this follower has a unionid another customer owns: one person. The
            # late unionid link below merges them, as identity resolution does for callbacks.
            targets.append((row, identity_owner))
            continue
        if not existing and row.phone_hash and row.phone_hash in by_phone:
            existing = {by_phone[row.phone_hash]}
        if existing:
            targets.append((row, existing.pop()))
            continue
        slot = next((pending[k] for k in keys if k in pending), None)
        if slot is None:
            slot = _NewCustomer()
        for key in keys:
            pending.setdefault(key, slot)
        slot.rows.append(row)
        targets.append((row, slot))

    now = timezone.now()
    new_slots = list({id(s): s for _, s in targets if isinstance(s, _NewCustomer)}.values())
    for slot in new_slots:
        for row in slot.rows:
            _apply_row(slot.customer, row)
    Customer.objects.bulk_create([s.customer for s in new_slots], batch_size=1000)
    result.created += len(new_slots)

    existing_ids = {t for _, t in targets if isinstance(t, int)}
    customers = Customer.objects.in_bulk(existing_ids)
    changed_fields: set[str] = set()
    for row, target in targets:
        if isinstance(target, int) and target in customers:
            changed_fields |= _apply_row(customers[target], row)
    if changed_fields:
        for customer in customers.values():
            customer.updated_at = now
        Customer.objects.bulk_update(list(customers.values()), [*sorted(changed_fields), "updated_at"], batch_size=1000)
    result.updated += len(customers)

    def customer_id_of(target: int | _NewCustomer) -> int:
        return target if isinstance(target, int) else target.customer.pk

    identities: dict[tuple, ChannelIdentity] = {}
    unionids: dict[str, int] = {}
    late_unionid_links: dict[tuple, tuple[str, int]] = {}
    customer_tags: dict[tuple[int, int], CustomerTag] = {}
    for row, target in targets:
        customer_id = customer_id_of(target)
        if row.openid:
            key = (row.account_id, row.identity_kind, row.openid)
            if key not in by_identity:
                identities.setdefault(
                    key,
                    ChannelIdentity(
                        customer_id=customer_id,
                        account_id=row.account_id,
                        kind=row.identity_kind,
                        external_id=row.openid,
                        unionid=row.unionid,
                    ),
                )
            elif row.unionid and identity_rows[key][1] != row.unionid:
                late_unionid_links[key] = (row.unionid, customer_id)
        if row.unionid and row.unionid not in by_unionid:
            unionids.setdefault(row.unionid, customer_id)
        for tag_id in row.tag_ids:
            customer_tags.setdefault((customer_id, tag_id), CustomerTag(customer_id=customer_id, tag_id=tag_id, source=source, assigned_at=now))

    ChannelIdentity.objects.bulk_create(identities.values(), batch_size=1000, ignore_conflicts=True)
    CustomerUnionId.objects.bulk_create(
        [CustomerUnionId(unionid=u, customer_id=c) for u, c in unionids.items()], batch_size=1000, ignore_conflicts=True
    )
    CustomerTag.objects.bulk_create(customer_tags.values(), batch_size=1000, ignore_conflicts=True)
    # An existing identity whose unionid becomes known: usually the unionid is this customer's
    # (one bulk UPDATE); if another customer owns it, the identity service merges the two.
    simple, merging = [], []
    for key, (unionid, customer_id) in late_unionid_links.items():
        owner = by_unionid.get(unionid, unionids.get(unionid))
        (simple if owner in (None, customer_id) else merging).append((key, unionid))
    ChannelIdentity.objects.bulk_update(
        [ChannelIdentity(pk=identity_rows[key][0], unionid=unionid) for key, unionid in simple], ["unionid"], batch_size=1000
    )
    for (account_id, kind, external_id), unionid in merging:
        identity = ChannelIdentity.objects.get(account_id=account_id, kind=kind, external_id=external_id)
        identity_link_unionid(identity=identity, unionid=unionid)


def _row_keys(row: _Row) -> list[tuple]:
    keys: list[tuple] = []
    if row.openid:
        keys.append(("identity", row.account_id, row.identity_kind, row.openid))
    if row.unionid:
        keys.append(("unionid", row.unionid))
    if row.phone_hash:
        keys.append(("phone", row.phone_hash))
    return keys


def _apply_row(customer: Customer, row: _Row) -> set[str]:
    """Values present in the file win over stored ones; attributes are merged."""
    changed: set[str] = set()
    for name, value in row.profile.items():
        if getattr(customer, name) != value:
            setattr(customer, name, value)
            changed.add(name)
    if row.phone and customer.phone_hash != row.phone_hash:
        customer.phone, customer.phone_hash = row.phone, row.phone_hash
        changed |= {"phone", "phone_hash"}
    if row.attributes:
        merged = {**(customer.attributes or {}), **row.attributes}
        if merged != customer.attributes:
            customer.attributes = merged
            changed.add("attributes")
    return changed


# --- export ------------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ is shown as text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def customers_export_csv(*, filters: dict[str, Any] | None = None, unmask_phone: bool = False) -> Iterator[str]:
    """CSV lines (header first) for the filtered customers, generated while streaming."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(EXPORT_COLUMNS)  # BOM: Excel then reads UTF-8 (Chinese names)
    for row in customer_export_rows(filters=filters):
        row["phone"] = row["phone"] if unmask_phone else mask_phone(row["phone"])
        row["attributes"] = json.dumps(row["attributes"], ensure_ascii=False) if row["attributes"] else ""
        for name in ("first_seen_at", "last_engaged_at"):
            row[name] = row[name].isoformat() if row[name] else ""
        yield writer.writerow([_cell(row[column]) for column in EXPORT_COLUMNS])


