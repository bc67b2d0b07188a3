"""The `sandbox` fixture: one WeChat sandbox server per test session (per xdist worker), reset per test.

Also `callback_receiver`: a tiny local HTTP server that records what the sandbox posts to a callback URL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from wechatpy import WeChatClient
from wechatpy.enterprise import WeChatClient as WeComClient

from messaging.sandbox.control import SandboxControl
from messaging.sandbox.server import SandboxServer

REAL_BASES = ("https://api.weixin.qq.com/", "https://qyapi.weixin.qq.com/")


class SandboxHTTP(requests.Session):
    """A requests session that sends WeChat's and WeCom's real URLs to the sandbox (WECHAT.md §10)."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        for real in REAL_BASES:
            if isinstance(url, str) and url.startswith(real):
                url = self.base_url + url[len(real):]
        return super().request(method, url, *args, **kwargs)


@dataclass
class Sandbox:
    server: SandboxServer
    control: SandboxControl

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def wechat_client(self, app_id: str, secret: str):
        """A wechatpy WeChatClient (service account / mini-program) talking to this sandbox."""
        client = WeChatClient(app_id, secret, auto_retry=False)
        client._http = SandboxHTTP(self.base_url)
        return client

    def wecom_client(self, corp_id: str, secret: str):
        client = WeComClient(corp_id, secret, auto_retry=False)
        client._http = SandboxHTTP(self.base_url)
        return client


@pytest.fixture(scope="session")
def _sandbox_server():
    server = SandboxServer("127.0.0.1", 0).start()
    yield Sandbox(server=server, control=SandboxControl(server.base_url))
    server.stop()


@pytest.fixture
def sandbox(_sandbox_server) -> Sandbox:
    """A running sandbox with empty state (callbacks of earlier tests flushed first)."""
    _sandbox_server.control.flush_callbacks(timeout=10)
    _sandbox_server.control.reset()
    return _sandbox_server


@dataclass
class Receiver:
    url: str
    received: list[dict] = field(default_factory=list)
    answer: bytes = b"success"
    delay: float = 0.0  # seconds to wait before answering (a slow product)

    def wait(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


@pytest.fixture
def callback_receiver():
    """A local HTTP endpoint recording each POST as {path, query, body}; answers "success"."""
    holder: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            holder["receiver"].received.append({"path": url.path, "query": dict(parse_qsl(url.query)), "body": body.decode()})
            answer = holder["receiver"].answer
            time.sleep(holder["receiver"].delay)
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["receiver"] = Receiver(url=f"http://127.0.0.1:{httpd.server_address[1]}/callback")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield holder["receiver"]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def wecom_sandbox_corp(sandbox, callback_receiver):
    """A WeCom corp registered in the sandbox, its callbacks to `callback_receiver`, with staff
    members (userid, or (userid, name)): make(app_id, staff=("alice",))."""

    def make(app_id: str, *, staff=()):
        from messaging.sandbox.registration import sandbox_register_account
        from tests.factories import ChannelAccountFactory

        account = ChannelAccountFactory(
            kind="wecom", app_id=app_id, encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            api_base_url=sandbox.base_url, encrypt_mode="safe", rate_limit_per_second=1000,
        )
        sandbox_register_account(account)
        sandbox.control.app_settings(account.app_id, callback_url=callback_receiver.url)
        for member in staff:
            userid, name = member if isinstance(member, tuple) else (member, None)
            sandbox.control.add_wecom_staff(account.app_id, userid, **({"name": name} if name else {}))
        return account

    return make
