"""Console reads benchmark: what an operator's pages and searches cost at the bench population (1M), as
server time of real requests (Django's test client, in process, logged in as a staff superuser: URL
resolution, middleware, view, template), several runs each (min / median / max; the first run is the
coldest), beside the raw index lookup that answers the same question.

Goals (issue 13): exact searches (openid, unionid, phone, id) ≤ 20 ms; name substring ≤ 150 ms;
dashboard, campaign list, campaign report and report pages, customer 360 ≤ 300 ms.

Pages built by other parts of the console are looked up by URL name; one that does not exist (yet)
is reported "not present" instead of failing the module.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.models import ChannelAccount
from campaigns.counters import campaign_counters_refresh
from campaigns.models import Campaign
from campaigns.reports.lift import campaign_lift_refresh
from customers.services import customer_update
from devtools.benchmarks.campaign_planning import HISTORY_CAMPAIGN_PREFIX, delivery_history_ensure
from devtools.benchmarks.common import rolled_back, say
from devtools.population import population_generate, vacuum_analyze
from scrm.fields import lookup_hash

RUNS = 5
BENCH_USER = "bench-console"
PHONE = "13800138000"
CHINESE_NAME = "王小明"


@dataclass
class Read:
    label: str
    # Candidate URLs (a URL name with its args, or a plain path); the first that resolves is measured.
    urls: list[tuple[str, list] | str]
    goal_ms: int
    baseline: tuple[str, list] | None = None


def _url(candidate) -> str | None:
    if isinstance(candidate, str):
        return candidate
    name, args = candidate
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _timed(call: Callable[[], object], runs: int = RUNS) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def _raw(statement: str, params: list) -> Callable[[], object]:
    def run():
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()

    return run


def _fmt(times: list[float]) -> str:
    return f"{min(times):7.1f} {statistics.median(times):7.1f} {max(times):7.1f}"


def _reads(*, customer_id: int, campaign_id: int) -> list[Read]:
    openid, unionid = f"obench{customer_id:09d}", f"ubench{customer_id:09d}"
    name = f"Synthetic {customer_id // 10}"  # matches ~11 names: the customer's and its ten "…0"–"…9"
    api = "/api/v1/customers/?search="
    changelist = "/admin/customers/customer/?q="
    identity = "SELECT customer_id FROM customers_channelidentity WHERE external_id = %s"
    by_union = "SELECT customer_id FROM customers_channelidentity WHERE unionid = %s"
    by_name = (
        "SELECT id FROM customers_customer WHERE UPPER(display_name::text) LIKE UPPER(%s) AND erased_at IS NULL ORDER BY id DESC LIMIT 50"
    )
    funnel = (
        "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE delivered_at IS NOT NULL), "
        "count(*) FILTER (WHERE clicked_at IS NOT NULL) FROM campaigns_delivery WHERE campaign_id = %s"
    )
    return [
        Read("search openid (API)", [api + openid], 20, (identity, [openid])),
        Read("search openid (admin)", [changelist + openid], 20, (identity, [openid])),
        Read("search unionid (API)", [api + unionid], 20, (by_union, [unionid])),
        Read("search phone (API)", [api + PHONE], 20, ("SELECT id FROM customers_customer WHERE phone_hash = %s", [lookup_hash(PHONE)])),
        Read("search id (API)", [api + str(customer_id)], 20, ("SELECT id FROM customers_customer WHERE id = %s", [customer_id])),
        Read("search id (admin)", [changelist + str(customer_id)], 20, ("SELECT id FROM customers_customer WHERE id = %s", [customer_id])),
        Read("search name substring (API)", [api + name.replace(" ", "%20")], 150, (by_name, [f"%{name}%"])),
        Read("search name substring (admin)", [changelist + name.replace(" ", "+")], 150, (by_name, [f"%{name}%"])),
        Read("search Chinese name (API)", [api + CHINESE_NAME], 150, (by_name, [f"%{CHINESE_NAME}%"])),
        Read("dashboard (/admin/)", [("admin:index", [])], 300),
        Read("customer list (admin)", ["/admin/customers/customer/"], 300),
        Read("identity list (admin)", ["/admin/customers/channelidentity/"], 300),
        Read("event list (admin)", ["/admin/customers/engagementevent/"], 300),
        Read("delivery list (admin)", ["/admin/campaigns/delivery/"], 300),
        Read("suppression list (admin)", ["/admin/campaigns/suppression/"], 300),
        Read("campaign list (admin)", [("admin:campaigns_campaign_changelist", [])], 300),
        Read("campaign page + funnel (admin)", [("admin:campaigns_campaign_change", [campaign_id])], 300, (funnel, [campaign_id])),
        Read("campaign report (API)", [("campaign-report", [campaign_id])], 300, (funnel, [campaign_id])),
        Read("campaign reports page (admin)", [f"/admin/campaign-reports/?campaign={campaign_id}"], 300, (funnel, [campaign_id])),
        Read(
            "customer 360",
            [
                ("admin:customers_customer_360", [customer_id]),
                ("admin:customer-360", [customer_id]),
                ("customer-360", [customer_id]),
                ("console:customer-360", [customer_id]),
            ],
            300,
        ),
    ]


def _staff_client() -> Client:
    # Requests go over "https" (secure=True), as behind the TLS proxy: SECURE_SSL_REDIRECT does not bounce them.
    user, _ = get_user_model().objects.get_or_create(username=BENCH_USER, defaults={"is_staff": True, "is_superuser": True})
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    return client


def run(*, customers: int, stdout) -> None:
    info = population_generate(customers=customers, log=stdout.write)
    account = ChannelAccount.objects.get(pk=info.accounts["oa"])
    history = delivery_history_ensure(account.pk)
    campaign = Campaign.objects.filter(name__startswith=HISTORY_CAMPAIGN_PREFIX).order_by("pk").first()
    # The history is written with one INSERT … SELECT (not through dispatch): recount its counters,
    # as the migration's backfill does for campaigns that existed before the counters.
    started = time.perf_counter()
    campaign_counters_refresh(campaign_ids=Campaign.objects.filter(name__startswith=HISTORY_CAMPAIGN_PREFIX).values_list("pk", flat=True))
    say(stdout, f"campaign {campaign.pk}: {history:,} history deliveries; counters recounted in {time.perf_counter() - started:.1f} s")
    # What beat's campaigns-lift-refresh keeps for a running system: the lift's counts (the first count
    # of the report's campaign is timed: it is what a report costs until they are kept).
    started = time.perf_counter()
    counted = campaign_lift_refresh(limit=1000)
    say(stdout, f"lift counts of {counted} campaigns kept in {time.perf_counter() - started:.1f} s")
    vacuum_analyze("campaigns_delivery", "campaigns_campaigncounters")
    customer_id = info.first_customer_id + customers // 2
    client = _staff_client()
    with rolled_back():
        customer_update(customer_id=customer_id, data={"phone": PHONE})
        # A Chinese name beside the synthetic ones, found by its trigram.
        customer_update(customer_id=customer_id + 1, data={"display_name": CHINESE_NAME})
        say(stdout, f"\nconsole reads ({customers:,} customers; {RUNS} runs each; ms: min median max)")
        say(stdout, f"{'read':34} {'status':>6} {'server time (min med max)':>26} {'goal':>6}   {'raw SQL (min med max)':>24}")
        for read in _reads(customer_id=customer_id, campaign_id=campaign.pk):
            url = next((u for u in map(_url, read.urls) if u), None)
            if url is None:
                say(stdout, f"{read.label:34} {'—':>6} {'not present':>26} {read.goal_ms:>6}")
                continue
            started = time.perf_counter()
            first = client.get(url, secure=True)
            first_ms = (time.perf_counter() - started) * 1000
            if first.status_code != 200:
                status = "not present" if first.status_code in (301, 302, 404) else f"HTTP {first.status_code}"
                say(stdout, f"{read.label:34} {first.status_code:>6} {status:>26} {read.goal_ms:>6}   {url}")
                continue
            times = [first_ms, *_timed(lambda url=url: client.get(url, secure=True), RUNS - 1)[0]]
            raw = _fmt(_timed(_raw(*read.baseline))[0]) if read.baseline else "—"
            verdict = "ok" if statistics.median(times) <= read.goal_ms else "SLOW"
            say(stdout, f"{read.label:34} {200:>6} {_fmt(times):>26} {read.goal_ms:>6}   {raw:>24}  {verdict}")

