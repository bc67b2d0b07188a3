"""The drill's scenario: set up, one host, two hosts, kill -9 of one, the other finishes; then the report.

Timeline (all on one 50,000-recipient template campaign):
1. host A alone (web + worker) plans the campaign and sends: its throughput over a window;
2. host B (web + worker + beat) joins: the throughput of both over a window, each host's share, and
   the busiest second against the account's rate limit, which both share through Redis;
3. every process of host A is killed with SIGKILL mid-campaign: how long until B sends again, how many
   deliveries A left claimed ("stranded"), how long until they were sent and the campaign completed;
4. the accounting: every recipient got exactly one message (the sandbox's sent messages against the
   deliveries), and no second — calendar or sliding — carried more sends than the limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import Campaign, CampaignState, Delivery, DeliveryState
from devtools.two_hosts.forward import forward_start
from devtools.two_hosts.hosts import Host
from devtools.two_hosts.network import HOSTS, ROOT_ADDRESS, network_down, network_up
from devtools.two_hosts.report import Accounting, Window, accounting, window_measure
from devtools.two_hosts.seed import drill_seed
from messaging.sandbox.control import SandboxControl

# Environment a host must not inherit from whoever started the drill (a test run's, a shell's).
HOST_ENV_DROP = ("SCRM_TESTING", "PYTEST_XDIST_WORKER", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")


@dataclass
class DrillConfig:
    recipients: int = 50_000
    rate_limit: int = 1000
    window_seconds: float = 20.0
    warmup_seconds: float = 5.0
    finish_timeout: float = 600.0
    port_base: int = 8140  # +0 PostgreSQL forwarder, +1 Redis forwarder, +2 sandbox, +3 web in each namespace
    pin_cpus: bool = True
    # The stand-ins for WeChat and the network (the sandbox, the forwarders) run at this niceness: on a
    # machine shared with other work they must not be the bottleneck WeChat and a network are not.
    services_niceness: int = -10
    worker_concurrency: int = 2
    dispatch_concurrency: int = 4
    log_dir: Path = field(default_factory=lambda: Path(settings.BASE_DIR) / "var" / "drill-2hosts")


@dataclass
class Recovery:
    killed_processes: int = 0
    left_to_send: int = 0  # planned or in flight when A died
    stranded: int = 0  # claimed by A ('sending') and not recorded: A died with them
    resumed_after: float | None = None  # first send by B after the kill
    stranded_sent_after: float | None = None
    completed_after: float | None = None
    survivor: Window | None = None


@dataclass
class DrillResult:
    config: DrillConfig
    load_before: str = ""
    load_after: str = ""
    planned: int = 0
    one_host: Window | None = None
    two_hosts: Window | None = None
    recovery: Recovery = field(default_factory=Recovery)
    max_per_second: int = 0
    max_in_any_second: int = 0
    busiest_during: str = ""  # which phase the busiest calendar second fell in
    per_host: dict[str, int] = field(default_factory=dict)
    accounting: Accounting | None = None
    failure: str = ""

    @property
    def passed(self) -> bool:
        acc = self.accounting
        return bool(
            not self.failure and acc is not None and acc.duplicates == 0 and acc.lost == 0 and acc.sent_without_message == 0
            and self.max_per_second <= self.config.rate_limit and self.recovery.completed_after is not None
        )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _rebased(url: str, port: int) -> str:
    """`url` with its host and port replaced by the bridge's address and `port` (credentials kept)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{ROOT_ADDRESS}:{port}" if userinfo else f"{ROOT_ADDRESS}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _database_url() -> str:
    if not settings.DATABASE_URL.startswith(("postgres://", "postgresql://")):
        raise RuntimeError("the drill needs PostgreSQL and Redis: set DRILL_DATABASE_URL and DRILL_REDIS_URL")
    return settings.DATABASE_URL


def _target(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


class Drill:
    def __init__(self, config: DrillConfig, *, log: Callable[[str], None]) -> None:
        self.config = config
        self.log = log
        self.result = DrillResult(config=config)
        self.procs: list[subprocess.Popen] = []
        self.hosts: list[Host] = []
        base = config.port_base
        self.pg_port, self.redis_port, self.sandbox_port, self.web_port = base, base + 1, base + 2, base + 3
        self.sandbox_url = f"http://{ROOT_ADDRESS}:{self.sandbox_port}/"
        self.control = SandboxControl(self.sandbox_url, timeout=300)
        self.b_started_at = self.killed_at = float("inf")
        self.run_dir = config.log_dir / time.strftime("%Y%m%d-%H%M%S", time.gmtime())

    # --- setting up ---------------------------------------------------------------------------
    def _host_env(self, address: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in HOST_ENV_DROP}
        env.update({
            "DATABASE_URL": _rebased(_database_url(), self.pg_port),
            "REDIS_URL": _rebased(settings.REDIS_URL, self.redis_port),
            "SANDBOX_BASE_URL": self.sandbox_url,
            "WECHAT_SANDBOX_URLS": self.sandbox_url,
            "PUBLIC_BASE_URL": f"http://{address}:{self.web_port}",
            "ALLOWED_HOSTS": "*",
            "SECURE_SSL_REDIRECT": "false",
            "CAMPAIGN_DISPATCH_CONCURRENCY": str(self.config.dispatch_concurrency),
            "SCRM_VAR_DIR": str(self.run_dir / f"var-{address}"),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def setup(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log(f"logs in {self.run_dir}")
        network_up()
        database = _target(_database_url(), 5432)
        broker = _target(settings.REDIS_URL, 6379)
        niceness = self.config.services_niceness
        self.procs.append(forward_start((ROOT_ADDRESS, self.pg_port), database, niceness=niceness))
        self.procs.append(forward_start((ROOT_ADDRESS, self.redis_port), broker, niceness=niceness))
        with open(self.run_dir / "sandbox.log", "ab") as out:
            self.procs.append(subprocess.Popen(  # noqa: S603 - our own manage.py
                [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "wechat_sandbox", "--host", ROOT_ADDRESS,
                 "--port", str(self.sandbox_port)],
                stdout=out, stderr=subprocess.STDOUT, preexec_fn=lambda: os.nice(niceness),
            ))
        deadline = time.monotonic() + 60
        while True:
            try:
                self.control.state()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.3)
        # The drill's own Redis database: tasks and rate-limit schedules of an earlier run must not leak in.
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
        cpus = os.cpu_count() or 1
        for index, net in enumerate(HOSTS):
            self.hosts.append(Host(
                net=net, env=self._host_env(net.address), log_dir=self.run_dir, web_port=self.web_port,
                cpus=str(index % cpus) if self.config.pin_cpus and cpus >= len(HOSTS) else None,
                worker_concurrency=self.config.worker_concurrency,
            ))

    def teardown(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        network_down()

    # --- the phases ------------------------------------------------------------------------------
    def _sends(self, app_id: str, since: float | None = None) -> dict:
        return self.control.request_rates(app_id, path_contains="message/template/send", since=since)

    def _wait_for(self, what: str, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.5)

    def _window(self, app_id: str, name: str) -> Window:
        time.sleep(self.config.warmup_seconds)
        since = time.time()
        time.sleep(self.config.window_seconds)
        window = window_measure(self.control, app_id, name=name, since=since, until=time.time())
        window.by_client = self._by_host(window.by_client)
        self.log(f"{name}: {window.sends:,} sends in {window.until - window.since:.1f} s = {window.rate:,.0f}/s "
                 f"(by host {window.by_client})")
        return window

    def _by_host(self, by_client: dict[str, int]) -> dict[str, int]:
        names = {h.net.address: h.name for h in self.hosts}
        return {names.get(address, address): n for address, n in by_client.items()}

    def run(self) -> DrillResult:
        result, config = self.result, self.config
        result.load_before = _load()
        data = drill_seed(recipients=config.recipients, rate_limit=config.rate_limit, sandbox_url=self.sandbox_url, log=self.log)
        app_id, campaign_id = data.account.app_id, data.campaign.pk
        host_a, host_b = self.hosts

        host_a.start()
        self.log(f"host A ({host_a.net.address}) ready in {host_a.wait_ready():.1f} s")
        campaign_services.campaign_schedule(campaign=data.campaign)
        self._wait_for("the first send", lambda: self._sends(app_id)["total"] > 0, timeout=300)
        result.planned = Campaign.objects.get(pk=campaign_id).planned_count
        self.log(f"planned {result.planned:,} deliveries; sending started")
        result.one_host = self._window(app_id, "one host")

        self.b_started_at = time.time()
        host_b.start(beat=True)
        self.log(f"host B ({host_b.net.address}) ready in {host_b.wait_ready():.1f} s")
        self._wait_for("host B's first send", lambda: host_b.net.address in self._sends(app_id)["by_client"], timeout=120)
        result.two_hosts = self._window(app_id, "two hosts")

        self._kill_and_finish(host_a, host_b, app_id=app_id, campaign_id=campaign_id)

        whole = self._sends(app_id)
        result.max_per_second, result.max_in_any_second = whole["max_per_second"], whole["max_in_any_second"]
        busiest = max(whole["per_second"], key=lambda pair: pair[1], default=None)
        if busiest is not None:
            second = busiest[0]
            result.busiest_during = (
                "host A alone" if second < self.b_started_at else "both hosts" if second < self.killed_at else "host B alone"
            )
        result.per_host = self._by_host(whole["by_client"])
        result.accounting = accounting(self.control, app_id, campaign_id=campaign_id, openids=data.openids)
        result.load_after = _load()
        return result

    def _kill_and_finish(self, host_a: Host, host_b: Host, *, app_id: str, campaign_id: int) -> None:
        recovery, config = self.result.recovery, self.config
        deliveries = Delivery.objects.filter(campaign_id=campaign_id)
        recovery.left_to_send = deliveries.filter(state__in=[DeliveryState.PLANNED, DeliveryState.SENDING]).count()
        if recovery.left_to_send == 0:
            raise RuntimeError("the campaign finished before the kill: raise --recipients or lower --window")
        killed_at, killed_at_db = time.time(), timezone.now()
        self.killed_at = killed_at
        recovery.killed_processes = host_a.kill()
        self.log(f"killed host A: {recovery.killed_processes} processes (kill -9), {recovery.left_to_send:,} deliveries left to send")
        close_old_connections()
        # Rows B claimed before the kill are recorded within a second or two; what is still 'sending'
        # with a claim from before the kill after 10 s is what A died holding.
        time.sleep(10)
        stranded = set(deliveries.filter(state=DeliveryState.SENDING, claimed_at__lte=killed_at_db).values_list("pk", flat=True))
        recovery.stranded = len(stranded)
        self.log(f"stranded by host A: {recovery.stranded} deliveries claimed and never recorded")
        survivor_since = killed_at + 2
        deadline = killed_at + config.finish_timeout
        next_note = time.time() + 30
        while time.time() < deadline:
            now = time.time()
            if recovery.resumed_after is None:
                after = self._sends(app_id, since=killed_at)
                if after["by_client"].get(host_b.net.address):
                    # 0: B was sending through the kill (its first send after it falls in the same second).
                    recovery.resumed_after = max(0.0, after["per_second"][0][0] - killed_at)
            if recovery.stranded_sent_after is None and not deliveries.filter(pk__in=stranded, state=DeliveryState.SENDING).exists():
                recovery.stranded_sent_after = now - killed_at
            if Campaign.objects.filter(pk=campaign_id, state=CampaignState.COMPLETED).exists():
                recovery.completed_after = now - killed_at
                break
            if now > next_note:
                left = deliveries.filter(state__in=[DeliveryState.PLANNED, DeliveryState.SENDING]).count()
                self.log(f"  {now - killed_at:.0f} s after the kill: {left:,} deliveries not yet sent")
                next_note = now + 30
            time.sleep(1)
        if recovery.completed_after is None:
            self.result.failure = f"the campaign did not complete within {config.finish_timeout:.0f} s of the kill"
        # Host B alone: its sends over a window right after the kill (while it still had rows to send).
        drained_at = Delivery.objects.filter(campaign_id=campaign_id, state=DeliveryState.SENT).order_by("-sent_at").values_list("sent_at", flat=True).first()
        until = min(survivor_since + config.window_seconds, drained_at.timestamp() if drained_at else time.time())
        if until - survivor_since >= 3:
            recovery.survivor = window_measure(self.control, app_id, name="one host after the kill", since=survivor_since, until=until)
            recovery.survivor.by_client = self._by_host(recovery.survivor.by_client)


def drill_run(config: DrillConfig, *, log: Callable[[str], None]) -> DrillResult:
    """Set up, run and tear down the drill; the namespaces are removed whatever happens."""
    drill = Drill(config, log=log)
    try:
        drill.setup()
        return drill.run()
    except Exception as exc:
        drill.result.failure = f"{type(exc).__name__}: {exc}"
        return drill.result
    finally:
        drill.teardown()
