"""The WeCom contact sync's pages and writes: batch/get_by_user pages read ahead on a thread while
the previous step is written (the HTTP wait overlaps the database's work), and a step's pairs
written by customers' set-based contact writer (PostgreSQL) or its generic bulk upsert (the
embedded SQLite database).

批量获取客户详情 (externalcontact/batch/get_by_user, https://developer.work.weixin.qq.com/document/path/92994):
up to 100 staff members a call, up to 100 pairs a page, an opaque cursor. One reader thread: one call
in flight per sync, as before (WeCom's 45033 concerns concurrent calls).
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from customers.wecom.bulk import RelationRow, relations_import_bulk
from customers.wecom.contacts_bulk import contacts_import_pairs
from messaging.channels import wecom
from messaging.channels.audience import contact_row, identities_import
from messaging.channels.models import TagMirror


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    rows: list[tuple]  # the same as customers' contact writer takes them (PAIR_COLUMNS), built on the reader thread
    chunk: int  # where the next page starts: staff chunk and cursor within it
    cursor: str
    fetched_at: datetime


_END = object()


class PageReader:
    """Reads the pages from (chunk, cursor) on, `ahead` pages ahead of the caller, on one thread.
    The caller takes them in order with `next()` (None after the last) and must `close()` it."""

    def __init__(self, client, staff: list[str], *, chunk: int, cursor: str, batch_staff: int, limit: int, ahead: int):
        self.client, self.staff, self.batch_staff, self.limit = client, staff, batch_staff, limit
        self.position = (chunk, cursor)  # where the caller's next page starts
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, ahead))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(chunk, cursor), name="wecom-contact-pages", daemon=True)
        self._thread.start()

    def _read(self, chunk: int, cursor: str) -> None:
        try:
            while chunk * self.batch_staff < len(self.staff) and not self._stop.is_set():
                fetched_at = timezone.now()
                answer = self.client.post(
                    "externalcontact/batch/get_by_user",
                    data={"userid_list": self.staff[chunk * self.batch_staff : (chunk + 1) * self.batch_staff],
                          "cursor": cursor, "limit": self.limit},
                )  # fmt: skip
                cursor = answer.get("next_cursor") or ""
                if not cursor:
                    chunk += 1
                items = answer.get("external_contact_list") or []
                self._put(Page(items, [row for row in map(pair_row, items) if row], chunk, cursor, fetched_at))
            self._put(_END)
        except BaseException as exc:  # handed to the caller, who classifies it
            self._put(exc)

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def next(self) -> Page | None:
        item = self._queue.get()
        if item is _END:
            self._queue.put(_END)
            return None
        if isinstance(item, BaseException):
            self._queue.put(item)
            raise item
        self.position = (item.chunk, item.cursor)
        return item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.1)


# --- a step's pairs ---------------------------------------------------------------------------------

_GENDER = {1: 1, 2: 2, "1": 1, "2": 2}
_EMPTY = "[]"


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _json_list(values: Any) -> str:
    return json.dumps([str(v) for v in values if v], ensure_ascii=False) if values else _EMPTY


def pair_row(item: dict[str, Any]) -> tuple | None:
    """One batch/get_by_user entry as customers' contact writer takes it (PAIR_COLUMNS), or None."""
    contact = item.get("external_contact") or {}
    follow = item.get("follow_info") or {}
    external_id, userid = contact.get("external_userid"), follow.get("userid")
    if not external_id or not userid:
        return None
    if "tag_id" in follow:
        tags = _json_list(follow["tag_id"])
    else:  # an externalcontact/get-style follow_user: corp tags (type 1) only
        tags = _json_list([t.get("tag_id") for t in follow.get("tags") or () if int(t.get("type") or 1) == 1])
    return (
        external_id, contact.get("unionid") or "", contact.get("name") or "", contact.get("avatar") or "",
        _GENDER.get(contact.get("gender"), 0), userid, follow.get("remark") or "", follow.get("description") or "",
        _json_list(follow.get("remark_mobiles")), follow.get("remark_corp_name") or "", tags,
        _int(follow.get("add_way")) or 0, follow.get("state") or "", _int(follow.get("createtime")),
    )  # fmt: skip


def corp_tag_names(client) -> dict[str, tuple[str, str]]:
    """tag id → (name, group name): batch/get_by_user names a pair's corp tags by id only."""
    names: dict[str, tuple[str, str]] = {}
    for group in client.post("externalcontact/get_corp_tag_list", data={}).get("tag_group") or []:
        for tag in group.get("tag") or []:
            names[str(tag["id"])] = (tag.get("name", ""), group.get("group_name", ""))
    return names


def mirrored_tags(account) -> dict[str, int]:
    return dict(TagMirror.objects.filter(account=account).values_list("remote_id", "tag_id"))


@transaction.atomic
def contacts_step_write(
    account, pages: list[Page], *, fetched_at: datetime, tag_names: dict[str, tuple[str, str]],
    tag_for_remote: dict[str, int], tag_source: str,
) -> tuple[int, int]:
    """Write a step's pairs; returns (pairs, identities created)."""
    if connection.vendor == "postgresql":
        written = contacts_import_pairs(
            account_id=account.pk, kind=account.identity_kind, rows=(row for page in pages for row in page.rows),
            fetched_at=fetched_at, tag_names=tag_names, tag_for_remote=tag_for_remote, tag_source=tag_source,
        )  # fmt: skip
        return written.pairs, written.identities_created
    pairs = []
    for item in (item for page in pages for item in page.items):
        detail = _batch_item_detail(item, tag_names)
        userid = detail["follow_user"][0].get("userid") or ""
        if detail["external_contact"].get("external_userid") and userid:
            pairs.append((contact_row(detail, userid), userid, detail))
    created = identities_import(account=account, rows=[row for row, _, _ in pairs], tag_source=tag_source)
    relations_import_bulk(
        account_id=account.pk,
        kind=account.identity_kind,
        rows=[
            RelationRow(external_id=row.external_id, staff_userid=userid, follow=wecom.follow_info(detail, userid))
            for row, userid, detail in pairs
        ],
    )
    return len(pairs), created


def _batch_item_detail(item: dict[str, Any], tag_names: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """One batch/get_by_user entry as an externalcontact/get answer with that one follow_user."""
    follow = dict(item.get("follow_info") or {})
    if "tags" not in follow:
        follow["tags"] = [
            {"tag_id": tid, "type": 1, "tag_name": tag_names.get(str(tid), ("", ""))[0],
             "group_name": tag_names.get(str(tid), ("", ""))[1]}
            for tid in follow.get("tag_id") or []
        ]  # fmt: skip
    return {"external_contact": item.get("external_contact") or {}, "follow_user": [follow]}
