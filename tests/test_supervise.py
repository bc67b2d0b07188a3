"""scripts/supervise.py, which `make run` starts its Celery workers and beat under: a process that
exits on its own (a worker killed by its broker vanishing) is started again with backoff; a stop
signal is passed on and nothing is restarted after it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUPERVISE = [sys.executable, str(ROOT / "scripts" / "supervise.py")]


def _load_backoff():
    import importlib.util

    spec = importlib.util.spec_from_file_location("supervise", ROOT / "scripts" / "supervise.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.backoff


def test_backoff_doubles_up_to_the_cap():
    backoff = _load_backoff()
    assert [backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def _starts(log: Path) -> list[float]:
    return [float(line) for line in log.read_text().split()] if log.exists() else []


def test_a_process_that_keeps_dying_is_started_again_with_growing_delays(tmp_path):
    log = tmp_path / "starts"
    # Dies at once, like a worker whose broker is gone: every start is logged.
    child = f"import time; open({str(log)!r}, 'a').write(f'{{time.monotonic()}}\\n'); raise SystemExit(1)"
    proc = subprocess.Popen([*SUPERVISE, "--name", "t", "--first-delay", "0.2", "--max-delay", "0.8", "--", sys.executable, "-c", child],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while len(_starts(log)) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        starts = _starts(log)
        assert len(starts) >= 5
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        # 0.2, 0.4, 0.8, 0.8 (capped), each plus the interpreter's start-up.
        assert 0.2 <= gaps[0] < gaps[2]
        assert gaps[2] >= 0.8 and gaps[3] >= 0.8
    finally:
        proc.send_signal(signal.SIGTERM)
        # Stopped within its wait: 0 from the backoff pause, or the command's own 1 when the signal
        # lands while a start is running (the supervisor exits with the command's code then).
        assert proc.wait(10) in (0, 1)
    assert "exited with 1" in proc.stderr.read()
    count = len(_starts(log))
    time.sleep(1.2)
    assert len(_starts(log)) == count  # nothing restarted after the stop


def test_a_stop_signal_is_passed_on_and_ends_the_supervisor(tmp_path):
    marker = tmp_path / "got"
    child = (
        "import signal, sys, time\n"
        f"def stop(n, f): open({str(marker)!r}, 'w').write(str(n)); sys.exit(0)\n"
        "signal.signal(signal.SIGQUIT, stop)\n"
        f"open({str(marker)!r} + '.ready', 'w').write('1')\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([*SUPERVISE, "--name", "t", "--", sys.executable, "-c", child])
    deadline = time.monotonic() + 30
    while not Path(str(marker) + ".ready").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    proc.send_signal(signal.SIGQUIT)
    assert proc.wait(10) == 0
    assert time.monotonic() - started < 5
    assert marker.read_text() == str(int(signal.SIGQUIT))
