"""WeCom welcome messages under a callbacks backlog: from the callback to `send_welcome_msg` as the
sandbox receives it (issue 14, defect 10; messaging/channels/welcome.py).

Deployed shape: gunicorn as scripts/run_stack.sh serves it, one Celery worker on `callbacks`
(concurrency 2) and one on `welcome` (concurrency 2), the sandbox in this process. First 1,000
add_external_contact events without a welcome (contacts added through a staff member's own QR code:
each needs an `externalcontact/get` and the customer's identity work) are posted while no callbacks
worker runs, so they wait in the `callbacks` queue; then the callbacks worker starts and, while it
works through that backlog, WELCOMES contacts arrive through a channel code with a welcome text and
an image (a cached media_id), one every 100 ms. For each: the time from just before its callback
was posted to the moment the sandbox received its `send_welcome_msg`; p50, p99, max, and how many
were lost (not sent; WeCom's window is 20 s).

Goal: p99 ≤ 5 s. Everything the run made (account, customers, callbacks) is deleted at the end.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from accounts.models import ChannelAccount
from customers.models import ChannelIdentity, Customer
from devtools.benchmarks.callbacks import _request, _start_gunicorn
from devtools.benchmarks.common import free_port, say, subprocess_env
from messaging.callbacks.crypto import envelope_encrypt, signature_compute
from messaging.callbacks.models import InboundMessage
from messaging.channels import wecom_media
from messaging.channels.models import ChannelCode
from messaging.sandbox.control import SandboxControl
from messaging.sandbox.server import SandboxServer

BACKLOG = 1000
WELCOMES = int(os.environ.get("BENCH_WELCOMES") or 100)
WELCOME_INTERVAL_SECONDS = 0.1
GOAL_P99_SECONDS = 5.0
WAIT_AFTER_LAST_SECONDS = 30.0
STAFF = "bench_staff"
STATE = "bench_welcome"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048

def _event(account: ChannelAccount, *, external: str, welcome_code: str, state: str) -> bytes:
    """An encrypted add_external_contact callback as WeCom posts it (raw HTTP request)."""
    inner = (
        f"<xml><ToUserName><![CDATA[{account.app_id}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType>"
        f"<UserID><![CDATA[{STAFF}]]></UserID><ExternalUserID><![CDATA[{external}]]></ExternalUserID>"
        f"<State><![CDATA[{state}]]></State><WelcomeCode><![CDATA[{welcome_code}]]></WelcomeCode></xml>"
    )
    nonce = str(secrets.randbelow(10**9))
    envelope = envelope_encrypt(
        plaintext=inner, token=account.token, encoding_aes_key=account.encoding_aes_key, receive_id=account.app_id, nonce=nonce
    )
    encrypt = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
    timestamp = envelope.split("<TimeStamp>", 1)[1].split("</TimeStamp>", 1)[0]
    body = f"<xml><ToUserName><![CDATA[{account.app_id}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
    path = reverse("callbacks:wecom", kwargs={"account_id": account.pk})
    query = f"msg_signature={signature_compute(account.token, timestamp, nonce, encrypt)}&timestamp={timestamp}&nonce={nonce}"
    return _request(f"{path}?{query}", body)


def _post(port: int, raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    if not (response.startswith(b"HTTP/1.1 200") and response.endswith(b"success")):
        raise RuntimeError(f"callback refused: {response[:200]!r}")


def _worker(queues: str, concurrency: int, name: str, env: dict) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "celery", "-A", "scrm", "worker", "-Q", queues, "--concurrency", str(concurrency),
        "-n", f"{name}@%h", "--without-mingle", "--without-gossip", "-l", "WARNING",
    ]
    return subprocess.Popen(cmd, env=env, cwd=str(Path(settings.BASE_DIR)), stdout=subprocess.DEVNULL)  # noqa: S603 - fixed argv


def _stop(*procs: subprocess.Popen | None) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGQUIT if "celery" in " ".join(map(str, proc.args)) else signal.SIGTERM)
    for proc in procs:
        if proc is None:
            continue
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _sent_at(control: SandboxControl, corp_id: str) -> dict[str, float]:
    return {m["payload"]["welcome_code"]: m["at"] for m in control.sent_messages(app_id=corp_id, api="welcome")}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _cleanup(account: ChannelAccount) -> None:
    """Remove what the run made: its callbacks, the customers it created (with their events), the account."""
    InboundMessage.objects.filter(account=account).delete()
    customer_ids = list(ChannelIdentity.objects.filter(account=account).values_list("customer_id", flat=True))
    with transaction.atomic():
        ChannelIdentity.objects.filter(account=account).delete()
        Customer.objects.filter(pk__in=customer_ids, identities__isnull=True).delete()
    account.delete()


def run(*, customers: int, stdout) -> None:
    del customers  # the welcome lane does not depend on the population's size
    server = SandboxServer("127.0.0.1", 0).start()
    control = SandboxControl(server.base_url)
    tag = secrets.token_hex(4)
    account = ChannelAccount.objects.create(
        kind="wecom", name=f"bench welcome {tag}", app_id=f"wwbench{tag}", app_secret=secrets.token_hex(16),
        token=secrets.token_hex(8), encoding_aes_key=base64.b64encode(secrets.token_bytes(32)).decode().rstrip("="), api_base_url=server.base_url,
    )
    env = subprocess_env(WECHAT_SANDBOX_URLS=server.base_url)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL) if settings.CELERY_BROKER_URL.startswith("redis") else None
    gunicorn = callbacks_worker = welcome_worker = None
    try:
        control.register_app(kind="wecom", app_id=account.app_id, secret=account.app_secret, token=account.token,
                             encoding_aes_key=account.encoding_aes_key, auto_report=False)
        control.add_wecom_staff(account.app_id, STAFF)
        image = wecom_media.media_file_create(name="welcome.png", content=PNG)
        ChannelCode.objects.create(
            account=account, kind="contact_way", name="bench", scene=STATE, staff_userids=[STAFF], welcome_text="欢迎光临",
            welcome_attachments=[{"msgtype": "image", "media_file": image.pk}],
        )
        port = free_port()
        gunicorn = _start_gunicorn(port, 4)
        welcome_worker = _worker("welcome", 2, f"bench-welcome-{tag}", env)

        # Warm-up (not measured): the welcome worker is up, has its token and the image's media_id.
        code = control.add_external_contact(account.app_id, STAFF, f"wm{tag}warm", state=STATE)
        _post(port, _event(account, external=f"wm{tag}warm", welcome_code=code, state=STATE))
        deadline = time.monotonic() + 60
        while code not in _sent_at(control, account.app_id):
            if time.monotonic() > deadline:
                raise RuntimeError("the welcome worker sent nothing within 60 s")
            time.sleep(0.2)

        say(stdout, f"welcome: posting {BACKLOG:,} add_external_contact events without a welcome (the backlog) …\n")
        backlog_ids = [f"wm{tag}b{i:05d}" for i in range(BACKLOG)]
        backlog_events = []
        for external in backlog_ids:
            code = control.add_external_contact(account.app_id, STAFF, external)
            backlog_events.append(_event(account, external=external, welcome_code=code, state=""))
        for raw in backlog_events:
            _post(port, raw)
        time.sleep(0.5)  # the web process's background publisher hands the last ids to Redis
        queued = broker.llen("callbacks") if broker is not None else None
        callbacks_worker = _worker("callbacks", 2, f"bench-callbacks-{tag}", env)

        say(stdout, f"welcome: {WELCOMES} welcomed contacts, one every {WELCOME_INTERVAL_SECONDS * 1000:.0f} ms, "
                    f"callbacks queue at {queued if queued is not None else '?'} …\n")
        posted: dict[str, float] = {}
        backlog_seen = []
        for i in range(WELCOMES):
            external = f"wm{tag}w{i:04d}"
            code = control.add_external_contact(account.app_id, STAFF, external, state=STATE)
            raw = _event(account, external=external, welcome_code=code, state=STATE)
            if broker is not None:
                backlog_seen.append(broker.llen("callbacks"))
            posted[code] = time.time()
            _post(port, raw)
            time.sleep(WELCOME_INTERVAL_SECONDS)
        deadline = time.monotonic() + WAIT_AFTER_LAST_SECONDS
        while time.monotonic() < deadline and len(set(posted) & set(_sent_at(control, account.app_id))) < len(posted):
            time.sleep(0.2)
        sent = _sent_at(control, account.app_id)
        latencies = [sent[code] - at for code, at in posted.items() if code in sent]
        lost = len(posted) - len(latencies)
        remaining = broker.llen("callbacks") if broker is not None else None

        # Where the time went: posted → stored (the web process), stored → received by WeCom (queue + task).
        received = dict(
            InboundMessage.objects.filter(account=account, event="change_external_contact", parsed__State=STATE)
            .values_list("parsed__WelcomeCode", "received_at")
        )
        web = [received[code].timestamp() - at for code, at in posted.items() if code in received]
        lane = [sent[code] - received[code].timestamp() for code in posted if code in sent and code in received]
        p99 = _pct(latencies, 0.99)
        if backlog_seen:
            stdout.write(f"callbacks queue while welcomes arrived: {max(backlog_seen):,} → {min(backlog_seen):,} waiting "
                         f"({remaining:,} left at the end)\n")
        stdout.write(
            f"callback → send_welcome_msg: {len(latencies)}/{len(posted)} sent, p50 {_pct(latencies, 0.5):.2f} s, "
            f"p99 {p99:.2f} s, max {max(latencies, default=float('nan')):.2f} s, lost {lost}\n"
        )
        stdout.write(f"  callback stored: p50 {_pct(web, 0.5):.2f} s, p99 {_pct(web, 0.99):.2f} s; "
                     f"stored → sent: p50 {_pct(lane, 0.5):.2f} s, p99 {_pct(lane, 0.99):.2f} s\n")
        met = lost == 0 and p99 <= GOAL_P99_SECONDS
        stdout.write(f"goal p99 ≤ {GOAL_P99_SECONDS:.0f} s with a {BACKLOG:,}-event callbacks backlog: {'MET' if met else 'NOT MET'}\n")
    finally:
        _stop(callbacks_worker, welcome_worker, gunicorn)
        server.stop()
        _cleanup(account)
