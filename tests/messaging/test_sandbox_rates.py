"""The sandbox counts API requests per second, per app, path and client address (messaging/sandbox/rates.py):
the two-host drill reads it to prove a shared rate limit held as the receiver saw it."""

from __future__ import annotations

import time

import pytest

from messaging.sandbox.rates import RequestRates

APP, OTHER, SECRET = "wxsandboxrate01", "wxsandboxrate02", "rate-secret"


class FakeClock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def _send(client, openid: str, n: int) -> None:
    for i in range(n):
        client.post("message/template/send", data={"touser": openid, "template_id": "TPL-rate", "client_msg_id": f"r{i}",
                                                   "data": {"first": {"value": "hi"}}})


def test_requests_are_counted_per_app_path_and_client(sandbox):
    sandbox.control.register_app("oa", APP, SECRET)
    sandbox.control.register_app("oa", OTHER, SECRET)
    (openid,) = sandbox.control.add_followers(APP, 1)
    (other_openid,) = sandbox.control.add_followers(OTHER, 1)
    started = time.time()
    client, other = sandbox.wechat_client(APP, SECRET), sandbox.wechat_client(OTHER, SECRET)
    _send(client, openid, 7)
    _send(other, other_openid, 3)

    sends = sandbox.control.request_rates(APP, path_contains="template/send")
    assert sends["total"] == 7
    assert sends["by_client"] == {"127.0.0.1": 7}
    assert sum(n for _second, n in sends["per_second"]) == 7
    assert all(started - 1 <= second <= time.time() for second, _n in sends["per_second"])
    assert 1 <= sends["max_per_second"] <= 7
    assert sends["max_per_second"] <= sends["max_in_any_second"] <= 7
    # The token fetch is a request of the app too; the other app's sends are not this app's.
    assert sandbox.control.request_rates(APP)["total"] == 8
    assert sandbox.control.request_rates(OTHER, path_contains="template/send")["total"] == 3
    assert sandbox.control.request_rates(APP, since=time.time() + 5)["total"] == 0


def test_reset_forgets_the_counts(sandbox):
    sandbox.control.register_app("oa", APP, SECRET)
    (openid,) = sandbox.control.add_followers(APP, 1)
    _send(sandbox.wechat_client(APP, SECRET), openid, 2)
    sandbox.control.reset()
    assert sandbox.control.request_rates(APP)["total"] == 0


def test_calendar_seconds_and_the_sliding_window_differ_when_sends_bunch_at_a_boundary():
    clock = FakeClock(1000.0)
    rates = RequestRates(clock=clock)
    # 6 requests late in second 1000, 6 early in second 1001: no calendar second sees more than 6,
    # but the second from 1000.8 to 1001.8 sees 12.
    for at in [1000.85] * 6 + [1001.05] * 6 + [1002.5]:
        clock.at = at
        rates.record(app_id=APP, path="/cgi-bin/message/template/send", client="10.0.0.1")
    summary = rates.summary(app_id=APP)
    assert summary["per_second"] == [(1000, 6), (1001, 6), (1002, 1)]
    assert summary["max_per_second"] == 6
    assert summary["max_in_any_second"] == 12
    assert summary["total"] == 13
    assert rates.summary(app_id=APP, since=1001.0, until=1001.9)["total"] == 6


@pytest.mark.parametrize("clients", [("10.231.0.11", "10.231.0.12")])
def test_counts_are_kept_per_client_address(clients):
    rates = RequestRates(clock=FakeClock(50.0))
    for index in range(5):
        rates.record(app_id=APP, path="/cgi-bin/message/template/send", client=clients[index % 2])
    assert rates.summary(path_contains="template/send")["by_client"] == {clients[0]: 3, clients[1]: 2}
    assert rates.summary(app_id=OTHER)["total"] == 0
