"""The account's rate limit as the receiver counts it (messaging/channels/ratelimit.py against the
sandbox's per-second count, messaging/sandbox/rates.py): several sender processes with several
threads each, on a starved machine — each process's threads fight a CPU-bound thread for the GIL,
and the test deschedules one process at a time (SIGSTOP … SIGCONT) as a loaded machine does. The
two-host drill saw 45 sends in one second at a 40/s limit that way: grants spaced exactly 1/limit
apart, used late and then together."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sys
import threading
import time

import pytest

from messaging.channels import get_adapter
from messaging.channels.base import OutboundMessage, Recipient
from messaging.channels.clients import wechat_client

pytestmark = pytest.mark.django_db

LIMIT = 20
PROCESSES, THREADS, EACH = 3, 8, 5
TEMPLATE = {"template_id": "tpl-order", "data": {"first": {"value": "Shipped"}}}


def _sender(account, openids: list[str], index: int, done) -> None:
    """One sender process: THREADS threads sending EACH template messages each, beside a CPU hog."""
    sys.setswitchinterval(0.02)  # a thread that waited on I/O waits up to 20 ms for the GIL
    stop = threading.Event()

    def hog() -> None:
        while not stop.is_set():
            sum(range(1000))

    threading.Thread(target=hog, daemon=True).start()
    adapter = get_adapter(account)
    results: list[str] = []

    def send(t: int) -> None:
        for j in range(EACH):
            n = (t * EACH) + j
            key = f"p{index}-t{t}-{j}"
            for _attempt in range(5):  # a retryable outcome (the limiter's hand-back) is retried, as the pump does
                outcome = adapter.send(Recipient(key, openids[n]), OutboundMessage("template", TEMPLATE, key))
                if outcome.status != "retryable":
                    break
                time.sleep(min(outcome.retry_after or 0.1, 1.0))
            results.append("ok" if outcome.ok else f"{outcome.status} {outcome.error_code} {outcome.error_message}")

    threads = [threading.Thread(target=send, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    stop.set()
    done.put((index, results))


def test_no_receiver_second_carries_more_than_the_limit_from_stalled_processes(sandbox, oa_account):
    oa_account.rate_limit_per_second = LIMIT
    oa_account.save()
    followers = sandbox.control.add_followers(oa_account.app_id, PROCESSES * THREADS * EACH)
    wechat_client(oa_account).user.get(followers[0])  # the token, fetched once before the storm
    started = time.time()
    context = multiprocessing.get_context("fork")
    done = context.Queue()
    per_process = THREADS * EACH
    processes = [
        context.Process(target=_sender, args=(oa_account, followers[i * per_process:(i + 1) * per_process], i, done))
        for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    # Deschedule one sender at a time for 150–350 ms, as a machine at load 30 does.
    rng = random.Random(14)
    deadline = time.monotonic() + 90
    while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
        victim = rng.choice([p for p in processes if p.is_alive()] or processes)
        try:
            os.kill(victim.pid, signal.SIGSTOP)
            time.sleep(rng.uniform(0.15, 0.35))
        finally:
            os.kill(victim.pid, signal.SIGCONT)
        time.sleep(rng.uniform(0.05, 0.3))
    for process in processes:
        process.join(30)
    outcomes = [o for _index, results in (done.get(timeout=5) for _ in processes) for o in results]
    assert [o for o in outcomes if o != "ok"] == []
    assert len(outcomes) == PROCESSES * per_process

    rates = sandbox.control.request_rates(oa_account.app_id, path_contains="template/send", since=started - 1)
    assert rates["total"] == PROCESSES * per_process
    # As the receiver counts: calendar seconds and any one-second window sliding by 100 ms.
    assert rates["max_per_second"] <= LIMIT, rates["per_second"]
    assert rates["max_in_any_second"] <= LIMIT, rates["per_second"]


def test_grants_held_through_a_slow_token_refresh_are_not_sent_together(sandbox, oa_account):
    """Every sender of the account needs the token; while the one refresh is slow (300 ms), the others
    have taken their grants and wait. Sending them all when the token comes would put the grants of
    0.3 s on top of the next second's: a stale grant is replaced as the request leaves instead."""
    limit, threads, each = 10, 8, 4
    oa_account.rate_limit_per_second = limit
    oa_account.save()
    followers = sandbox.control.add_followers(oa_account.app_id, threads * each)
    sandbox.control.set_faults(latency_ms=300)
    started = time.time()
    adapter = get_adapter(oa_account)
    outcomes: list[str] = []

    def send(t: int) -> None:
        for j in range(each):
            key = f"t{t}-{j}"
            outcome = adapter.send(Recipient(key, followers[t * each + j]), OutboundMessage("template", TEMPLATE, key))
            outcomes.append("ok" if outcome.ok else f"{outcome.status} {outcome.error_code}")

    workers = [threading.Thread(target=send, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert outcomes == ["ok"] * (threads * each)
    rates = sandbox.control.request_rates(oa_account.app_id, path_contains="template/send", since=started - 1)
    assert rates["total"] == threads * each
    assert rates["max_per_second"] <= limit, rates["per_second"]
    assert rates["max_in_any_second"] <= limit, rates["per_second"]
