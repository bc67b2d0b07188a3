"""The two-host drill's parts (devtools/two_hosts): the network namespaces (as root), the forwarder,
the hosts' URLs, and the accounting of duplicates and losses against a real sandbox and database.
The whole drill runs with `make drill-2hosts`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings

from campaigns.models import DeliveryState
from devtools.management.commands.drill_2hosts import report_lines
from devtools.two_hosts.drill import DrillConfig, DrillResult, _rebased
from devtools.two_hosts.network import HostNet, namespace_pids, namespaces, network_down, network_up
from devtools.two_hosts.report import Accounting, Window, accounting, window_measure
from tests.factories import CampaignFactory, ChannelAccountFactory, ChannelIdentityFactory, DeliveryFactory

APP, SECRET = "wxdrilltest0001", "drill-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _echo_server() -> tuple[socket.socket, int]:
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data[::-1])

    threading.Thread(target=run, daemon=True).start()
    return listener, listener.getsockname()[1]


def test_the_python_forwarder_pipes_both_ways_to_its_target():
    listener, target_port = _echo_server()
    port = _free_port()
    # The fallback when socat is missing, run as the drill runs it.
    proc = subprocess.Popen([sys.executable, "-m", "devtools.two_hosts.forward", f"127.0.0.1:{port}", f"127.0.0.1:{target_port}"],
                            cwd=settings.BASE_DIR)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "the forwarder did not start"
                time.sleep(0.1)
        payload = os.urandom(200_000)
        with conn:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)  # half-closed: the answer must still come back whole
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
        # The echo server reverses each read: what came back is the payload, in pieces reversed.
        assert len(received) == len(payload)
        assert sorted(received) == sorted(payload)
    finally:
        proc.kill()
        proc.wait()
        listener.close()


def test_hosts_reach_the_shared_services_at_the_bridge_address_with_credentials_kept():
    assert _rebased("postgres://user:pw@127.0.0.1:5432/scrm_drill", 8140) == "postgres://user:pw@10.231.0.1:8140/scrm_drill"
    assert _rebased("postgres://postgres@localhost/scrm_drill", 8140) == "postgres://postgres@10.231.0.1:8140/scrm_drill"
    assert _rebased("redis://127.0.0.1:6380/16", 8141) == "redis://10.231.0.1:8141/16"


@pytest.mark.django_db
def test_accounting_finds_duplicates_repeats_and_losses(sandbox):
    sandbox.control.register_app("oa", APP, SECRET)
    openids = sandbox.control.add_followers(APP, ["o-one", "o-two", "o-three", "o-four"])
    client = sandbox.wechat_client(APP, SECRET)
    started = time.time()

    def send(openid: str, key: str) -> str:
        answer = client.post("message/template/send", data={"touser": openid, "template_id": "TPL", "client_msg_id": key,
                                                              "data": {"first": {"value": "hi"}}})
        return str(answer["msgid"])

    account = ChannelAccountFactory(app_id=APP)
    campaign = CampaignFactory(account=account, message_type="template")
    msgids = {"o-one": send("o-one", "1")}
    assert send("o-one", "1") == msgids["o-one"]  # a re-send after a crash: same key, de-duplicated
    msgids["o-two"] = send("o-two", "2")
    send("o-two", "2-again")  # a second message to the same person: a duplicate
    msgids["o-three"] = send("o-three", "3")
    for openid in openids:
        identity = ChannelIdentityFactory(account=account, external_id=openid)
        sent = openid in msgids
        DeliveryFactory(
            campaign=campaign, customer=identity.customer, identity=identity, account=account,
            state=DeliveryState.SENT if sent else DeliveryState.PLANNED, msgid=msgids.get(openid, ""),
        )

    result = accounting(sandbox.control, APP, campaign_id=campaign.pk, openids=openids)
    assert result == Accounting(
        recipients=4, delivered=3, duplicates=1, repeated_requests=1, lost=1,
        states={"planned": 1, "sent": 3}, sent_without_message=0,
    )
    window = window_measure(sandbox.control, APP, name="all", since=started - 1, until=time.time() + 1)
    assert window.sends == 5 and window.by_client == {"127.0.0.1": 5}


def test_the_report_says_failed_when_anything_was_duplicated_lost_or_over_the_limit():
    config = DrillConfig(rate_limit=300)
    clean = Accounting(recipients=10, delivered=10, duplicates=0, repeated_requests=2, lost=0, states={"sent": 10}, sent_without_message=0)
    result = DrillResult(config=config, accounting=clean, max_per_second=300, busiest_during="both hosts",
                         one_host=Window("one", 0, 10, sends=2000, by_client={"a": 2000}),
                         two_hosts=Window("two", 20, 30, sends=3000, by_client={"a": 1500, "b": 1500}))
    result.recovery.completed_after = 40.0
    assert result.passed
    lines = "\n".join(report_lines(result))
    assert "throughput, one host: 200/s" in lines and "two hosts: 300/s (1.50x one host)" in lines
    assert "host A 1,500 (50%)" in lines and "outcome: PASSED" in lines
    assert "busiest second: 300 sends (calendar seconds), 0 in any sliding second — limit 300; it fell while both hosts sent" in lines
    result.max_per_second = 301
    assert not result.passed and "outcome: FAILED" in "\n".join(report_lines(result))
    result.max_per_second, result.accounting.lost = 300, 1
    assert not result.passed
    result.accounting.lost, result.recovery.completed_after = 0, None
    assert not result.passed


needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2")


@needs_root
def test_namespaces_reach_the_bridge_and_each_other_only_and_are_removed_with_their_processes():
    hosts = (HostNet("x", "10.231.9.11", prefix="scrm2ht"), HostNet("y", "10.231.9.12", prefix="scrm2ht"))
    bridge, root = "scrm2ht-br", "10.231.9.1"
    network_up(hosts, bridge=bridge, root_address=root)
    try:
        listener = socket.create_server((root, 0))
        port = listener.getsockname()[1]
        on_loopback = socket.create_server(("127.0.0.1", 0))
        probe = "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2); print('ok')"
        python = shutil.which("python3") or "python3"
        reached = subprocess.run(hosts[0].exec_argv([python, "-c", probe, root, str(port)]), capture_output=True, text=True, timeout=20)
        assert reached.stdout.strip() == "ok", reached.stderr
        # The root namespace's loopback (where PostgreSQL and Redis listen) is not reachable: only forwarded ports are.
        loopback_port = str(on_loopback.getsockname()[1])
        loopback = subprocess.run(hosts[0].exec_argv([python, "-c", probe, "127.0.0.1", loopback_port]), capture_output=True, text=True, timeout=20)
        assert loopback.returncode != 0
        # No route off the subnet: nothing leaves the machine.
        routes = subprocess.run(["ip", "-n", hosts[0].namespace, "route"], capture_output=True, text=True, check=True).stdout
        assert "default" not in routes and "10.231.9.0/24" in routes
        sleeper = subprocess.Popen(hosts[1].exec_argv(["sleep", "60"]))
        deadline = time.monotonic() + 5
        while sleeper.pid not in namespace_pids(hosts[1]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sleeper.pid in namespace_pids(hosts[1])
        listener.close()
        on_loopback.close()
    finally:
        network_down(hosts, bridge=bridge, root_address=root)
    assert sleeper.wait(timeout=5) != 0  # killed with the namespace
    assert not {h.namespace for h in hosts} & namespaces()
    assert subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode != 0
