"""CSV import (upsert by openid / unionid / phone) and streaming CSV export of customers.

Import works in chunks: each chunk is validated row by row (errors carry the CSV row number and
the row is skipped), existing customers are found with one query per key type, then the chunk is
written by customers' bulk upsert (values in the file win, attributes are merged) and the tags are
assigned set-based. Valid rows are kept even when other rows fail.
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
from django.utils.translation import gettext as _

from customers.errors import CustomerError
from customers.models import ChannelIdentity, Customer, CustomerUnionId, Gender, Tag, TagSource
from customers.selectors import EXPORT_COLUMNS, customer_export_rows
from customers.serializers import mask_phone
from customers.services.bulk import CustomerUpsert, IdentityUpsert, customers_upsert_bulk
from customers.services.profile import normalize_phone
from customers.services.tags import tag_links_add_bulk
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
    try:
        header = reader.fieldnames
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ApplicationError(code=CustomerError.CSV_UNREADABLE, detail={"error": str(exc)}) from exc
    if not header:
        raise ApplicationError(code=CustomerError.IMPORT_EMPTY)
    columns = [name.strip() for name in reader.fieldnames]
    reader.fieldnames = columns
    if not {"openid", "external_id", "unionid", "phone"} & set(columns):
        raise ApplicationError(
            code=CustomerError.IMPORT_NO_KEY_COLUMN,
            detail={"columns": columns},
        )
    unknown = [c for c in columns if c not in KNOWN_COLUMNS and not c.startswith("attr.")]
    if unknown:
        raise ApplicationError(
            code=CustomerError.IMPORT_UNKNOWN_COLUMNS, detail={"unknown": unknown, "allowed": sorted(KNOWN_COLUMNS) + ["attr.<name>"]}
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
        self.rows: list[_Row] = []


@transaction.atomic
def _import_chunk(rows: list[_Row], *, result: ImportResult, source: str) -> None:
    by_identity = {
        (account_id, kind, external_id): customer_id
        for account_id, kind, external_id, customer_id in ChannelIdentity.objects.filter(
            external_id__in={r.openid for r in rows if r.openid}
        ).values_list("account_id", "kind", "external_id", "customer_id")
    }
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
    targets: dict[int | _NewCustomer, list[_Row]] = {}
    for row in rows:
        keys = _row_keys(row)
        identity_owner = by_identity.get((row.account_id, row.identity_kind, row.openid)) if row.openid else None
        unionid_owner = by_unionid.get(row.unionid) if row.unionid else None
        existing = {cid for cid in (identity_owner, unionid_owner) if cid}
        if len(existing) > 1:
            # The file says this follower has a unionid another customer owns: one person. The
            # bulk upsert links the unionid and merges them, as identity resolution does for callbacks.
            targets.setdefault(identity_owner, []).append(row)
            continue
        if not existing and row.phone_hash and row.phone_hash in by_phone:
            existing = {by_phone[row.phone_hash]}
        if existing:
            targets.setdefault(existing.pop(), []).append(row)
            continue
        slot = next((pending[k] for k in keys if k in pending), None) or _NewCustomer()
        for key in keys:
            pending.setdefault(key, slot)
        targets.setdefault(slot, []).append(row)

    upserts = [_customer_upsert(target, target_rows) for target, target_rows in targets.items()]
    written = customers_upsert_bulk(upserts, overwrite=True)
    result.created += written.customers_created
    result.updated += sum(1 for target in targets if isinstance(target, int))
    tag_links_add_bulk(
        links={
            (customer_id, tag_id)
            for customer_id, target_rows in zip(written.customer_ids, targets.values(), strict=True)
            for row in target_rows
            for tag_id in row.tag_ids
        },
        source=source,
    )


def _customer_upsert(target: int | _NewCustomer, rows: list[_Row]) -> CustomerUpsert:
    """What the file says about one customer; its rows apply in file order (later values win)."""
    values: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for row in rows:
        values.update(row.profile)
        if row.phone:
            values.update(phone=row.phone, phone_hash=row.phone_hash)
        attributes.update(row.attributes)
    if attributes:
        values["attributes"] = attributes
    return CustomerUpsert(
        customer_id=target if isinstance(target, int) else None,
        values=values,
        identities=[
            IdentityUpsert(account_id=row.account_id, kind=row.identity_kind, external_id=row.openid, unionid=row.unionid)
            for row in rows
            if row.openid
        ],
        unionids=[row.unionid for row in rows if row.unionid],
    )


def _row_keys(row: _Row) -> list[tuple]:
    keys: list[tuple] = []
    if row.openid:
        keys.append(("identity", row.account_id, row.identity_kind, row.openid))
    if row.unionid:
        keys.append(("unionid", row.unionid))
    if row.phone_hash:
        keys.append(("phone", row.phone_hash))
    return keys


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


