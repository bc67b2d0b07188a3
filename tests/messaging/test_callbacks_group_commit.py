"""Group commit of the callback INSERT (messaging/callbacks/groupcommit.py) against real PostgreSQL:
concurrent requests of one process share one INSERT and one commit, each is answered only after the
commit holding its row, duplicates are stored once, and a failed batch fails every request in it.

These tests commit for real across threads (transaction=True); each thread stores through
`services.inbound_store` (or the deployed WSGI entry) on its own database connection.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from django.db import DatabaseError, connection, transaction

from messaging.callbacks import enqueue, services
from messaging.callbacks.groupcommit import BatchFailed, GroupCommit
from messaging.callbacks.models import InboundMessage
from messaging.callbacks.parsing import xml_parse
from messaging.callbacks.tasks import inbound_process_task
from scrm.celery import app as celery_app
from tests.messaging.test_callbacks_wsgi import DeployedClient
from tests.plugins.callbacks import CallbackClient, wechat_payload

pytestmark = pytest.mark.django_db(transaction=True)


def _fields(**values) -> tuple[dict[str, Any], str]:
    raw = wechat_payload("text.xml", **values)
    return xml_parse(raw), raw


def _in_threads(calls: list[Callable[[], Any]], *, start: Callable[[int], None] | None = None) -> list[Any]:
    """Run each call on its own thread (own DB connection); its result or the exception it raised."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for i, thread in enumerate(threads):
        thread.start()
        if start is not None:
            start(i)
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive(), "a request never got its answer"
    return results


class HeldLeader:
    """Holds the first flush until `others` rows wait behind it, so they form one batch."""

    def __init__(self, monkeypatch, others: int, group: GroupCommit | None = None):
        self.group = group or services._group_commit
        self.real_flush = self.group._flush
        self.others = others
        self.release = threading.Event()
        self.batches: list[list[Any]] = []
        monkeypatch.setattr(self.group, "_flush", self._flush)

    def _flush(self, rows):
        self.batches.append([row[1] for row in rows])  # the dedupe keys, in the order sent
        if len(self.batches) == 1:
            assert self.release.wait(10)
        return self.real_flush(rows)  # the real INSERT on the leader's own connection

    def start(self, i: int) -> None:
        if i == 0:
            _wait_for(lambda: len(self.batches) == 1)
        elif i == self.others:
            _wait_for(lambda: self.group.waiting == self.others)
            self.release.set()


def _wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _store(account_id: int, fields: dict[str, Any], raw: str) -> Callable[[], int | None]:
    return lambda: services.inbound_store(account_id=account_id, fields=fields, raw=raw)


def _queued_ids() -> list[int]:
    """The ids handed to the `callbacks` queue so far (the fast path's messages in the Redis list)."""
    assert enqueue.flush(timeout=10)
    ids = []
    for raw in redis.Redis.from_url(celery_app.conf.broker_url).lrange("callbacks", 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == inbound_process_task.name
        ids.append(json.loads(base64.b64decode(message["body"]))[0][0])
    return ids


def test_concurrent_callbacks_are_all_stored_once_with_their_ids(callback_oa_account):
    payloads = [_fields(openid=f"o-gc-{n}") for n in range(24)]

    ids = _in_threads([_store(callback_oa_account.pk, fields, raw) for fields, raw in payloads])

    assert all(isinstance(i, int) for i in ids), ids
    assert len(set(ids)) == len(ids)
    rows = dict(InboundMessage.objects.filter(account=callback_oa_account).values_list("pk", "raw_payload"))
    assert rows == {i: raw for i, (_, raw) in zip(ids, payloads, strict=True)}
    assert sorted(_queued_ids()) == sorted(ids), "each committed row handed to the broker once"


def test_waiting_requests_share_one_insert_and_commit(callback_oa_account, monkeypatch):
    held = HeldLeader(monkeypatch, others=5)
    payloads = [_fields(openid=f"o-batch-{n}") for n in range(6)]

    ids = _in_threads([_store(callback_oa_account.pk, fields, raw) for fields, raw in payloads], start=held.start)

    assert [len(batch) for batch in held.batches] == [1, 5]
    assert held.batches[1] == sorted(held.batches[1]), "rows are sent in key order (no deadlock between processes)"
    assert all(isinstance(i, int) for i in ids)
    assert InboundMessage.objects.filter(pk__in=ids).count() == 6


def test_more_waiting_rows_than_one_statement_holds_are_flushed_in_turn(callback_oa_account, monkeypatch):
    group = GroupCommit(services._insert_batch, after_commit=services._enqueue_many_soon, max_batch=3)
    monkeypatch.setattr(services, "_group_commit", group)
    held = HeldLeader(monkeypatch, others=7, group=group)
    payloads = [_fields(openid=f"o-many-{n}") for n in range(8)]

    ids = _in_threads([_store(callback_oa_account.pk, fields, raw) for fields, raw in payloads], start=held.start)

    assert [len(batch) for batch in held.batches] == [1, 3, 3, 1]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 8
    assert InboundMessage.objects.filter(pk__in=ids).count() == 8
    assert sorted(_queued_ids()) == sorted(ids)


def test_duplicates_in_one_batch_are_stored_once_and_only_the_first_gets_the_id(callback_oa_account, monkeypatch):
    held = HeldLeader(monkeypatch, others=4)
    fields, raw = _fields(msg_id="7000000000000000001")
    other_fields, other_raw = _fields(msg_id="7000000000000000002")
    # The first request leads alone; the next four (three copies of one message) form one batch.
    calls = [_store(callback_oa_account.pk, other_fields, other_raw)] + [_store(callback_oa_account.pk, fields, raw)] * 3
    calls.append(_store(callback_oa_account.pk, other_fields, other_raw))  # a retry of a committed one

    ids = _in_threads(calls, start=held.start)

    assert held.batches[1] == ["msg:7000000000000000001", "msg:7000000000000000002"], "each key sent once"
    first, copies, retry = ids[0], ids[1:4], ids[4]
    assert isinstance(first, int) and retry is None
    assert len([i for i in copies if isinstance(i, int)]) == 1 and copies.count(None) == 2, copies
    assert InboundMessage.objects.filter(dedupe_key="msg:7000000000000000001").count() == 1
    assert InboundMessage.objects.filter(dedupe_key="msg:7000000000000000002").count() == 1
    assert sorted(_queued_ids()) == sorted(i for i in ids if i is not None)


def test_concurrent_retries_of_one_message_yield_one_row_and_one_id(callback_oa_account):
    fields, raw = _fields(msg_id="7000000000000000100")

    ids = _in_threads([_store(callback_oa_account.pk, fields, raw)] * 16)

    assert len([i for i in ids if i is not None]) == 1, ids
    assert not [i for i in ids if isinstance(i, BaseException)]
    assert InboundMessage.objects.filter(dedupe_key="msg:7000000000000000100").count() == 1


def test_a_bad_row_fails_only_its_own_request_and_the_rest_of_its_batch_is_stored(callback_oa_account, monkeypatch):
    held = HeldLeader(monkeypatch, others=6)
    good = [_fields(openid=f"o-good-{n}") for n in range(4)]
    bad_fields, bad_raw = _fields(openid="o-bad")
    # An account deleted while its callbacks were in flight: the deferred foreign key fails the
    # commit of the batch's INSERT; the rows are then stored one by one.
    calls = [_store(callback_oa_account.pk, *_fields(openid="o-first"))]
    calls += [_store(callback_oa_account.pk, fields, raw) for fields, raw in good[:2]]
    calls += [_store(987654321, bad_fields, bad_raw), _store(987654321, bad_fields, bad_raw)]
    calls += [_store(callback_oa_account.pk, fields, raw) for fields, raw in good[2:]]

    results = _in_threads(calls, start=held.start)

    assert [len(batch) for batch in held.batches] == [1, 5], "the bad row and its retry were sent once"
    bad, rest = results[3:5], results[:3] + results[5:]
    assert all(isinstance(r, DatabaseError) for r in bad), bad
    assert all(isinstance(r, int) for r in rest), rest
    assert set(InboundMessage.objects.values_list("pk", flat=True)) == set(rest)
    assert sorted(_queued_ids()) == sorted(rest), "every stored row, and nothing else, is handed to the broker"


def test_a_batch_that_fails_for_a_broken_database_fails_every_request_in_it(callback_oa_account, monkeypatch):
    held = HeldLeader(monkeypatch, others=3)
    real_flush = held.real_flush

    def broken(rows):
        if len(rows) > 1:
            raise DatabaseError("server closed the connection unexpectedly")
        return real_flush(rows)

    held.real_flush = broken
    results = _in_threads([_store(callback_oa_account.pk, *_fields(openid=f"o-{n}")) for n in range(4)], start=held.start)

    assert [len(batch) for batch in held.batches] == [1, 3]
    assert isinstance(results[0], int)
    assert all(isinstance(r, DatabaseError) for r in results[1:]), results
    assert len([r for r in results[1:] if isinstance(r, BatchFailed)]) == 2, "the leader raises the original error"
    assert list(InboundMessage.objects.values_list("pk", flat=True)) == [results[0]]
    assert _queued_ids() == [results[0]], "nothing of the failed batch is handed to the broker"


def test_deployed_endpoint_answers_500_for_every_request_of_a_failed_batch(callback_oa_account, monkeypatch):
    poster = CallbackClient(DeployedClient(keep_connections=False), callback_oa_account)
    assert poster.post(wechat_payload("text.xml", openid="o-warm")).status_code == 200  # account now cached
    held = HeldLeader(monkeypatch, others=3)

    def start(i: int) -> None:
        held.start(i)
        if i == 0:
            # While the first request's flush is held, the account is deleted (its cached copy still
            # lets callbacks through): every INSERT from now on fails on the deferred foreign key.
            callback_oa_account.delete()

    def post(openid: str) -> Callable[[], int]:
        return lambda: poster.post(wechat_payload("text.xml", openid=openid)).status_code

    statuses = _in_threads([post(f"o-e{n}") for n in range(4)], start=start)

    assert [len(batch) for batch in held.batches] == [1, 3]
    assert statuses == [500, 500, 500, 500], "no request answered success for a row never committed"
    assert not InboundMessage.objects.exists()


def test_inside_a_transaction_the_row_commits_with_it(callback_oa_account, monkeypatch):
    flushes = []
    monkeypatch.setattr(services._group_commit, "_flush", lambda rows: flushes.append(rows) or {})
    fields, raw = _fields()
    with transaction.atomic():
        inbound_id = services.inbound_store(account_id=callback_oa_account.pk, fields=fields, raw=raw)
        transaction.set_rollback(True)
    assert inbound_id is not None and not flushes, "the single-row path inside the caller's transaction"
    assert not InboundMessage.objects.filter(pk=inbound_id).exists(), "rolled back with the caller's transaction"
