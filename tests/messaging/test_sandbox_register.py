"""Registering product accounts with the sandbox, concurrency, and the foreground command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from wechatpy.crypto import WeChatCrypto

from messaging.sandbox.control import SandboxControl
from messaging.sandbox.registration import sandbox_register_account
from tests.factories import ChannelAccountFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_sandbox_register_registers_accounts_pointing_at_a_sandbox(sandbox, callback_receiver):
    oa = ChannelAccountFactory(kind="oa", api_base_url=sandbox.base_url)
    corp = ChannelAccountFactory(kind="wecom", api_base_url=sandbox.base_url, agent_id="1000002")
    ChannelAccountFactory(kind="oa", api_base_url="")  # real WeChat: left alone
    call_command("sandbox_register")
    apps = {a["app_id"]: a for a in sandbox.control.apps()}
    assert set(apps) == {oa.app_id, corp.app_id}
    assert apps[oa.app_id]["callback_url"] == oa.callback_url and apps[oa.app_id]["callback_encrypted"] is True
    # The registered secret is the decrypted one: wechatpy gets a token with it.
    assert sandbox.wechat_client(oa.app_id, oa.app_secret).fetch_access_token()["access_token"]
    assert sandbox.wecom_client(corp.app_id, corp.app_secret).fetch_access_token()["access_token"]
    call_command("sandbox_register")  # idempotent
    assert len(sandbox.control.apps()) == 2


@pytest.mark.django_db
def test_registered_callback_settings_encrypt_with_the_accounts_key(sandbox, callback_receiver):
    account = ChannelAccountFactory(kind="oa", api_base_url=sandbox.base_url)
    sandbox_register_account(account)
    sandbox.control.app_settings(account.app_id, callback_url=callback_receiver.url)
    sandbox.control.post_event(account.app_id, event="text", openid="o-1", content="hello", wait=True)
    post = callback_receiver.wait(1)[0]
    q = post["query"]
    crypto = WeChatCrypto(account.token, account.encoding_aes_key, account.app_id)
    assert "hello" in crypto.decrypt_message(post["body"], q["msg_signature"], q["timestamp"], q["nonce"])


def test_concurrent_senders_share_one_token_and_get_unique_msgids(sandbox):
    sandbox.control.register_app("oa", "wxconcurrent01", "s")
    openids = sandbox.control.add_followers("wxconcurrent01", 20)
    token = sandbox.wechat_client("wxconcurrent01", "s").fetch_access_token()["access_token"]
    msgids, errors = [], []

    def sender(n: int) -> None:
        session = requests.Session()
        for i in range(50):
            answer = session.post(sandbox.base_url + "cgi-bin/message/template/send", params={"access_token": token},
                                  json={"touser": openids[i % 20], "template_id": "T", "data": {}}, timeout=10).json()
            (msgids if answer["errcode"] == 0 else errors).append(answer.get("msgid", answer["errcode"]))

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(msgids)) == 400
    assert sandbox.control.token_fetch_count("wxconcurrent01") == 1
    assert len(sandbox.control.sent_messages("wxconcurrent01")) == 400


def test_wechat_sandbox_command_prints_base_url_and_stops_on_term():
    env = {**os.environ, "DEBUG": "true"}
    proc = subprocess.Popen([sys.executable, "manage.py", "wechat_sandbox", "--port", "0", "--open"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("WeChat sandbox on http://127.0.0.1:"), line
        base_url = line.split()[3].rstrip(";")
        assert SandboxControl(base_url).state()["open_mode"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert "stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
