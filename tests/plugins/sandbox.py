"""The `sandbox` fixture: one WeChat sandbox server per test session (per xdist worker), reset per test."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from messaging.sandbox.control import SandboxControl
from messaging.sandbox.server import SandboxServer


@dataclass
class Sandbox:
    server: SandboxServer
    control: SandboxControl

    @property
    def base_url(self) -> str:
        return self.server.base_url


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
