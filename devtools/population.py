"""A synthetic population for benchmarks, written with PostgreSQL COPY (psycopg 3 `cursor.copy`).

Per customer, on average: ~1.3 identities (every customer follows the bench service account, ~30% also
have a mini-program identity), ~5 tag assignments (tag 0 on ~30%, so a 300,000-member segment exists
at 1M), ~10 engagement events over 180 days, ~3 `push.sent` events over 60 days (with campaign and
delivery ids), an engagement profile, and consent credits for ~10%.

Other apps add their own rows for the same population by connecting to `population_generated`
(e.g. campaigns creates Delivery rows from the `push.sent` events with one INSERT … SELECT); customers/
imports nothing from them.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, models, transaction
from django.dispatch import Signal

from accounts.models import ChannelAccount
from customers.models import Customer, Tag, TagGroup
from customers.segments.models import SegmentSnapshotMember, SegmentStaticMember
from customers.services.bulk import CustomerUpsert, IdentityUpsert, customers_upsert_bulk

# Sent after a population is written: kwargs customers (int), first_customer_id, last_customer_id,
# accounts (dict kind -> account id), campaign_ids (list of the synthetic campaign ids used in
# push.sent events), now (datetime). Receivers run inside the generation transaction.
population_generated = Signal()

SOURCE = "synthetic"
BENCH_APP_IDS = {"oa": "wxbench0000000001", "wecom": "wwbench0000000001", "miniprogram": "wxbenchmp00000001"}
CITIES = ["Shanghai", "Beijing", "Guangzhou", "Shenzhen", "Hangzhou", "Chengdu", "Wuhan", "Nanjing", "Xi'an", "Suzhou",
          "Tianjin", "Chongqing", "Qingdao", "Xiamen", "Dalian", "Kunming", "Changsha", "Ningbo", "Hefei", "Fuzhou"]
CITY_WEIGHTS = [16, 14, 10, 10, 8, 7, 5, 5, 4, 4, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1]
EVENT_TYPES = ["wechat.click", "link.click", "mp.page_view", "mp.purchase", "wechat.message", "inbox.read"]
EVENT_WEIGHTS = [20, 25, 30, 8, 12, 5]
TAG_GROUPS = 5
TAGS_PER_GROUP = 20
# Fixed prevalence of the first tags (the rest are spread uniformly): tag 0 is on ~30% of customers.
TAG_PREVALENCE = [0.30, 0.15, 0.10, 0.05]
CAMPAIGNS = 40
CONSENT_TEMPLATE = "TPL-bench"
CHUNK = 20_000


@dataclass
class PopulationInfo:
    customers: int
    first_customer_id: int
    last_customer_id: int
    tag_ids: list[int]
    accounts: dict[str, int]
    reused: bool
    seconds: float


def _fmt(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class _Copier:
    def __init__(self, table: str, columns: list[str]):
        self.sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        self.lines: list[str] = []

    def add(self, *values) -> None:
        self.lines.append("\t".join(_fmt(v) for v in values))

    def flush(self, cursor) -> int:
        if not self.lines:
            return 0
        with cursor.copy(self.sql) as copy:
            copy.write("\n".join(self.lines) + "\n")
        n, self.lines = len(self.lines), []
        return n


def population_size() -> int:
    return Customer.objects.filter(source=SOURCE).count()


def _bench_accounts() -> dict[str, int]:
    ids = {}
    for kind, app_id in BENCH_APP_IDS.items():
        account, _ = ChannelAccount.objects.get_or_create(kind=kind, app_id=app_id, defaults={"name": f"Bench {kind}"})
        ids[kind] = account.pk
    return ids


def _bench_tags() -> list[int]:
    ids = []
    for g in range(TAG_GROUPS):
        group, _ = TagGroup.objects.get_or_create(name=f"bench-group-{g}")
        for t in range(TAGS_PER_GROUP):
            tag, _ = Tag.objects.get_or_create(group=group, name=f"bench-{g * TAGS_PER_GROUP + t:03d}")
            ids.append(tag.pk)
    return ids


def population_delete() -> int:
    """Remove the synthetic customers and every row pointing at them (set-based, any app)."""
    ids_sql = f"SELECT id FROM {Customer._meta.db_table} WHERE source = %s"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not Customer.objects.exclude(source=SOURCE).exists():
            # A bench database holding only the synthetic population: TRUNCATE beats deleting ~20M rows.
            # Snapshot members have no FK constraint, so CASCADE does not reach them: truncate them too.
            count = Customer.objects.count()
            cursor.execute(
                f"TRUNCATE {Customer._meta.db_table}, {SegmentSnapshotMember._meta.db_table}, "
                f"{SegmentStaticMember._meta.db_table} CASCADE"
            )
            return count
        for rel in Customer._meta.related_objects:
            if isinstance(rel.field, models.ForeignKey) and rel.related_model is not Customer:
                table = rel.field.model._meta.db_table
                cursor.execute(f"DELETE FROM {table} WHERE {rel.field.column} IN ({ids_sql})", [SOURCE])
        cursor.execute(f"DELETE FROM {Customer._meta.db_table} WHERE source = %s", [SOURCE])
        return cursor.rowcount


def population_generate(*, customers: int, seed: int = 42, reuse: bool = True, log: Callable[[str], None] = print) -> PopulationInfo:
    """Write (or reuse) a synthetic population of exactly `customers` customers; PostgreSQL only."""
    if connection.vendor != "postgresql":
        raise RuntimeError("generate_population needs PostgreSQL (it uses COPY).")
    started = time.perf_counter()
    accounts, tag_ids = _bench_accounts(), _bench_tags()
    existing = population_size()
    if reuse and existing == customers:
        bounds = Customer.objects.filter(source=SOURCE).aggregate(lo=models.Min("id"), hi=models.Max("id"))
        log(f"reusing the existing synthetic population of {customers:,} customers")
        return PopulationInfo(customers, bounds["lo"], bounds["hi"], tag_ids, accounts, True, time.perf_counter() - started)
    if existing:
        log(f"removing the previous synthetic population ({existing:,} customers)")
        with transaction.atomic():
            population_delete()
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg 3 cursor, for COPY
        cursor.execute(f"LOCK TABLE {Customer._meta.db_table} IN EXCLUSIVE MODE")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        fast = _skip_row_triggers(cursor)
        rebuild = _drop_secondary_indexes(cursor)
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM customers_customer")
        first_id = cursor.fetchone()[0] + 1
        campaign_ids = list(range(1, CAMPAIGNS + 1))
        started_copy = time.perf_counter()
        counts = _write(cursor, rng=rng, now=now, first_id=first_id, n=customers, tag_ids=tag_ids, accounts=accounts, campaign_ids=campaign_ids, log=log)
        log(f"COPY took {time.perf_counter() - started_copy:.1f}s")
        started_indexes = time.perf_counter()
        for definition in rebuild:
            cursor.execute(definition)
        log(f"rebuilt {len(rebuild)} indexes in {time.perf_counter() - started_indexes:.1f}s"
            + ("" if fast else " (foreign keys were checked row by row: not a superuser)"))
        for table in ("customers_customer", "customers_engagementevent", "customers_channelidentity", "customers_customertag", "customers_consentcredit"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))")
        population_generated.send(
            sender=Customer, customers=customers, first_customer_id=first_id, last_customer_id=first_id + customers - 1,
            accounts=accounts, campaign_ids=campaign_ids, now=now,
        )
    # The visibility map makes tag conditions index-only scans of (tag, customer).
    vacuum_analyze(*LOADED_TABLES)
    seconds = time.perf_counter() - started
    log("wrote " + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + f" in {seconds:.1f}s")
    return PopulationInfo(customers, first_id, first_id + customers - 1, tag_ids, accounts, False, seconds)


def vacuum_analyze(*tables: str) -> None:
    """VACUUM ANALYZE the tables (all of them when none is named), as autovacuum would after bulk
    writes: fresh statistics, and a visibility map that lets index-only scans skip the heap. VACUUM
    cannot run inside a transaction (e.g. a test), where ANALYZE has to do."""
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for table in tables or [""]:
            cursor.execute(f"{command} {table}".strip())


LOADED_TABLES = ["customers_customer", "customers_channelidentity", "customers_customertag", "customers_engagementevent",
                 "customers_engagementprofile", "customers_consentcredit"]


def _skip_row_triggers(cursor) -> bool:
    """Skip per-row foreign-key checks for this load (the generated rows are consistent by construction).

    Needs superuser; without it the load is correct, only slower.
    """
    try:
        cursor.execute("SAVEPOINT population_replica")
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("RELEASE SAVEPOINT population_replica")
        return True
    except Exception:
        cursor.execute("ROLLBACK TO SAVEPOINT population_replica")
        return False


def _drop_secondary_indexes(cursor) -> list[str]:
    """Drop the loaded tables' plain indexes (not constraints); building them once after COPY is
    several times faster than maintaining them row by row. Returns their definitions."""
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        [LOADED_TABLES],
    )
    rows = cursor.fetchall()
    for name, _ in rows:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in rows]


def _write(cursor, *, rng: random.Random, now: datetime, first_id: int, n: int, tag_ids: list[int], accounts: dict[str, int],
           campaign_ids: list[int], log: Callable[[str], None]) -> dict[str, int]:
    # Customers and their identities go through customers' bulk upsert; the rest is COPY.
    people: list[CustomerUpsert] = []
    tags = _Copier("customers_customertag", ["customer_id", "tag_id", "source", "assigned_at"])
    events = _Copier("customers_engagementevent", [
        "customer_id", "account_id", "event_type", "occurred_at", "properties", "campaign_id", "delivery_id", "dedupe_key", "created_at"])
    profiles = _Copier("customers_engagementprofile", [
        "customer_id", "score", "score_updated_at", "hour_of_week", "best_hour", "ignored_push_streak", "last_push_at",
        "last_click_at", "topic_affinity", "topic_pushes", "topic_clicks", "updated_at"])
    consents = _Copier("customers_consentcredit", ["customer_id", "account_id", "template_id", "remaining", "updated_at"])
    copiers = {"tag assignments": tags, "events": events, "profiles": profiles, "consent credits": consents}
    totals = dict.fromkeys(["customers", "identities", *copiers], 0)
    oa, mp = accounts["oa"], accounts["miniprogram"]
    rest_tags = tag_ids[len(TAG_PREVALENCE):]
    delivery_id = 0
    day = 86400
    for offset in range(n):
        cid = first_id + offset
        r = rng.random
        first_seen = now - timedelta(seconds=int(r() * 720 * day))
        engaged = now - timedelta(seconds=int(r() * 180 * day)) if r() < 0.85 else None
        attrs = {"level": rng.randint(1, 5), "plan": rng.choice(("gold", "silver", "bronze")), "age": rng.randint(18, 70)}
        person = CustomerUpsert(customer_id=cid, values={
            "display_name": f"Synthetic {cid}", "gender": rng.randint(0, 2), "city": rng.choices(CITIES, CITY_WEIGHTS)[0],
            "country": "China", "language": "zh_CN", "attributes": attrs, "source": SOURCE, "first_seen_at": first_seen,
            "last_engaged_at": engaged, "created_at": first_seen, "updated_at": now})
        following = r() < 0.85
        person.identities.append(IdentityUpsert(
            account_id=oa, kind="oa_openid", external_id=f"obench{cid:09d}", unionid=f"ubench{cid:09d}",
            follow_state="following" if following else "unfollowed", followed_at=first_seen,
            unfollowed_at=None if following else now - timedelta(days=3)))
        if r() < 0.3:
            person.identities.append(IdentityUpsert(
                account_id=mp, kind="mp_openid", external_id=f"mbench{cid:09d}", unionid=f"ubench{cid:09d}"))
        people.append(person)
        chosen = {tid for tid, p in zip(tag_ids, TAG_PREVALENCE, strict=False) if r() < p}
        chosen.update(rng.sample(rest_tags, rng.choice((4, 5))))
        for tid in chosen:
            tags.add(cid, tid, "import", first_seen)
        for _ in range(rng.randint(6, 14)):
            etype = rng.choices(EVENT_TYPES, EVENT_WEIGHTS)[0]
            props = json.dumps({"sku": f"sku-{rng.randint(1, 50)}"}) if etype == "mp.purchase" else "{}"
            events.add(cid, oa, etype, now - timedelta(seconds=int(r() * 180 * day)), props, None, None, None, now)
        pushes = rng.randint(1, 5)
        last_push = None
        for _ in range(pushes):
            delivery_id += 1
            at = now - timedelta(seconds=int(r() * 60 * day))
            last_push = max(last_push or at, at)
            events.add(cid, oa, "push.sent", at, "{}", rng.choice(campaign_ids), delivery_id, None, now)
        profiles.add(cid, round(r(), 4), now, "[]", rng.randint(0, 167) % 24, rng.choices((0, 1, 2, 3, 4, 5), (40, 20, 15, 10, 10, 5))[0],
                     last_push, None, "{}", "{}", "{}", now)
        if r() < 0.1:
            consents.add(cid, mp, CONSENT_TEMPLATE, rng.randint(1, 3), now)
        if (offset + 1) % CHUNK == 0 or offset + 1 == n:
            customers_upsert_bulk(people, link_unionids=False)
            totals["customers"] += len(people)
            totals["identities"] += sum(len(person.identities) for person in people)
            people = []
            for name, copier in copiers.items():
                totals[name] += copier.flush(cursor)
            if (offset + 1) % (CHUNK * 10) == 0:
                log(f"  {offset + 1:,} customers written")
    return totals
