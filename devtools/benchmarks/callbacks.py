"""Callback throughput and latency, measured the way WeChat calls us.

Starts gunicorn as deployed (`scrm.wsgi:application`, 2 workers, 4 threads each, like
scripts/run_stack.sh) on a free loopback port, posts encrypted events concurrently from a small asyncio client (each request on its own
connection, as WeChat's servers do), and prints requests/s and p50/p99 latency, next to the same
figures for an empty Django view served by the same gunicorn in the same run.

The callback URLs are served without the middleware stack (messaging/callbacks/wsgi.py). The goal's
baseline is an ordinary empty Django view (full middleware stack); the same empty view on the lean
path is measured too and its ratio printed, so the cost of the callback's own work is visible.

Goal (issue 4): ≥1,000 callbacks/s, p99 < 50 ms, ≥0.5x the empty view's throughput.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.request import Request, urlopen

from django.conf import settings
from django.urls import reverse

from accounts.models import ChannelAccount
from devtools.benchmarks.common import free_port, subprocess_env
from messaging.callbacks.crypto import envelope_encrypt, signature_compute
from messaging.callbacks.models import InboundMessage

BENCH_APP_ID = "wxbenchcallbacks01"
GOAL_RPS, GOAL_P99_MS, GOAL_RATIO = 1000, 50.0, 0.5
DEFAULT_CONCURRENCY = 10
# scripts/run_stack.sh serves with --workers 2 --threads 4.
DEPLOYED_THREADS = 4


@dataclass
class Result:
    label: str
    requests: int
    ok: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.label:<16} {self.ok:>6}/{self.requests:<6} ok  {self.rps:8.0f} req/s  "
            f"p50 {self.pct(0.50):6.1f} ms  p99 {self.pct(0.99):6.1f} ms"
        )


def _bench_account():
    key = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    values = {"name": "Callback benchmark", "token": "benchtoken", "encoding_aes_key": key, "encrypt_mode": "safe", "is_active": True}
    # update() rather than update_or_create(): a row left by a run under another FIELD_ENCRYPTION_KEY
    # cannot be loaded, but it can be overwritten.
    pk = ChannelAccount.objects.filter(kind="oa", app_id=BENCH_APP_ID).values_list("pk", flat=True).first()
    if pk is None:
        return ChannelAccount.objects.create(kind="oa", app_id=BENCH_APP_ID, **values)
    ChannelAccount.objects.filter(pk=pk).update(**values)
    return ChannelAccount.objects.get(pk=pk)


def _payloads(account, n: int) -> list[bytes]:
    """n distinct encrypted callbacks (text messages, subscribes, menu clicks) as raw HTTP requests."""
    path = reverse("callbacks:wechat", kwargs={"account_id": account.pk})
    run = secrets.token_hex(4)
    now = int(time.time())
    out = []
    for i in range(n):
        openid = f"o-bench-{run}-{i % 5000:05d}"
        kind = i % 10
        if kind < 7:
            inner = (
                f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
                f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello {i}]]></Content>"
                f"<MsgId>{int(run, 16) * 10_000_000 + i}</MsgId></xml>"
            )
        else:
            event, key = ("subscribe", "") if kind < 9 else ("CLICK", f"<EventKey><![CDATA[MENU_{i}]]></EventKey>")
            inner = (
                f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}-{i}]]></FromUserName>"
                f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>{key}</xml>"
            )
        nonce = str(100000 + i)
        envelope = envelope_encrypt(plaintext=inner, token=account.token, encoding_aes_key=account.encoding_aes_key, receive_id=account.app_id, nonce=nonce)
        encrypt = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
        timestamp = envelope.split("<TimeStamp>", 1)[1].split("</TimeStamp>", 1)[0]
        body = f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
        query = (
            f"signature={signature_compute(account.token, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
            f"&openid={openid}&encrypt_type=aes&msg_signature={signature_compute(account.token, timestamp, nonce, encrypt)}"
        )
        out.append(_request(f"{path}?{query}", body))
    return out


def _request(target: str, body: bytes) -> bytes:
    head = (
        f"POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def _one(port: int, raw: bytes, latencies: list[float]) -> bool:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        response = await reader.read()
        writer.close()
    except OSError:
        return False
    latencies.append((time.perf_counter() - started) * 1000)
    return response.startswith(b"HTTP/1.1 200") and response.endswith(b"success")


async def _drive(port: int, requests: list[bytes], concurrency: int) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    queue = iter(requests)
    ok = 0

    async def worker():
        nonlocal ok
        for raw in queue:
            success = await _one(port, raw, latencies)
            ok += success

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, time.perf_counter() - started, latencies


def _measure(label: str, port: int, requests: list[bytes], concurrency: int) -> Result:
    ok, seconds, latencies = asyncio.run(_drive(port, requests, concurrency))
    return Result(label=label, requests=len(requests), ok=ok, seconds=seconds, latencies_ms=latencies)


def _start_gunicorn(port: int, threads: int) -> subprocess.Popen:
    env = subprocess_env(CALLBACKS_BENCH_EMPTY_VIEW="true")
    cmd = [
        sys.executable, "-m", "gunicorn", "scrm.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--threads", str(threads), "--log-level", "warning",
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=str(Path(settings.BASE_DIR)), stdout=subprocess.DEVNULL)  # noqa: S603 - fixed argv
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            with urlopen(Request(f"http://127.0.0.1:{port}/callbacks/_bench/empty/", headers={"Host": "localhost"}), timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("gunicorn did not start within 30 s")


def bench_callbacks(
    *, requests: int, concurrency: int = DEFAULT_CONCURRENCY, threads: int = DEPLOYED_THREADS, stdout
) -> tuple[Result, Result]:
    """Run the benchmark; returns (callback result, empty-view result)."""
    account = _bench_account()
    stdout.write(f"callbacks: preparing {requests} encrypted events (concurrency {concurrency}, gunicorn 2x{threads}) …\n")
    payloads = _payloads(account, requests + 200)
    warmup, payloads = payloads[:200], payloads[200:]
    empty_body = b"<xml><ToUserName>gh_bench</ToUserName><Encrypt>x</Encrypt></xml>"
    empty = [_request("/callbacks/_bench/empty/", empty_body)] * requests
    empty_lean = [_request("/callbacks/wechat/_bench/empty/", empty_body)] * requests

    port = free_port()
    proc = _start_gunicorn(port, threads)
    try:
        _measure("warm-up", port, warmup + empty[:200] + empty_lean[:200], concurrency)
        baseline = _measure("empty view", port, empty, concurrency)
        result = _measure("callbacks", port, payloads, concurrency)
        lean = _measure("empty view lean", port, empty_lean, concurrency)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    stored = InboundMessage.objects.filter(account=account).count()
    # Their queued processing tasks find no row and return (the bench leaves no customers behind).
    InboundMessage.objects.filter(account=account).delete()

    ratio = result.rps / baseline.rps if baseline.rps else 0.0
    stdout.write(baseline.line() + "  (full middleware stack)\n")
    stdout.write(result.line() + "  (lean path)\n")
    stdout.write(lean.line() + "  (lean path)\n")
    stdout.write(f"callbacks stored: {stored} of {requests + 200} posted (incl. warm-up)\n")
    verdict = all([result.rps >= GOAL_RPS, result.pct(0.99) < GOAL_P99_MS, ratio >= GOAL_RATIO, result.ok == result.requests])
    stdout.write(
        f"ratio callbacks/empty view: {ratio:.2f}x  (goal ≥{GOAL_RPS}/s, p99 <{GOAL_P99_MS:.0f} ms, ≥{GOAL_RATIO}x): "
        f"{'MET' if verdict else 'NOT MET'}\n"
    )
    lean_ratio = result.rps / lean.rps if lean.rps else 0.0
    stdout.write(f"ratio callbacks/empty view on the same lean path: {lean_ratio:.2f}x (for information)\n")
    return result, baseline


def run(*, customers: int, stdout) -> None:
    """Entry point of `manage.py bench`: request count scales with BENCH_CUSTOMERS (5,000–20,000)."""
    requests = int(os.environ.get("BENCH_CALLBACK_REQUESTS") or min(20_000, max(5_000, customers // 2)))
    bench_callbacks(requests=requests, stdout=stdout)
