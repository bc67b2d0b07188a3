"""Posting events to an app's callback URL, signed and encrypted exactly as WeChat and WeCom do.

Posting happens on background threads so an API answer is never held up by the product's callback view.
Events for one user go to the same thread, so their order is kept (subscribe before unsubscribe).
"""

from __future__ import annotations

import hashlib
import http.client as http_client
import logging
import queue
import re
import secrets
import threading
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from messaging.sandbox.state import App, SandboxState

logger = logging.getLogger(__name__)

_ENCRYPT_RE = re.compile(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", re.S)
_SIGNATURE_RE = re.compile(r"<MsgSignature><!\[CDATA\[(.*?)\]\]></MsgSignature>", re.S)


@dataclass(frozen=True)
class Callback:
    """Everything needed to post one event, copied from the app when queued."""

    kind: str
    app_id: str
    url: str
    token: str
    encoding_aes_key: str
    original_id: str
    agent_id: str
    encrypted: bool
    retries: int
    timeout: float
    xml: str
    user: str

    @classmethod
    def for_app(cls, app: App, xml: str, user: str, *, encrypted: bool | None = None) -> Callback:
        return cls(
            kind=app.kind, app_id=app.app_id, url=app.callback_url, token=app.token,
            encoding_aes_key=app.encoding_aes_key, original_id=app.original_id, agent_id=app.agent_id,
            encrypted=app.encrypted_callbacks if encrypted is None else encrypted, retries=app.callback_retries,
            timeout=app.callback_timeout, xml=xml, user=user,
        )


def plain_signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()  # noqa: S324 (WeChat's scheme)


def build_request(cb: Callback) -> tuple[dict[str, str], bytes]:
    """The query parameters and body WeChat would send for this event."""
    timestamp = str(int(time.time()))
    nonce = str(secrets.randbelow(10**10))
    if cb.kind == "wecom":
        from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

        if not cb.encrypted:
            return {"timestamp": timestamp, "nonce": nonce}, cb.xml.encode()
        packed = WeComCrypto(cb.token, cb.encoding_aes_key, cb.app_id).encrypt_message(cb.xml, nonce, timestamp)
        encrypt = _ENCRYPT_RE.search(packed).group(1)
        body = f"<xml><ToUserName><![CDATA[{cb.app_id}]]></ToUserName><AgentID><![CDATA[{cb.agent_id}]]></AgentID><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        params = {"msg_signature": _SIGNATURE_RE.search(packed).group(1), "timestamp": timestamp, "nonce": nonce}
        return params, body.encode()
    params = {"signature": plain_signature(cb.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if cb.user:
        params["openid"] = cb.user
    if not cb.encrypted:
        return params, cb.xml.encode()
    from wechatpy.crypto import WeChatCrypto

    packed = WeChatCrypto(cb.token, cb.encoding_aes_key, cb.app_id).encrypt_message(cb.xml, nonce, timestamp)
    encrypt = _ENCRYPT_RE.search(packed).group(1)
    params.update(encrypt_type="aes", msg_signature=_SIGNATURE_RE.search(packed).group(1))
    body = f"<xml><ToUserName><![CDATA[{cb.original_id}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return params, body.encode()


class _HTTP:
    """Keep-alive connections of one posting thread (http.client: far cheaper per post than requests).

    A URL that refused a connection is skipped for a second, so a product that is not running costs
    nothing per event instead of a failed connect each time."""

    def __init__(self) -> None:
        self.conns: dict[tuple[str, str, int], http_client.HTTPConnection] = {}
        self.down_until: dict[tuple[str, str, int], float] = {}

    def post(self, url: str, params: dict[str, str], body: bytes, timeout: float) -> tuple[int, str]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        if self.down_until.get(key, 0) > time.monotonic():
            raise ConnectionRefusedError("refused a moment ago")
        target = (parts.path or "/") + "?" + "&".join(filter(None, [parts.query, urlencode(params)]))
        headers = {"Content-Type": "text/xml", "Content-Length": str(len(body))}
        for fresh in (False, True):
            conn = self.conns.get(key)
            if conn is None or fresh:
                if conn is not None:
                    conn.close()
                cls = http_client.HTTPSConnection if parts.scheme == "https" else http_client.HTTPConnection
                conn = self.conns[key] = cls(key[1], key[2], timeout=timeout)
            elif conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request("POST", target, body=body, headers=headers)
                res = conn.getresponse()
                text = res.read().decode("utf-8", "replace")
                if res.getheader("Connection", "").lower() == "close":
                    conn.close()
                    self.conns.pop(key, None)
                return res.status, text
            except ConnectionRefusedError:
                self.conns.pop(key, None)
                self.down_until[key] = time.monotonic() + 1.0
                raise
            except TimeoutError:
                conn.close()
                self.conns.pop(key, None)
                raise
            except (OSError, http_client.HTTPException):
                conn.close()
                self.conns.pop(key, None)
                if fresh:
                    raise
                # A kept-alive connection the server had closed: retry once on a new one.
        raise ConnectionError("unreachable")

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


class CallbackPoster:
    """A few worker threads posting queued callbacks; `flush()` waits until all queued ones are done."""

    def __init__(self, state: SandboxState, workers: int = 4) -> None:
        self.state = state
        self.queues: list[queue.Queue] = [queue.Queue() for _ in range(workers)]
        self.pending = 0
        self.cond = threading.Condition()
        self.threads = [
            threading.Thread(target=self._run, args=(q,), name=f"sandbox-callbacks-{i}", daemon=True)
            for i, q in enumerate(self.queues)
        ]
        for thread in self.threads:
            thread.start()

    def enqueue(self, cb: Callback) -> None:
        if not cb.url:
            return
        with self.cond:
            self.pending += 1
        self.queues[zlib.crc32(cb.user.encode()) % len(self.queues)].put(cb)

    def flush(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def stop(self) -> None:
        for q in self.queues:
            q.put(None)
        for thread in self.threads:
            thread.join(timeout=2)

    def _run(self, q: queue.Queue) -> None:
        http = _HTTP()
        while True:
            cb = q.get()
            if cb is None:
                http.close()
                return
            try:
                self._post(http, cb)
            except Exception:  # a broken callback must never kill the poster
                logger.exception("sandbox callback post failed")
            finally:
                with self.cond:
                    self.pending -= 1
                    self.cond.notify_all()

    def _post(self, http: _HTTP, cb: Callback) -> None:
        params, body = build_request(cb)
        result: dict = {"app_id": cb.app_id, "url": cb.url, "user": cb.user, "xml": cb.xml, "encrypted": cb.encrypted}
        attempts = []
        for _attempt in range(1 + max(cb.retries, 0)):
            try:
                status, text = http.post(cb.url, params, body, cb.timeout)
                attempts.append({"status": status, "body": text[:2000]})
                break  # any HTTP answer ends it, as with WeChat
            except TimeoutError:
                # WeChat's rule: no answer within 5 s (the app's callback_timeout) → try again (3 tries in all).
                attempts.append({"status": None, "error": "timeout"})
            except (OSError, http_client.HTTPException) as exc:
                # Nothing listening: give up at once so a missing product never backs the queue up.
                attempts.append({"status": None, "error": type(exc).__name__})
                break
        result.update(attempts=attempts, status=attempts[-1].get("status"), body=attempts[-1].get("body"),
                      at=self.state.now())
        with self.state.lock:
            self.state.callbacks.append(result)
