"""Access tokens shared through Redis, refresh on 40001/42001, error classification, retry with
backoff, the rate limit: all against the sandbox over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from messaging.channels import get_adapter
from messaging.channels.base import OutboundMessage, Recipient
from messaging.channels.clients import build_client, wechat_client
from messaging.channels.errors import backoff_delay
from messaging.channels.quota import api_quota_take, next_quota_day, quota_day
from messaging.channels.ratelimit import rate_limit_acquire, rate_limit_interval
from messaging.sandbox.limits import TOKEN_OVERLAP_SECONDS
from scrm.redis import get_redis
from tests.factories import ChannelAccountFactory

pytestmark = pytest.mark.django_db

TEMPLATE = {"template_id": "tpl-order", "data": {"first": {"value": "Shipped"}}}


def _template(key: str) -> OutboundMessage:
    return OutboundMessage("template", TEMPLATE, key)


def _run_threads(n: int, target) -> list:
    results: list = [None] * n
    errors: list = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_concurrent_senders_cause_one_token_fetch(sandbox, oa_account):
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    # Slow answers keep every sender waiting while the first fetch is in flight.
    sandbox.control.set_faults(latency_ms=150)
    # One client per thread, as separate worker processes would have: only Redis is shared.
    clients = [build_client(oa_account) for _ in range(12)]
    results = _run_threads(12, lambda i: clients[i].user.get("o-1")["openid"])
    assert results == ["o-1"] * 12
    assert sandbox.control.token_fetch_count(oa_account.app_id) == 1


def test_a_stale_token_is_refreshed_once_and_the_call_retried_once(sandbox, oa_account):
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    adapter = get_adapter(oa_account)
    assert adapter.send(Recipient("d1", "o-1"), _template("k1")).ok
    # Someone else fetches a token: ours keeps working for WeChat's 5-minute overlap, then WeChat answers 40001.
    requests.get(
        f"{sandbox.base_url}cgi-bin/token",
        params={"grant_type": "client_credential", "appid": oa_account.app_id, "secret": oa_account.app_secret},
        timeout=5,
    ).raise_for_status()
    sandbox.control.advance_clock(TOKEN_OVERLAP_SECONDS + 1)
    assert adapter.send(Recipient("d2", "o-1"), _template("k2")).ok
    assert [r["errcode"] for r in sandbox.control.requests("message/template/send")] == [0, 40001, 0]
    assert sandbox.control.token_fetch_count(oa_account.app_id) == 3


def test_many_senders_holding_a_stale_token_refresh_it_once(sandbox, oa_account):
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    clients = [build_client(oa_account) for _ in range(8)]
    clients[0].user.get("o-1")
    requests.get(
        f"{sandbox.base_url}cgi-bin/token",
        params={"grant_type": "client_credential", "appid": oa_account.app_id, "secret": oa_account.app_secret},
        timeout=5,
    ).raise_for_status()
    sandbox.control.advance_clock(TOKEN_OVERLAP_SECONDS + 1)
    sandbox.control.set_faults(latency_ms=100)
    _run_threads(8, lambda i: clients[i].user.get("o-1"))
    assert sandbox.control.token_fetch_count(oa_account.app_id) == 3


def test_an_expired_token_is_replaced(sandbox, oa_account):
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    client = wechat_client(oa_account)
    client.user.get("o-1")
    sandbox.control.advance_clock(7300)
    assert client.user.get("o-1")["openid"] == "o-1"
    assert [r["errcode"] for r in sandbox.control.requests("user/info")] == [0, 42001, 0]


def test_45009_puts_the_api_off_until_the_quota_day_turns_and_nobody_calls_it_again_today(sandbox, oa_account):
    # WECHAT.md §11: quota errors are not transient; a retry in minutes only meets 45009 again.
    sandbox.control.add_followers(oa_account.app_id, ["o-1", "o-2"])
    wechat_client(oa_account).user.get("o-1")  # token and first request outside the fault
    sandbox.control.set_faults(rate_45009=1.0, paths=["message/template/send"])
    adapter = get_adapter(oa_account)
    first = adapter.send(Recipient("d1", "o-1"), _template("k-1"))
    assert (first.status, first.error_code, first.defer_until) == ("retryable", "45009", next_quota_day())
    assert first.retry_after and first.retry_after >= 1
    sandbox.control.reset_faults()
    second = adapter.send(Recipient("d2", "o-2"), _template("k-2"))
    assert (second.error_code, second.defer_until) == ("api_quota_used", next_quota_day())
    assert "45009" in second.error_message
    # One call reached WeChat: the second was put off before the call.
    assert [r["errcode"] for r in sandbox.control.requests("message/template/send")] == [45009]
    # Another API of the account is not held by the template quota.
    assert api_quota_take(oa_account, "mass")[1] is None


def test_the_quota_day_ends_at_midnight_beijing_time():
    # 2026-12-07 15:59:59 UTC is 23:59:59 in Beijing: the quota day ends a second later.
    at = datetime(2026, 12, 7, 15, 59, 59, tzinfo=UTC)
    assert next_quota_day(at) == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    assert next_quota_day(at + timedelta(seconds=1)) == datetime(2026, 12, 8, 16, 0, tzinfo=UTC)
    assert quota_day(at) == "2026-12-07" and quota_day(at + timedelta(seconds=1)) == "2026-12-08"


def test_template_quota_is_taken_atomically_across_threads(oa_account):
    oa_account.template_daily_quota = 50
    granted = _run_threads(8, lambda _i: sum(api_quota_take(oa_account, "template", 1)[0] for _ in range(10)))
    assert sum(granted) == 50
    taken, refusal = api_quota_take(oa_account, "template", 3)
    assert taken == 0 and refusal.reason == "template_daily_quota" and refusal.until == next_quota_day()


def test_backoff_grows_exponentially_with_jitter_and_honours_the_hint():
    for attempt in range(6):
        ceiling = min(300.0, 2.0**attempt)
        samples = [backoff_delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 1
    assert backoff_delay(20) <= 300.0
    assert backoff_delay(0, retry_after=60.0) == 60.0


def test_system_busy_and_timeouts_and_refused_connections_are_retryable(sandbox, oa_account, settings):
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    adapter = get_adapter(oa_account)
    sandbox.control.set_faults(rate_busy=1.0, paths=["message/template/send"])
    busy = adapter.send(Recipient("d1", "o-1"), _template("k1"))
    assert (busy.status, busy.error_code) == ("retryable", "-1")

    sandbox.control.reset_faults()
    sandbox.control.set_faults(latency_ms=800)
    settings.WECHAT_HTTP_TIMEOUT = 0.2
    slow = get_adapter(oa_account).send(Recipient("d2", "o-1"), _template("k2"))
    assert (slow.status, slow.error_code) == ("retryable", "timeout")

    with socket_closed_port() as port:
        settings.WECHAT_SANDBOX_URLS = [f"http://127.0.0.1:{port}/"]  # a listed sandbox that is down
        nowhere = ChannelAccountFactory(api_base_url=f"http://127.0.0.1:{port}/")
        refused = get_adapter(nowhere).send(Recipient("d3", "o-1"), _template("k3"))
    assert (refused.status, refused.error_code) == ("retryable", "connection_error")


class socket_closed_port:
    def __enter__(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]  # bound, never listening: connections are refused

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_other_errors_are_permanent_with_code_and_message(sandbox, oa_account):
    outcome = get_adapter(oa_account).send(Recipient("d1", "o-unknown"), _template("k1"))
    assert outcome.status == "permanent"
    assert outcome.error_code == "40003" and "openid" in outcome.error_message


def test_rate_limit_holds_across_concurrent_senders(sandbox, oa_account):
    oa_account.rate_limit_per_second = 10
    oa_account.save()
    openids = sandbox.control.add_followers(oa_account.app_id, 30)
    wechat_client(oa_account).user.get(openids[0])
    adapters = [get_adapter(oa_account) for _ in range(6)]

    def send(i: int) -> list:
        return [adapters[i].send(Recipient(f"d{i}-{j}", openids[i * 5 + j]), _template(f"k{i}-{j}")) for j in range(5)]

    started = time.monotonic()
    outcomes = [o for batch in _run_threads(6, send) for o in batch]
    elapsed = time.monotonic() - started
    assert all(o.ok for o in outcomes)
    times = sorted(m["at"] for m in sandbox.control.sent_messages(oa_account.app_id, api="template"))
    assert len(times) == 30
    # Any one-second window of the sandbox's arrival stamps holds at most 10 sends (grants carry a
    # margin for the transport between grant and arrival: no allowance needed here).
    worst = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert worst <= 10
    # …and the limiter is not merely slow: 30 sends at 10/s take about 3 s.
    assert 2.7 <= elapsed < 12


def test_rate_limit_acquire_answers_how_long_to_wait(oa_account):
    oa_account.rate_limit_per_second = 4
    # 4 in any receiver's second with a 0.1 s margin: grants 1.1 s / 3 apart.
    interval = rate_limit_interval(4)
    assert interval == pytest.approx(1.1 / 3)
    assert rate_limit_acquire(oa_account) == 0
    wait = rate_limit_acquire(oa_account)
    assert interval - 0.15 < wait <= interval
    time.sleep(wait)
    assert rate_limit_acquire(oa_account) == 0
    # A request for more than one send at once is admitted when the schedule is free, and
    # pushes the next one back accordingly.
    time.sleep(interval + 0.01)
    assert rate_limit_acquire(oa_account, n=4) == 0
    assert rate_limit_acquire(oa_account) > 3 * interval - 0.1


def test_embedded_mode_shares_tokens_through_the_django_cache(sandbox, oa_account, settings):
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    original = settings.REDIS_URL
    settings.REDIS_URL = ""
    get_redis.cache_clear()
    try:
        assert get_redis() is None
        clients = [build_client(oa_account) for _ in range(3)]
        for client in clients:
            assert client.user.get("o-1")["openid"] == "o-1"
        assert sandbox.control.token_fetch_count(oa_account.app_id) == 1
        oa_account.rate_limit_per_second = 5
        assert rate_limit_acquire(oa_account) == 0
        assert rate_limit_acquire(oa_account) > 0
    finally:
        settings.REDIS_URL = original
        get_redis.cache_clear()


def test_a_token_refused_again_after_one_refresh_is_not_retried_further(sandbox, oa_account):
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    # Every token the sandbox issues is already expired: each use answers 42001.
    sandbox.control.set_faults(token_ttl=0)
    outcome = get_adapter(oa_account).send(Recipient("d1", "o-1"), _template("k1"))
    assert (outcome.status, outcome.error_code) == ("retryable", "42001")
    assert [r["errcode"] for r in sandbox.control.requests("message/template/send")] == [42001, 42001]
    assert sandbox.control.token_fetch_count(oa_account.app_id) == 2


def test_a_wrong_secret_is_a_permanent_failure(sandbox, oa_account):
    oa_account.app_secret = "not-the-secret"
    outcome = get_adapter(oa_account).send(Recipient("d1", "o-1"), _template("k1"))
    assert outcome.status == "permanent" and outcome.error_code == "40125"
    assert "access token" in outcome.error_message


def test_a_process_reuses_its_token_briefly_and_a_stale_memo_costs_one_rejected_call(sandbox, oa_account, monkeypatch):
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    here, elsewhere = build_client(oa_account), build_client(oa_account)
    here.user.get("o-1")
    redis_reads = []
    real_get = here._store.get
    monkeypatch.setattr(here._store, "get", lambda key: redis_reads.append(key) or real_get(key))
    for _ in range(5):
        here.user.get("o-1")
    assert redis_reads == []  # five calls, no Redis round trip for the token
    # Another process refreshes the token (the sandbox, like WeChat after its grace period, now
    # refuses the old one): our remembered token is rejected once, and the shared store's new
    # token is used without fetching a third.
    elsewhere._store.delete_if_equal(elsewhere.access_token_key, elsewhere.access_token)
    refreshed = elsewhere.token_refresh(stale=None)
    sandbox.control.advance_clock(TOKEN_OVERLAP_SECONDS + 1)
    assert here.user.get("o-1")["openid"] == "o-1"
    assert here._token_memo[0] == refreshed
    assert [r["errcode"] for r in sandbox.control.requests("user/info")][-2:] == [40001, 0]
    assert sandbox.control.token_fetch_count(oa_account.app_id) == 2
