"""Run the WeChat API sandbox in the foreground: `manage.py wechat_sandbox --host H --port P [--open]`."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from messaging.sandbox.server import SandboxServer


class Command(BaseCommand):
    help = "Run the local stand-in for WeChat's and WeCom's HTTP APIs (control API under /_sandbox/)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument("--open", action="store_true", help="accept any app id and secret")
        parser.add_argument("--token-ttl", type=int, default=None, help="access token lifetime in seconds (7200)")

    def handle(self, *args, host: str, port: int, open: bool, token_ttl: int | None, **options) -> None:
        server = SandboxServer(host, port, open_mode=open)
        if token_ttl:
            server.state.token_ttl = token_ttl
        server.start()
        stopping = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.set())
        mode = " (open: any app id and secret)" if open else ""
        self.stdout.write(f"WeChat sandbox on {server.base_url}{mode}; control API at {server.base_url}_sandbox/", ending="\n")
        self.stdout.flush()
        try:
            while not stopping.wait(0.5):
                pass
        finally:
            server.stop()
            self.stdout.write("WeChat sandbox stopped")
