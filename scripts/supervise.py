"""Run a command and start it again when it exits on its own, with backoff: what systemd's
`Restart=always` or a container runtime's restart policy does, for `make run` (scripts/run_stack.sh).

    python scripts/supervise.py --name worker -- celery -A scrm worker …

Why: a Celery worker can die of its broker vanishing (kombu's "Unrecoverable error: AttributeError …
'hostname'" while restoring unacknowledged messages when Redis is gone) and does not come back by
itself; the stack then processes nothing after Redis returns. Under this supervisor it is started
again: after 1 s, then 2, 4, 8, 16, 30 s (capped) while it keeps dying (Redis still away), and the
backoff starts over once a run lasted `--healthy-after` seconds (60).

Stopping: SIGTERM, SIGINT, SIGQUIT or SIGHUP to the supervisor is passed on to the command (the same
signal: run_stack.sh's QUIT is the worker's cold shutdown), nothing is restarted after it, and the
supervisor exits with the command's code once it has ended — within the command's own stop time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)


def backoff(failures: int, *, first: float = 1.0, cap: float = 30.0) -> float:
    """Seconds to wait before the restart after `failures` quick exits in a row (1, 2, 4, … cap)."""
    return min(cap, first * 2 ** max(failures - 1, 0))


def log(name: str, text: str) -> None:
    print(f"[supervise {name}] {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="process")
    parser.add_argument("--first-delay", type=float, default=1.0)
    parser.add_argument("--max-delay", type=float, default=30.0)
    parser.add_argument("--healthy-after", type=float, default=60.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")

    stopping = threading.Event()
    child: list[subprocess.Popen] = []

    stop_signal = [signal.SIGTERM]

    def on_signal(signum, _frame) -> None:
        stop_signal[0] = signum
        stopping.set()
        if child and child[0].poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child[0].send_signal(signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)

    failures = 0
    while True:
        started = time.monotonic()
        child[:] = [subprocess.Popen(command)]  # noqa: S603 - the operator's own command line
        if stopping.is_set():  # a stop signal came while it was being started
            child[0].send_signal(stop_signal[0])
        code = None
        while code is None:
            try:
                code = child[0].wait()
            except InterruptedError:  # pragma: no cover - PEP 475 retries wait() itself
                continue
        if stopping.is_set():
            return code if code >= 0 else 128 - code
        ran = time.monotonic() - started
        failures = 1 if ran >= args.healthy_after else failures + 1
        delay = backoff(failures, first=args.first_delay, cap=args.max_delay)
        log(args.name, f"exited with {code} after {ran:.1f}s; starting it again in {delay:.0f}s (restart {failures} in a row)")
        if stopping.wait(delay):
            return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
