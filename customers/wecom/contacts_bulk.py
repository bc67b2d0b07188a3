"""A WeCom contact sync's step written in a few set-based statements (PostgreSQL): the (contact,
staff member) pairs of batch/get_by_user pages COPYed into a staging table, then

1. one row per contact: its identity if known, else the customer owning its unionid, else a new
   customer; ids of new customers and identities taken from their sequences right there;
2. the new customers and identities inserted with those ids (ON CONFLICT DO NOTHING: an identity a
   concurrent writer created first wins, and the customer made for it is removed again);
3. unionid owners recorded; an identity whose unionid another customer owns is merged as identity
   resolution does (row by row: rare);
4. the pairs upserted; a pair that changed after the pages were fetched (an event) is left as the
   event made it, and an unchanged pair is not written at all (a second sync writes nothing);
5. mirrored corp tags linked; follow state and sender derived for identities known before (a new
   identity gets them at insert, from its pairs).

No Python object per pair but the tuple COPY sends (built by the caller, e.g. on the thread that
reads the pages). The generic path
(customers' bulk upsert + `relations_import_bulk`) stays for the embedded SQLite database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from customers.models import ChannelIdentity, Customer, CustomerTag, CustomerUnionId, FollowState
from customers.services.bulk.rows import CUSTOMER_FIELDS
from customers.services.identity import identity_link_unionid
from customers.wecom.models import RelationState, WeComRelation, WeComStaff
from scrm.sqltools import render, table

_PAIRS = sql.Identifier("wecom_sync_pairs")
_CONTACTS = sql.Identifier("wecom_sync_contacts")
_T = {
    "pairs": _PAIRS, "contacts": _CONTACTS, "identity": table(ChannelIdentity), "customer": table(Customer),
    "unionid": table(CustomerUnionId), "relation": table(WeComRelation), "staff": table(WeComStaff),
    "customer_tag": table(CustomerTag),
}  # fmt: skip


def _q(template: str, **extra: Any) -> str:
    return render(sql.SQL(template).format(**_T, **extra))


# Session-lived staging tables, emptied at each commit (no catalog churn per step).
_STAGING = [
    # Statements of 10,000 rows cost enough for the planner to JIT-compile them: ~140 ms of
    # compiling each (measured), more than they then save.
    "SET LOCAL jit = off",
    _q(
        "CREATE TEMP TABLE IF NOT EXISTS {pairs} (ord bigserial, external_id text, unionid text, name text, avatar text, "
        "gender smallint, staff_userid text, remark text, description text, remark_mobiles jsonb, remark_corp_name text, "
        "tag_ids jsonb, add_way integer, channel_state text, added_epoch bigint) ON COMMIT DELETE ROWS"
    ),
    _q(
        "CREATE TEMP TABLE IF NOT EXISTS {contacts} (external_id text PRIMARY KEY, unionid text, display_name text, "
        "avatar_url text, gender smallint, followed_at timestamptz, scene text, owner text, identity_id bigint, "
        "customer_id bigint, new_customer boolean, created boolean) ON COMMIT DELETE ROWS"
    ),
    # Empty already after a commit; not when one transaction writes several steps.
    _q("TRUNCATE {pairs}, {contacts}"),
]
# What a caller gives per pair, in this order: the contact (external_userid, unionid, name, avatar
# URL, gender 0/1/2), the staff member's userid, the pair's follow_info (remark, description,
# remark_mobiles and corp tag ids as JSON array texts, remark_corp_name, add_way, state, createtime
# in epoch seconds). Lengths are cut to the columns' here, not by the caller.
PAIR_COLUMNS = (
    "external_id", "unionid", "name", "avatar", "gender", "staff_userid", "remark", "description", "remark_mobiles",
    "remark_corp_name", "tag_ids", "add_way", "channel_state", "added_epoch",
)  # fmt: skip
_COPY_PAIRS = render(
    sql.SQL("COPY {} ({}) FROM STDIN").format(_PAIRS, sql.SQL(", ").join(map(sql.Identifier, PAIR_COLUMNS)))
)
_ANALYZE = _q("ANALYZE {pairs}")

# 1. One row per contact. Known identities are probed by external id alone (IS NOT DISTINCT FROM is
# no index condition, on purpose): statistics taken before a sync think the new corp has no
# identities, and a planner trusting them probes (kind, …) or (account_id) indexes that the sync
# itself fills, scanning every row written so far for each contact (quadratic; seen at 100,000).
# Its sender (owner) as identities_reachability_refresh derives it from
# active pairs: a departed staff member last, then the latest interaction (a new pair's is its
# adding), the latest added, the userid; followed since its first pair.
_CONTACTS_FILL = _q(
    """
    INSERT INTO {contacts} (external_id, unionid, display_name, avatar_url, gender, followed_at, scene, owner,
                            identity_id, customer_id, new_customer, created)
    SELECT f.external_id, f.unionid, f.display_name, f.avatar_url, f.gender, f.followed_at, f.scene, f.owner,
           COALESCE(i.id, nextval(%(identity_seq)s::regclass)),
           COALESCE(i.customer_id, u.customer_id, nextval(%(customer_seq)s::regclass)),
           i.id IS NULL AND u.customer_id IS NULL, i.id IS NULL
    FROM (
        SELECT DISTINCT ON (p.external_id) p.external_id, left(p.unionid, 64) AS unionid,
               left(p.name, 128) AS display_name, left(p.avatar, 512) AS avatar_url, p.gender,
               min(to_timestamp(p.added_epoch)) OVER w AS followed_at,
               left(p.channel_state, 64) AS scene, left(p.staff_userid, 64) AS owner
        FROM {pairs} p
        LEFT JOIN {staff} s ON s.account_id = %(account)s AND s.userid = p.staff_userid AND s.departed_at IS NOT NULL
        WINDOW w AS (PARTITION BY p.external_id ORDER BY (s.id IS NOT NULL), p.added_epoch DESC NULLS LAST, p.staff_userid
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        ORDER BY p.external_id, (s.id IS NOT NULL), p.added_epoch DESC NULLS LAST, p.staff_userid
    ) f
    LEFT JOIN LATERAL (
        SELECT i.id, i.customer_id FROM {identity} i
        WHERE i.external_id = f.external_id
          AND i.account_id IS NOT DISTINCT FROM %(account)s AND i.kind IS NOT DISTINCT FROM %(kind)s LIMIT 1
    ) i ON true
    LEFT JOIN LATERAL (SELECT u.customer_id FROM {unionid} u WHERE f.unionid <> '' AND u.unionid = f.unionid LIMIT 1) u ON true
    """
)
_SEQUENCES = render(
    sql.SQL("SELECT pg_get_serial_sequence({}, 'id'), pg_get_serial_sequence({}, 'id')").format(
        sql.Literal(ChannelIdentity._meta.db_table), sql.Literal(Customer._meta.db_table)
    )
)
_sequences: list[str] = []  # the two sequences' names, looked up once per process
_TO_CREATE = _q("SELECT count(*) FROM {contacts} WHERE created")

# 2. New customers (every column the model has: Django's defaults are not the database's) and identities.
_FROM_CONTACT = {"display_name": "c.display_name", "avatar_url": "c.avatar_url", "gender": "c.gender",
                 "first_seen_at": "COALESCE(c.followed_at, %(now)s)"}  # fmt: skip
_DEFAULTED = [f for f in CUSTOMER_FIELDS if f.attname not in _FROM_CONTACT and f.attname not in ("created_at", "updated_at")]
_CUSTOMERS_INSERT = render(
    sql.SQL("INSERT INTO {customer} (id, {columns}, created_at, updated_at) SELECT c.customer_id, {values}, %(now)s, %(now)s "
            "FROM {contacts} c WHERE c.new_customer").format(
        customer=_T["customer"], contacts=_CONTACTS,
        columns=sql.SQL(", ").join(sql.Identifier(f.column) for f in (*_DEFAULTED, *(Customer._meta.get_field(n) for n in _FROM_CONTACT))),
        values=sql.SQL(", ").join(
            [sql.SQL("%({})s::{}").format(sql.SQL("d_" + f.attname), sql.SQL(f.db_type(connection))) for f in _DEFAULTED]
            + [sql.SQL(expr) for expr in _FROM_CONTACT.values()]
        ),
    )
)
_IDENTITIES_INSERT = _q(
    """
    INSERT INTO {identity} (id, customer_id, account_id, kind, external_id, unionid, follow_state, followed_at,
                            unfollowed_at, subscribe_scene, owner_staff_id, last_interaction_at, do_not_disturb,
                            refuses_template, created_at, updated_at)
    SELECT c.identity_id, c.customer_id, %(account)s, %(kind)s, c.external_id, c.unionid, %(following)s, c.followed_at,
           NULL, c.scene, c.owner, NULL, false, false, %(now)s, %(now)s
    FROM {contacts} c WHERE c.created
    ON CONFLICT (account_id, kind, external_id) DO NOTHING
    """
)
# A concurrent writer created some of the identities first: theirs stand, the customers made for
# them go, and those contacts are treated as known.
_LOST_CUSTOMERS_DELETE = _q(
    """
    DELETE FROM {customer} cu USING {contacts} c
    WHERE c.created AND c.new_customer AND cu.id = c.customer_id
      AND NOT EXISTS (SELECT 1 FROM {identity} i WHERE i.id = c.identity_id)
    """
)
_LOST_CONTACTS_RESOLVE = _q(
    """
    UPDATE {contacts} c SET identity_id = i.id, customer_id = i.customer_id, created = false, new_customer = false
    FROM {identity} i
    WHERE c.created AND i.account_id = %(account)s AND i.kind = %(kind)s AND i.external_id = c.external_id
      AND i.id <> c.identity_id
    """
)

# 3. Unionid owners, then identities whose unionid is not theirs yet (recorded, merged if owned by another).
_UNIONIDS_INSERT = _q(
    """
    INSERT INTO {unionid} (unionid, customer_id, created_at)
    SELECT DISTINCT ON (c.unionid) c.unionid, c.customer_id, %(now)s FROM {contacts} c WHERE c.unionid <> ''
    ORDER BY c.unionid, c.created DESC, c.external_id
    ON CONFLICT (unionid) DO NOTHING
    """
)
_UNIONIDS_TO_LINK = _q(
    """
    SELECT c.identity_id, c.unionid FROM {contacts} c
    CROSS JOIN LATERAL (SELECT u.customer_id FROM {unionid} u WHERE u.unionid = c.unionid LIMIT 1) u
    WHERE c.unionid <> '' AND u.customer_id <> c.customer_id
    UNION
    SELECT c.identity_id, c.unionid FROM {contacts} c
    CROSS JOIN LATERAL (SELECT i.unionid FROM {identity} i WHERE i.id = c.identity_id LIMIT 1) i
    WHERE NOT c.created AND c.unionid <> '' AND i.unionid <> c.unionid
    """
)
_CUSTOMERS_AFTER_MERGE = _q(
    "UPDATE {contacts} c SET customer_id = i.customer_id FROM {identity} i WHERE i.id = c.identity_id AND c.customer_id <> i.customer_id"
)

# 4. The pairs. Corp tags as follow_user.tags names them ({"id", "name", "group"}), from the corp's
# tag list (`names`: {tag id: [name, group]}). A pair changed since the pages were fetched (an event
# wrote it) keeps the event's state; an unchanged pair is not rewritten.
_RELATIONS_UPSERT = _q(
    """
    INSERT INTO {relation} AS r (identity_id, staff_userid, state, half, remark, description, remark_mobiles,
                                 remark_corp_name, tags, add_way, channel_state, added_at, removed_at, last_interaction_at,
                                 state_changed_at, created_at, updated_at)
    SELECT DISTINCT ON (c.identity_id, left(p.staff_userid, 64))
           c.identity_id, left(p.staff_userid, 64), %(active)s, false, left(coalesce(p.remark, ''), 128),
           left(coalesce(p.description, ''), 512),
           CASE WHEN jsonb_array_length(p.remark_mobiles) > 0 THEN (
               SELECT coalesce(jsonb_agg(left(m.v, 32) ORDER BY m.k), '[]') FROM (
                   SELECT v, k FROM jsonb_array_elements_text(p.remark_mobiles) WITH ORDINALITY AS t(v, k)
                   WHERE v <> '' ORDER BY k LIMIT 20) AS m
           ) ELSE '[]'::jsonb END,
           left(coalesce(p.remark_corp_name, ''), 128),
           CASE WHEN jsonb_array_length(p.tag_ids) > 0 THEN (
               SELECT jsonb_agg(jsonb_build_object('id', t.id, 'name', coalesce(%(names)s::jsonb -> t.id ->> 0, ''),
                                                   'group', coalesce(%(names)s::jsonb -> t.id ->> 1, '')) ORDER BY t.n)
               FROM jsonb_array_elements_text(p.tag_ids) WITH ORDINALITY AS t(id, n)
           ) ELSE '[]'::jsonb END,
           least(greatest(coalesce(p.add_way, 0), 0), 32767), left(coalesce(p.channel_state, ''), 64),
           to_timestamp(p.added_epoch), NULL, to_timestamp(p.added_epoch), %(fetched)s, %(now)s, %(now)s
    FROM {pairs} p JOIN {contacts} c ON c.external_id = p.external_id
    WHERE p.staff_userid <> ''
    ORDER BY c.identity_id, left(p.staff_userid, 64), p.ord DESC
    ON CONFLICT (identity_id, staff_userid) DO UPDATE SET
        state = EXCLUDED.state, half = EXCLUDED.half, remark = EXCLUDED.remark, description = EXCLUDED.description,
        remark_mobiles = EXCLUDED.remark_mobiles, remark_corp_name = EXCLUDED.remark_corp_name, tags = EXCLUDED.tags,
        add_way = EXCLUDED.add_way, channel_state = EXCLUDED.channel_state, added_at = EXCLUDED.added_at,
        removed_at = NULL,
        state_changed_at = CASE WHEN r.state = EXCLUDED.state THEN r.state_changed_at ELSE EXCLUDED.state_changed_at END,
        updated_at = EXCLUDED.updated_at
    WHERE r.updated_at < %(fetched_exact)s
      AND (r.state_changed_at IS NULL OR r.state_changed_at <= EXCLUDED.state_changed_at)
      AND (r.state, r.half, r.remark, r.description, r.remark_mobiles, r.remark_corp_name, r.tags, r.add_way,
           r.channel_state, r.added_at, r.removed_at)
          IS DISTINCT FROM
          (EXCLUDED.state, EXCLUDED.half, EXCLUDED.remark, EXCLUDED.description, EXCLUDED.remark_mobiles,
           EXCLUDED.remark_corp_name, EXCLUDED.tags, EXCLUDED.add_way, EXCLUDED.channel_state, EXCLUDED.added_at, NULL)
    """
)

# 5. Mirrored corp tags (`remote`: WeCom tag ids, `tag`: the product's) on the contacts' customers.
_TAGS_LINK = _q(
    """
    INSERT INTO {customer_tag} (customer_id, tag_id, source, assigned_at)
    SELECT DISTINCT c.customer_id, m.tag_id, %(source)s, %(now)s
    FROM {pairs} p JOIN {contacts} c ON c.external_id = p.external_id
    CROSS JOIN LATERAL jsonb_array_elements_text(p.tag_ids) AS t(id)
    JOIN unnest(%(remote)s::text[], %(tag)s::bigint[]) AS m(remote_id, tag_id) ON m.remote_id = t.id
    WHERE jsonb_array_length(p.tag_ids) > 0
    ON CONFLICT (customer_id, tag_id) DO NOTHING
    """
)
# …and for identities known before this step, the follow state and sender from all their pairs.
_KNOWN_DERIVE = _q(
    """
    UPDATE {identity} i SET follow_state = %(following)s,
        followed_at = CASE WHEN i.follow_state = %(following)s THEN COALESCE(i.followed_at, c.followed_at) ELSE %(fetched)s END,
        subscribe_scene = CASE WHEN i.subscribe_scene = '' THEN c.scene ELSE i.subscribe_scene END,
        owner_staff_id = l.staff_userid, updated_at = %(now)s
    FROM {contacts} c CROSS JOIN LATERAL (
        SELECT r.staff_userid FROM {relation} r
        LEFT JOIN {staff} s ON s.account_id = %(account)s AND s.userid = r.staff_userid AND s.departed_at IS NOT NULL
        WHERE r.identity_id = c.identity_id AND r.state = %(active)s
        ORDER BY (s.id IS NOT NULL), r.last_interaction_at DESC NULLS LAST, r.added_at DESC NULLS LAST, r.staff_userid
        LIMIT 1
    ) l
    WHERE NOT c.created AND i.id = c.identity_id
      AND (i.follow_state <> %(following)s OR i.followed_at IS NULL OR i.owner_staff_id <> l.staff_userid
           OR (i.subscribe_scene = '' AND c.scene <> ''))
    """
)


@dataclass(frozen=True)
class ContactsWritten:
    pairs: int
    identities_created: int


def _customer_defaults(now: datetime) -> dict[str, Any]:
    values = {}
    for f in _DEFAULTED:
        value = now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
        values["d_" + f.attname] = f.get_db_prep_save(value, connection)
    return values


@transaction.atomic
def contacts_import_pairs(
    *,
    account_id: int,
    kind: str,
    rows: Iterable[Sequence[Any]],
    fetched_at: datetime,
    tag_names: Mapping[str, tuple[str, str]],
    tag_for_remote: Mapping[str, int],
    tag_source: str,
) -> ContactsWritten:
    """Write one step of a WeCom contact sync (PostgreSQL only): `rows` in PAIR_COLUMNS order, as the
    pages fetched from `fetched_at` on list them. Idempotent; returns pairs read and identities created."""
    now = timezone.now()
    fetched = fetched_at.replace(microsecond=0)  # WeCom's event times have whole seconds
    params = {
        "account": account_id, "kind": kind, "now": now, "fetched": fetched, "fetched_exact": fetched_at,
        "following": FollowState.FOLLOWING, "active": RelationState.ACTIVE,
    }  # fmt: skip
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # psycopg's own, for COPY
        for statement in _STAGING:
            cursor.execute(statement)
        pairs = 0
        with cursor.copy(_COPY_PAIRS) as copy:
            for row in rows:
                copy.write_row(row)
                pairs += 1
        if not pairs:
            return ContactsWritten(0, 0)
        cursor.execute(_ANALYZE)
        if not _sequences:
            cursor.execute(_SEQUENCES)
            _sequences.extend(cursor.fetchone())
        params["identity_seq"], params["customer_seq"] = _sequences
        cursor.execute(_CONTACTS_FILL, params)
        contacts = cursor.rowcount
        cursor.execute(_CUSTOMERS_INSERT, {**params, **_customer_defaults(now)})
        cursor.execute(_TO_CREATE)
        to_create = cursor.fetchone()[0]
        cursor.execute(_IDENTITIES_INSERT, params)
        created = cursor.rowcount
        if created < to_create:
            cursor.execute(_LOST_CUSTOMERS_DELETE, params)
            cursor.execute(_LOST_CONTACTS_RESOLVE, params)
        cursor.execute(_UNIONIDS_INSERT, params)
        cursor.execute(_UNIONIDS_TO_LINK)
        to_link = cursor.fetchall()
        for identity_id, unionid in sorted(to_link):
            identity_link_unionid(identity=ChannelIdentity.objects.get(pk=identity_id), unionid=unionid)
        if to_link:
            cursor.execute(_CUSTOMERS_AFTER_MERGE)
        names = {str(k): list(v) for k, v in tag_names.items()}
        cursor.execute(_RELATIONS_UPSERT, {**params, "names": json.dumps(names, ensure_ascii=False)})
        if tag_for_remote:
            remote = sorted(tag_for_remote)
            cursor.execute(_TAGS_LINK, {**params, "source": tag_source, "remote": remote,
                                        "tag": [tag_for_remote[r] for r in remote]})  # fmt: skip
        if created < contacts:
            cursor.execute(_KNOWN_DERIVE, params)
    return ContactsWritten(pairs=pairs, identities_created=created)
