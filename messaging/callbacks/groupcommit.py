"""Group commit: the concurrent callback requests of one web process share one INSERT and one commit.

Per callback, the durable INSERT + commit cost the database more CPU than everything else it does
(parse, plan, WAL commit record, flush) and the web process a round trip. gunicorn's gthread workers
serve several requests at once, so while one thread waits for its commit the others queue their rows
behind it; the next commit then carries all of them.

Leader/follower, no timer: a thread whose row finds no flush in progress becomes the leader, takes
everything pending and flushes it with its own (thread-local) database connection. The others wait,
each on its own lock. When the flush ends, the leader releases the rows it carried with their
outcome and hands the lead to the oldest row that arrived meanwhile (or stands down when none did):
each waiting thread wakes exactly once per event, and no row waits for a timer — a lone request
flushes at once. Every request gets its answer only after the commit that holds its row, and an
error of that commit is raised in every request of the batch (WeChat retries them).

Within a batch, rows with the same key (WeChat's retry of a callback that is still pending) are sent
once: the first entry gets the stored id, the others None, as a retry across batches does. Rows are
sent sorted by key, so two processes whose batches overlap take the unique-index locks in the same
order and cannot deadlock on each other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from django.db import DatabaseError

logger = logging.getLogger(__name__)

# An upper bound on one statement's size; with gunicorn's few threads per worker batches stay far below.
MAX_BATCH = 100


class BatchFailed(DatabaseError):
    """The shared INSERT that held this request's row failed (raised in the followers of the batch;
    the leader raises the original error)."""


class _Entry:
    __slots__ = ("key", "row", "result", "error", "own_error", "lead", "wake")

    def __init__(self, key: Hashable, row: Any) -> None:
        self.key, self.row = key, row
        self.result: Any = None
        self.error: BaseException | None = None
        # The error is this row's own (flush reported it for the row), not the whole batch's.
        self.own_error = False
        self.lead = False
        # Held until the entry's outcome is known or it is handed the lead: the waiting thread blocks
        # on it (a bare lock: cheaper than a Condition, and it wakes exactly the one thread concerned).
        self.wake = threading.Lock()
        self.wake.acquire()


class GroupCommit:
    """Funnels `submit(key, row)` calls from many threads into `flush(rows)` calls, one at a time.

    `flush` gets rows with distinct keys sorted by key, must store them in one transaction that is
    committed when it returns, and returns {key: result} for the rows it stored (a key already
    stored is absent and its submitters get None). A flush may also store rows one by one and
    report a row that failed as {key: exception}: only that row's submitters get the error. `after_commit` then gets the results of the
    stored rows, on the leader's thread once the followers have been released; its errors are
    logged, not raised (the rows are committed and their requests answered).
    """

    def __init__(
        self,
        flush: Callable[[list[Any]], Mapping[Hashable, Any]],
        *,
        after_commit: Callable[[list[Any]], None] | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._flush = flush
        self._after_commit = after_commit
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Entry] = []
        self._flushing = False

    @property
    def waiting(self) -> int:
        """Rows submitted and not yet taken by a leader."""
        with self._lock:
            return len(self._pending)

    def submit(self, *, key: Hashable, row: Any) -> Any:
        """Store `row` (durably, once per key) and return its result, or None for a duplicate key."""
        mine = _Entry(key, row)
        with self._lock:
            self._pending.append(mine)
            mine.lead = not self._flushing
            self._flushing = True
        led: list[_Entry] = []
        while True:
            if not mine.lead:
                mine.wake.acquire()  # released once: with the outcome, or with the lead
                if not mine.lead:
                    break
            mine.lead = False
            with self._lock:
                led = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            stored: list[Any] = []
            try:
                stored = self._run(led)
            finally:
                # Hand the lead to the oldest row that arrived during this flush, or stand down.
                with self._lock:
                    successor = self._pending[0] if self._pending else None
                    if successor is None:
                        self._flushing = False
                    else:
                        successor.lead = True
                for entry in led:
                    if entry is not mine:
                        entry.wake.release()
                if successor is not None and successor is not mine:
                    successor.wake.release()
            if stored and self._after_commit is not None:
                try:
                    self._after_commit(stored)
                except Exception:
                    logger.exception("after-commit step of %s stored rows failed", len(stored))
            if any(entry is mine for entry in led):
                break
        if mine.error is None:
            return mine.result
        if mine.own_error or any(entry is mine for entry in led):
            raise mine.error
        raise BatchFailed(f"the INSERT of this row's batch failed ({type(mine.error).__name__}: {mine.error})") from mine.error

    def _run(self, batch: list[_Entry]) -> list[Any]:
        """Flush `batch` and record each entry's outcome (read by its thread once woken); the
        results of the rows stored."""
        try:
            first: dict[Hashable, _Entry] = {}
            for entry in batch:
                first.setdefault(entry.key, entry)
            results = self._flush([first[key].row for key in sorted(first)])
        except BaseException as exc:
            for entry in batch:
                entry.error = exc
            if not isinstance(exc, Exception):
                raise  # interpreter shutdown, worker abort: the waiters have their error already
            return []
        for entry in batch:
            outcome = results.get(entry.key)
            if isinstance(outcome, Exception):
                # This row alone failed; a copy of it in the same batch was not stored either.
                entry.error, entry.own_error = outcome, first[entry.key] is entry
            else:
                entry.result = outcome if first[entry.key] is entry else None
        return [outcome for outcome in results.values() if not isinstance(outcome, Exception)]
