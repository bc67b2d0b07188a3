"""The callback endpoints: verification, decryption, rejections with nothing stored, de-duplication,
passive replies. Payloads are built with wechatpy's crypto as WeChat's servers would."""

from __future__ import annotations

import logging
import time

import pytest
from django.urls import NoReverseMatch, reverse

from messaging.callbacks.crypto import signature_compute
from messaging.callbacks.models import AutoReplyRule, InboundMessage
from tests.factories import ChannelAccountFactory
from tests.plugins.callbacks import CallbackClient, wechat_payload

pytestmark = pytest.mark.django_db

# Official WXBizMsgCrypt sample vectors (WECHAT.md §1).
OA_TOKEN, OA_KEY, OA_APPID = "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2"
OA_TIMESTAMP, OA_NONCE, OA_MSG_SIGNATURE = "1410349438", "298025754", "003fee52ecc56afb46c00b5c7721be87860ce785"
OA_ENCRYPT = (
    "mfBCs65c67CeJw22u4VT2TD73q5H06+ocrAIxswCaeZ/d/Lw0msSZFHY0teqgSYiI1zR2gD2DKrB3TIrmX/liNSDrGqS8jSI/WPeKB5VPr7Ezr7gomZAyGCwJSgT1TRFWPf"
    "ONGJMxuj2nk4faTuspAuVIFQ6SHwZuJBZC7mcJp7Cgr9cUhATQWDbOPaE7ukZBTV2YqyzH+UI2AK+J1S47cE79k1RX8t0hcTz/O0hlK8DGXKnvYv88qKQcI7z4iaajqHfRVZ"
    "KBNyOODabs+It+ZfM3dWTeFcPgDbGtIEnpt/EDtuuA/zMvtkaKdHdswPnVZQ+xdwbYr3ldGvfT8HlEYEgkgKaThxTFobVlwzu2ZkXCjicbP3xdr15Iq48ObgzPpqYuZ3IEoy"
    "ggZDKClquk0u0orMck4GTF/XyE8yGzc4="
)
WECOM_TOKEN, WECOM_KEY, WECOM_CORP = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
WECOM_MSG_SIGNATURE, WECOM_TIMESTAMP, WECOM_NONCE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780"
WECOM_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="


@pytest.fixture
def no_replay_window(settings):
    settings.CALLBACK_REPLAY_WINDOW_SECONDS = 0


def _no_errors_logged(caplog):
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text


# --- URL verification ---------------------------------------------------------------------------


def test_wechat_url_verification_answers_echostr(client, callback_oa_account):
    ts, nonce = str(int(time.time())), "123"
    url = reverse("callbacks:wechat", kwargs={"account_id": callback_oa_account.pk})
    signature = signature_compute(callback_oa_account.token, ts, nonce)
    response = client.get(url, {"signature": signature, "timestamp": ts, "nonce": nonce, "echostr": "echo-42"})
    assert response.status_code == 200
    assert response.content == b"echo-42"


def test_wechat_url_verification_with_bad_signature_is_403(client, callback_oa_account):
    ts = str(int(time.time()))
    url = reverse("callbacks:wechat", kwargs={"account_id": callback_oa_account.pk})
    response = client.get(url, {"signature": "0" * 40, "timestamp": ts, "nonce": "1", "echostr": "echo"})
    assert response.status_code == 403


def test_wecom_url_verification_decrypts_official_sample_echostr(client, no_replay_window):
    account = ChannelAccountFactory(kind="wecom", token=WECOM_TOKEN, encoding_aes_key=WECOM_KEY, app_id=WECOM_CORP)
    url = reverse("callbacks:wecom", kwargs={"account_id": account.pk})
    response = client.get(
        url, {"msg_signature": WECOM_MSG_SIGNATURE, "timestamp": WECOM_TIMESTAMP, "nonce": WECOM_NONCE, "echostr": WECOM_ECHOSTR}
    )
    assert response.status_code == 200
    assert response.content == b"1616140317555161061"


def test_official_sample_vector_is_rejected_as_replay_when_window_is_on(client):
    account = ChannelAccountFactory(kind="wecom", token=WECOM_TOKEN, encoding_aes_key=WECOM_KEY, app_id=WECOM_CORP)
    url = reverse("callbacks:wecom", kwargs={"account_id": account.pk})
    response = client.get(
        url, {"msg_signature": WECOM_MSG_SIGNATURE, "timestamp": WECOM_TIMESTAMP, "nonce": WECOM_NONCE, "echostr": WECOM_ECHOSTR}
    )
    assert response.status_code == 403


# --- receiving ----------------------------------------------------------------------------------


def _post_official_sample(client, account):
    url = reverse("callbacks:wechat", kwargs={"account_id": account.pk})
    body = f"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[{OA_ENCRYPT}]]></Encrypt></xml>"
    query = f"?timestamp={OA_TIMESTAMP}&nonce={OA_NONCE}&msg_signature={OA_MSG_SIGNATURE}&encrypt_type=aes"
    return client.post(url + query, data=body, content_type="text/xml")


def test_official_safe_mode_sample_is_decrypted_and_stored(client, no_replay_window):
    account = ChannelAccountFactory(kind="oa", token=OA_TOKEN, encoding_aes_key=OA_KEY, app_id=OA_APPID, encrypt_mode="safe")
    response = _post_official_sample(client, account)
    assert response.status_code == 200
    assert response.content == b"success"
    row = InboundMessage.objects.get(account=account)
    assert row.dedupe_key == "msg:6057404712141979648"
    assert row.msg_type == "text"
    assert row.state == "received"
    assert "<MsgId>6057404712141979648</MsgId>" in row.raw_payload
    assert row.parsed["MsgId"] == "6057404712141979648"


def test_official_sample_decrypts_with_previous_key_during_rotation(client, no_replay_window):
    account = ChannelAccountFactory(
        kind="oa", token=OA_TOKEN, app_id=OA_APPID, encrypt_mode="safe",
        encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", previous_encoding_aes_key=OA_KEY,
    )
    assert _post_official_sample(client, account).status_code == 200
    assert InboundMessage.objects.filter(account=account).count() == 1


def test_retries_of_the_same_message_are_stored_once(callback_client, callback_oa_account):
    poster = callback_client(callback_oa_account)
    xml = wechat_payload("text.xml", msg_id="1234567890")
    for _ in range(3):
        assert poster.post(xml).content == b"success"
    assert InboundMessage.objects.filter(account=callback_oa_account).count() == 1


def test_retries_of_the_same_event_are_stored_once_but_distinct_events_twice(callback_client, callback_oa_account):
    poster = callback_client(callback_oa_account)
    first = wechat_payload("click.xml", openid="o-1", create_time="1700000000", key="MENU_A")
    assert poster.post(first).status_code == 200
    assert poster.post(first).status_code == 200
    assert poster.post(wechat_payload("click.xml", openid="o-1", create_time="1700000000", key="MENU_B")).status_code == 200
    assert poster.post(wechat_payload("unsubscribe.xml", openid="o-1", create_time="1700000000")).status_code == 200
    assert InboundMessage.objects.filter(account=callback_oa_account).count() == 3


def test_plaintext_mode_accepts_signed_plain_xml(callback_client):
    account = ChannelAccountFactory(kind="oa", encrypt_mode="plain")
    response = callback_client(account).post(wechat_payload("text.xml"), encrypted=False)
    assert response.status_code == 200
    assert InboundMessage.objects.filter(account=account).count() == 1


def test_compatible_mode_accepts_both_plain_and_encrypted(callback_client):
    account = ChannelAccountFactory(kind="oa", encrypt_mode="compatible")
    poster = callback_client(account)
    assert poster.post(wechat_payload("text.xml"), encrypted=False).status_code == 200
    assert poster.post(wechat_payload("text.xml"), encrypted=True).status_code == 200
    assert InboundMessage.objects.filter(account=account).count() == 2


def test_safe_mode_refuses_plaintext(callback_client, callback_oa_account):
    response = callback_client(callback_oa_account).post(wechat_payload("text.xml"), encrypted=False)
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()


def test_wecom_post_is_decrypted_with_the_corp_id(callback_client, callback_wecom_account):
    xml = wechat_payload("wecom_del_follow_user.xml", to=callback_wecom_account.app_id, staff="zhangsan", external_userid="wmEXT1")
    response = callback_client(callback_wecom_account).post(xml)
    assert response.status_code == 200
    row = InboundMessage.objects.get(account=callback_wecom_account)
    assert row.event == "change_external_contact"
    assert row.parsed["ChangeType"] == "del_follow_user"


# --- rejections: a status, nothing stored, no error in the log ----------------------------------


def test_forged_signature_is_403_and_nothing_stored(callback_client, callback_oa_account, caplog):
    response = callback_client(callback_oa_account).post(wechat_payload("text.xml"), signature="f" * 40)
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()
    _no_errors_logged(caplog)


def test_missing_signature_is_403(callback_client, callback_oa_account):
    response = callback_client(callback_oa_account).post(wechat_payload("text.xml"), signature="")
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_plaintext_with_forged_signature_is_403(callback_client):
    account = ChannelAccountFactory(kind="oa", encrypt_mode="plain")
    assert callback_client(account).post(wechat_payload("text.xml"), encrypted=False, signature="0" * 40).status_code == 403
    assert not InboundMessage.objects.exists()


def test_replayed_timestamp_is_403(callback_client, callback_oa_account, settings):
    settings.CALLBACK_REPLAY_WINDOW_SECONDS = 300
    old = str(int(time.time()) - 301)
    response = callback_client(callback_oa_account).post(wechat_payload("text.xml"), timestamp=old)
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_repeated_query_parameter_counts_by_its_last_value_as_in_request_get(callback_client, callback_oa_account):
    poster = callback_client(callback_oa_account)
    xml = wechat_payload("text.xml")
    ts = str(int(time.time()))
    body, msg_signature = poster.encrypt(xml, timestamp=ts, nonce="1")
    url = f"{poster.url}?timestamp={ts}&nonce=1&encrypt_type=aes&msg_signature={'0' * 40}&msg_signature={msg_signature}"
    assert poster.client.post(url, data=body, content_type="text/xml").status_code == 200
    assert InboundMessage.objects.count() == 1


def test_too_many_query_parameters_is_400_and_nothing_stored(callback_client, callback_oa_account, settings, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    poster = callback_client(callback_oa_account)
    response = poster.client.post(poster.url + "?" + "&".join(f"p{n}=1" for n in range(6)), data="<xml/>", content_type="text/xml")
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()
    _no_errors_logged(caplog)


def test_unknown_account_is_404(client):
    response = client.post(reverse("callbacks:wechat", kwargs={"account_id": 987654321}), data="<xml/>", content_type="text/xml")
    assert response.status_code == 404


def test_wecom_account_on_the_wechat_url_is_404(callback_client, callback_wecom_account, client):
    response = client.post(reverse("callbacks:wechat", kwargs={"account_id": callback_wecom_account.pk}), data="<xml/>", content_type="text/xml")
    assert response.status_code == 404


def test_inactive_account_is_404(callback_client):
    account = ChannelAccountFactory(kind="oa", encrypt_mode="safe", is_active=False)
    assert callback_client(account).post(wechat_payload("text.xml")).status_code == 404


def test_oversized_body_is_413(callback_client, callback_oa_account, settings):
    settings.CALLBACK_MAX_BODY_BYTES = 2048
    xml = wechat_payload("text.xml", content="x" * 4000)
    response = callback_client(callback_oa_account).post(xml)
    assert response.status_code == 413
    assert not InboundMessage.objects.exists()


def test_malformed_outer_xml_is_400(callback_client, callback_oa_account, caplog):
    response = callback_client(callback_oa_account).post("", body="<xml><Encrypt>abc</Encr")
    assert response.status_code == 400
    _no_errors_logged(caplog)


def test_body_without_encrypt_is_400(callback_client, callback_oa_account):
    assert callback_client(callback_oa_account).post("", body="<xml><ToUserName>gh</ToUserName></xml>").status_code == 400


def test_garbage_ciphertext_with_valid_signature_is_400(callback_client, callback_oa_account, caplog):
    ts, nonce = str(int(time.time())), "42"
    for garbage in ["not base64 !!!", "QUJD", "A" * 64, "mfBCs65c67CeJw22u4VT2TD73q5H06+ocrAIxswCaeZ/d/Lw0msSZFHY0teqgSYi"]:
        body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>"
        signature = signature_compute(callback_oa_account.token, ts, nonce, garbage)
        poster = callback_client(callback_oa_account)
        url = f"{poster.url}?timestamp={ts}&nonce={nonce}&msg_signature={signature}&encrypt_type=aes"
        response = poster.client.post(url, data=body, content_type="text/xml")
        assert response.status_code == 400, garbage
    assert not InboundMessage.objects.exists()
    _no_errors_logged(caplog)


def test_ciphertext_for_another_app_id_is_400(callback_client, callback_oa_account):
    response = callback_client(callback_oa_account).post(wechat_payload("text.xml"), app_id="wx0000000000000bad")
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()


def test_ciphertext_under_an_unknown_key_is_400(callback_client, callback_oa_account):
    response = callback_client(callback_oa_account).post(wechat_payload("text.xml"), key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")
    assert response.status_code == 400


def test_decrypted_xml_without_msgtype_is_400(callback_client, callback_oa_account):
    response = callback_client(callback_oa_account).post("<xml><FromUserName>o</FromUserName></xml>")
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()


def test_decrypted_non_xml_is_400(callback_client, callback_oa_account):
    assert callback_client(callback_oa_account).post("{\"MsgType\": \"text\"}").status_code == 400


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
@pytest.mark.parametrize("encrypted", [True, False])
def test_xml_with_dtd_or_entities_is_400(callback_client, name, encrypted, caplog):
    account = ChannelAccountFactory(kind="oa", encrypt_mode="compatible")
    started = time.monotonic()
    response = callback_client(account).post(wechat_payload(name), encrypted=encrypted)
    assert response.status_code == 400
    assert time.monotonic() - started < 2
    assert not InboundMessage.objects.exists()
    _no_errors_logged(caplog)


def test_outer_envelope_with_dtd_is_400(callback_client, callback_oa_account):
    body = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>'
    assert callback_client(callback_oa_account).post("", body=body).status_code == 400


def test_other_methods_are_405(client, callback_oa_account):
    assert client.put(reverse("callbacks:wechat", kwargs={"account_id": callback_oa_account.pk})).status_code == 405


# --- passive replies ----------------------------------------------------------------------------


def test_exact_keyword_rule_answers_an_encrypted_passive_reply(callback_client, callback_oa_account):
    AutoReplyRule.objects.create(account=callback_oa_account, keyword="Hours", match="exact", reply_text="We open 9-18.")
    poster = callback_client(callback_oa_account)
    response = poster.post(wechat_payload("text.xml", openid="o-asker", content="hours"))
    assert response.status_code == 200
    reply = poster.decrypt_reply(response.content.decode())
    assert "<Content><![CDATA[We open 9-18.]]></Content>" in reply
    assert "<ToUserName><![CDATA[o-asker]]></ToUserName>" in reply
    # The message is stored all the same.
    assert InboundMessage.objects.filter(account=callback_oa_account).count() == 1


def test_contains_rule_matches_inside_text_and_exact_does_not(callback_client, callback_oa_account):
    AutoReplyRule.objects.create(account=callback_oa_account, keyword="price", match="exact", reply_text="exact")
    AutoReplyRule.objects.create(account=callback_oa_account, keyword="refund", match="contains", reply_text="See our refund policy.")
    poster = callback_client(callback_oa_account)
    reply = poster.decrypt_reply(poster.post(wechat_payload("text.xml", content="How do I get a REFUND?")).content.decode())
    assert "See our refund policy." in reply
    assert poster.post(wechat_payload("text.xml", content="what price is it")).content == b"success"


def test_plaintext_account_gets_a_plain_passive_reply(callback_client):
    account = ChannelAccountFactory(kind="oa", encrypt_mode="plain")
    AutoReplyRule.objects.create(account=account, keyword="hi", match="exact", reply_text="Hello & <welcome>")
    response = callback_client(account).post(wechat_payload("text.xml", content="hi"), encrypted=False)
    assert b"<Content><![CDATA[Hello & <welcome>]]></Content>" in response.content


def test_inactive_rule_does_not_answer(callback_client, callback_oa_account):
    AutoReplyRule.objects.create(account=callback_oa_account, keyword="hi", match="exact", reply_text="x", is_active=False)
    assert callback_client(callback_oa_account).post(wechat_payload("text.xml", content="hi")).content == b"success"


def test_callback_client_is_importable():
    assert CallbackClient


def test_benchmark_empty_view_is_not_routed_unless_enabled(client):
    with pytest.raises(NoReverseMatch):
        reverse("callbacks:bench-empty")
    assert client.post("/callbacks/_bench/empty/").status_code == 404


def test_decrypted_xml_without_sender_or_time_is_400(callback_client, callback_oa_account):
    poster = callback_client(callback_oa_account)
    assert poster.post("<xml><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>").status_code == 400
    assert poster.post("<xml><MsgType>text</MsgType><FromUserName>o</FromUserName></xml>").status_code == 400
    assert not InboundMessage.objects.exists()
