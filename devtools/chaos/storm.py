"""A callback storm: encrypted text messages (one MsgId each) posted to the web process as WeChat posts
them, from a few threads, with every answer recorded; and the check of what became of the accepted ones."""

from __future__ import annotations

import base64
import http.client
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from django.urls import reverse

from accounts.models import ChannelAccount
from customers.models import EngagementEvent
from messaging.callbacks.crypto import envelope_encrypt, signature_compute
from messaging.callbacks.models import InboundMessage, InboundState


def callback_account(label: str) -> ChannelAccount:
    """A fresh service account for one drill (its own AppId, token and EncodingAESKey)."""
    key = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return ChannelAccount.objects.create(
        kind="oa", name=f"chaos {label}", app_id=f"wxchaos{secrets.token_hex(5)}", token=f"chaos{secrets.token_hex(4)}",
        encoding_aes_key=key, encrypt_mode="safe", is_active=True,
    )


def _request(account: ChannelAccount, msg_id: int) -> tuple[str, bytes]:
    openid = f"o-chaos-{account.pk}-{msg_id % 2000:04d}"
    inner = (
        f"<xml><ToUserName><![CDATA[gh_chaos]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[chaos {msg_id}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )
    nonce = str(secrets.randbelow(10**9))
    envelope = envelope_encrypt(plaintext=inner, token=account.token, encoding_aes_key=account.encoding_aes_key, receive_id=account.app_id, nonce=nonce)
    encrypt = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
    timestamp = envelope.split("<TimeStamp>", 1)[1].split("</TimeStamp>", 1)[0]
    body = f"<xml><ToUserName><![CDATA[gh_chaos]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
    path = reverse("callbacks:wechat", kwargs={"account_id": account.pk})
    query = (
        f"signature={signature_compute(account.token, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
        f"&openid={openid}&encrypt_type=aes&msg_signature={signature_compute(account.token, timestamp, nonce, encrypt)}"
    )
    return f"{path}?{query}", body


@dataclass
class Storm:
    """Posts `rate` callbacks a second for `seconds` from `threads` threads; `answers` maps MsgId → HTTP
    status (0: no answer). The rate is what the drill stack's workers can process on a shared 2-core
    machine in a few minutes: the drills measure recovery, not throughput (`make bench` does)."""

    account: ChannelAccount
    port: int
    seconds: float
    rate: float = 20.0
    threads: int = 4
    answers: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 0
    _started: float = 0.0

    def _msg_id(self) -> int:
        """The next MsgId, once its turn at `rate` per second has come."""
        with self._lock:
            self._next += 1
            number = self._next
        wait = self._started + number / self.rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        return self.account.pk * 10_000_000 + number

    def _post(self, msg_id: int) -> int:
        target, body = _request(self.account, msg_id)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("POST", target, body=body, headers={"Content-Type": "text/xml", "Host": "localhost"})
            response = connection.getresponse()
            text = response.read()
            return response.status if text == b"success" or response.status != 200 else 299
        except OSError:
            return 0
        finally:
            connection.close()

    def _run(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            msg_id = self._msg_id()
            status = self._post(msg_id)
            with self._lock:
                self.answers[msg_id] = status

    def run(self) -> None:
        self._started = time.monotonic()
        deadline = self._started + self.seconds
        workers = [threading.Thread(target=self._run, args=(deadline,)) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run)
        thread.start()
        return thread

    @property
    def accepted(self) -> set[int]:
        return {msg_id for msg_id, status in self.answers.items() if status == 200}

    def statuses(self) -> Counter:
        return Counter("no answer" if s == 0 else ("200 other body" if s == 299 else str(s)) for s in self.answers.values())


@dataclass
class Outcome:
    accepted: int
    processed: int
    lost: int
    duplicated: int
    unfinished: int


def storm_outcome(storm: Storm) -> Outcome:
    """What became of the accepted callbacks: each must be stored, processed, and its event recorded once."""
    keys = {f"msg:{msg_id}": msg_id for msg_id in storm.accepted}
    rows = dict(InboundMessage.objects.filter(account=storm.account).values_list("dedupe_key", "state"))
    processed = {key for key, state in rows.items() if state == InboundState.PROCESSED}
    events = Counter(
        str(msg_id)
        for msg_id in EngagementEvent.objects.filter(account_id=storm.account.pk, event_type="wechat.message").values_list(
            "properties__msg_id", flat=True
        )
    )
    duplicated = sum(n - 1 for n in events.values() if n > 1)
    # Lost: accepted but not stored, or processed without its effect (the customer's event). Stored
    # and not processed yet is unfinished (the sweeper still hands it over), not lost.
    lost = sum(1 for key, msg_id in keys.items() if key not in rows or (key in processed and events[str(msg_id)] == 0))
    unfinished = sum(1 for key in keys if key in rows and key not in processed)
    return Outcome(accepted=len(keys), processed=len(processed & set(keys)), lost=lost, duplicated=duplicated, unfinished=unfinished)


def wait_processed(storm: Storm, *, timeout: float) -> float | None:
    """Seconds until every accepted callback is processed (None: not within `timeout`)."""
    started = time.monotonic()
    keys = [f"msg:{msg_id}" for msg_id in storm.accepted]
    while time.monotonic() - started < timeout:
        done = InboundMessage.objects.filter(account=storm.account, dedupe_key__in=keys, state=InboundState.PROCESSED).count()
        if done == len(keys):
            return time.monotonic() - started
        time.sleep(0.5)
    return None
