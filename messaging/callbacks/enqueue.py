"""Handing stored callbacks to the `callbacks` queue, cheaply enough for the callback view.

`apply_async` costs about 0.5 ms of CPU and several Redis round trips per call (kombu builds a
Redis client object for every publish), which alone would hold the endpoint under its throughput
goal. With the Redis broker, the message for `inbound_process_task` is therefore built once per
process with Celery's own `as_task_v2` and then published with one LPUSH per callback on a shared
client, exactly where kombu's Redis transport would put it (the queue's list, priority 0). Any
other broker, eager mode, or a configuration the fast path does not understand uses apply_async.
A test consumes a fast-path message with kombu and checks it equals what apply_async publishes.
"""

from __future__ import annotations

import atexit
import base64
import json
import logging
import os
import queue
import threading
import time
import uuid
from typing import Any

import redis

logger = logging.getLogger(__name__)

_local_state: dict[str, Any] = {}
_lock = threading.Lock()

_CONNECT_TIMEOUT = 1.0
# The background publisher waits this long after the first id of a batch so that one LPUSH (and one
# thread wake-up) carries the ids of several requests: cheaper for the web process under load, and
# irrelevant to WeChat, which already has its answer.
_BATCH_LINGER_SECONDS = 0.01
_SOCKET_TIMEOUT = 2.0


class BrokerUnavailable(Exception):
    pass


def _fast_path(task) -> dict[str, Any] | None:
    """The prepared publisher for `task`, or None when the fast path does not apply."""
    app = task.app
    conf = app.conf
    broker_url = conf.broker_url or ""
    if conf.task_always_eager or not broker_url.startswith(("redis://", "rediss://")):
        return None
    key = (broker_url, task.name)
    state = _local_state.get("publisher")
    if state is not None and state["key"] == key:
        return state
    options = conf.broker_transport_options or {}
    if set(options) - {"visibility_timeout"}:
        return None  # priorities, key prefixes, fanout options: let kombu handle them
    route = app.amqp.router.route({}, task.name)
    queue = route.get("queue")
    # Celery publishes a route without its own exchange / routing key to a direct queue as
    # exchange "" and routing key = queue name, which kombu's Redis transport LPUSHes to that list.
    if queue is None or route.get("exchange") or route.get("routing_key") or route.get("priority") is not None:
        return None
    if (queue.exchange is not None and queue.exchange.type != "direct") or queue.expires or queue.max_priority:
        return None
    template = app.amqp.as_task_v2(
        "00000000-0000-0000-0000-000000000000",
        task.name,
        args=[0],
        kwargs={},
        time_limit=task.time_limit if task.time_limit is not None else conf.task_time_limit,
        soft_time_limit=task.soft_time_limit if task.soft_time_limit is not None else conf.task_soft_time_limit,
        ignore_result=task.ignore_result,
    )
    with _lock:
        state = {
            "key": key,
            "queue": queue.name,
            "routing_key": queue.name,
            "headers": dict(template.headers),
            "client": redis.Redis.from_url(broker_url, socket_connect_timeout=_CONNECT_TIMEOUT, socket_timeout=_SOCKET_TIMEOUT),
            "reply_to": str(uuid.uuid4()),
        }
        _local_state["publisher"] = state
    return state


def _message(state: dict[str, Any], inbound_id: int) -> str:
    task_id = str(uuid.uuid4())
    headers = dict(state["headers"])
    headers.update(id=task_id, root_id=task_id, argsrepr=f"[{inbound_id}]", kwargsrepr="{}")
    body = json.dumps([[inbound_id], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}])
    return json.dumps(
        {
            "body": base64.b64encode(body.encode()).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": {
                "correlation_id": task_id,
                "reply_to": state["reply_to"],
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": state["routing_key"]},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


def publish_inbound(task, inbound_id: int) -> None:
    """Enqueue `task(inbound_id)`; raises BrokerUnavailable when the broker cannot be reached fast."""
    publish_inbound_many(task, [inbound_id])


def publish_inbound_many(task, inbound_ids: list[int]) -> None:
    """Enqueue `task(id)` for each id, in order (one LPUSH on the fast path)."""
    state = _fast_path(task)
    if state is None:
        for inbound_id in inbound_ids:
            _publish_with_celery(task, inbound_id)
        return
    # LPUSH k v1 v2 … pushes left in turn and workers pop from the right: v1 is consumed first.
    messages = [_message(state, inbound_id) for inbound_id in inbound_ids]
    try:
        state["client"].lpush(state["queue"], *messages)
    except redis.RedisError as exc:
        raise BrokerUnavailable(type(exc).__name__) from exc


class _BackgroundPublisher:
    """One thread per web process that publishes committed ids in batches.

    The view answers WeChat once its row is committed; the Redis round trip then happens off the
    request path (and many requests share one LPUSH). An id lost here (process killed, broker
    down) is still a durable `received` row, which the sweeper hands over.
    """

    def __init__(self, task) -> None:
        self.task = task
        self.pid = os.getpid()
        self.queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.pending = 0
        self.idle = threading.Condition()
        threading.Thread(target=self._run, name="callbacks-enqueue", daemon=True).start()
        # A worker that exits gracefully (max-requests, deploy) hands over what it holds first.
        atexit.register(self.flush, 2.0)

    def submit(self, inbound_ids: list[int]) -> None:
        with self.idle:
            self.pending += len(inbound_ids)
        for inbound_id in inbound_ids:
            self.queue.put(inbound_id)

    def flush(self, timeout: float) -> bool:
        with self.idle:
            return self.idle.wait_for(lambda: self.pending == 0, timeout)

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            time.sleep(_BATCH_LINGER_SECONDS)
            while len(batch) < 500:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                publish_inbound_many(self.task, batch)
            except BrokerUnavailable as exc:
                logger.warning("%s inbound messages stored but not enqueued (%s); the sweeper will hand them over", len(batch), exc)
            except Exception:
                logger.exception("enqueueing %s inbound messages failed; the sweeper will hand them over", len(batch))
            with self.idle:
                self.pending -= len(batch)
                self.idle.notify_all()


def publish_inbound_soon_many(task, inbound_ids: list[int]) -> bool:
    """Queue the ids for the background publisher; False when the fast path does not apply
    (eager mode, another broker), in which case the caller publishes synchronously."""
    if _fast_path(task) is None:
        return False
    publisher = _local_state.get("background")
    if publisher is None or publisher.pid != os.getpid():
        with _lock:
            publisher = _local_state.get("background")
            if publisher is None or publisher.pid != os.getpid():
                publisher = _local_state["background"] = _BackgroundPublisher(task)
    publisher.submit(inbound_ids)
    return True


def flush(timeout: float = 5.0) -> bool:
    """Wait until the background publisher has handed over everything submitted (tests, shutdown)."""
    publisher = _local_state.get("background")
    return True if publisher is None else publisher.flush(timeout)


def _publish_with_celery(task, inbound_id: int) -> None:
    if task.app.conf.task_always_eager:
        task.apply_async(args=[inbound_id])
        return
    try:
        # One quick connection attempt and no publish retries: with the broker down, fail in
        # milliseconds instead of holding WeChat's request (kombu would retry for seconds).
        with task.app.pool.acquire(block=True) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.05, timeout=_CONNECT_TIMEOUT)
            task.apply_async(args=[inbound_id], connection=connection, retry=False)
    except Exception as exc:  # kombu/transport errors of any broker
        raise BrokerUnavailable(type(exc).__name__) from exc


def reset() -> None:
    """Forget the prepared publisher (tests that change the broker URL)."""
    state = _local_state.pop("publisher", None)
    if state is not None:
        state["client"].close()
