"""Callbacks sent with `Transfer-Encoding: chunked` (no Content-Length) to the deployed server:
gunicorn serving scrm.wsgi:application, as `make run` and production start it (issue 14, defect 8).

A proxy in front of the product may re-chunk WeChat's POSTs; Django's request stream reads nothing
without a Content-Length, so a chunked body looked empty (400) however large it was.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from messaging.callbacks.crypto import signature_compute
from messaging.callbacks.models import InboundMessage
from tests.factories import ChannelAccountFactory
from tests.plugins.callbacks import wechat_payload

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn_url(transactional_db):
    """gunicorn (gthread, like run_stack.sh) on the test database, in a process of its own."""
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    env.update(DATABASE_URL=database_url, REDIS_URL=settings.REDIS_URL, SCRM_TESTING="1", DB_CONN_MAX_AGE="0")
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "scrm.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "4", "--graceful-timeout", "2"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: {proc.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _signed_path(account, *, nonce: str) -> str:
    timestamp = str(int(time.time()))
    signature = signature_compute(account.token, timestamp, nonce)
    query = urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce})
    return reverse("callbacks:wechat", kwargs={"account_id": account.pk}) + "?" + query


def _post_chunked(address: str, path: str, chunks, *, timeout: float = 20.0) -> tuple[int, bytes, int]:
    """POST `chunks` with Transfer-Encoding: chunked; returns (status, body, bytes sent before the answer).

    The body is sent from a thread while this one waits for the answer, as a client streaming a
    large upload does: a server that answers before the end of the body is seen doing so."""
    host, port = address.split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sent = {"bytes": 0, "at_answer": None}
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()

    def send() -> None:
        try:
            sock.sendall(head)
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent["bytes"] += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and stopped reading: the rest is not wanted

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            if sent["at_answer"] is None:
                sent["at_answer"] = sent["bytes"]
            answer += data
        head_part, _, body = answer.partition(b"\r\n\r\n")
        length = 0
        for line in head_part.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            data = sock.recv(65536)
            if not data:
                break
            body += data
    finally:
        sock.close()
        sender.join(timeout=timeout)
    status = int(head_part.split(b" ", 2)[1])
    return status, body, sent["at_answer"] or 0


def test_chunked_callback_of_10_mb_is_refused_413_without_reading_it_all(gunicorn_url):
    account = ChannelAccountFactory(kind="oa", encrypt_mode="plain")
    chunk = b"<xml>" + b"x" * (64 * 1024 - 5)
    status, body, sent_before_answer = _post_chunked(gunicorn_url, _signed_path(account, nonce="n-big"), [chunk] * 160)
    assert status == 413, body
    assert b"too large" in body
    # Answered once the limit (64 KiB by default) was passed, not after the 10 MB arrived.
    assert sent_before_answer < 5 * 1024 * 1024
    assert not InboundMessage.objects.filter(account=account).exists()


def test_small_chunked_callback_is_read_and_stored(gunicorn_url):
    account = ChannelAccountFactory(kind="oa", encrypt_mode="plain")
    xml = wechat_payload("text.xml", to=account.app_id, openid="o-chunked", content="chunked hello").encode()
    parts = [xml[:50], xml[50:120], xml[120:]]
    status, body, _ = _post_chunked(gunicorn_url, _signed_path(account, nonce="n-small"), parts)
    assert (status, body) == (200, b"success")
    assert InboundMessage.objects.filter(account=account, msg_type="text").count() == 1
