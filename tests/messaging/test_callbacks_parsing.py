"""The hardened parser and the de-duplication key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.callbacks.crypto import CallbackRejected
from messaging.callbacks.parsing import as_list, dedupe_key, xml_parse


def test_repeated_elements_become_a_list_and_single_ones_a_dict():
    one = xml_parse("<xml><E><List><T>a</T></List></E></xml>")
    two = xml_parse("<xml><E><List><T>a</T></List><List><T>b</T></List><List><T>c</T></List></E></xml>")
    assert as_list(one["E"]["List"]) == [{"T": "a"}]
    assert as_list(two["E"]["List"]) == [{"T": "a"}, {"T": "b"}, {"T": "c"}]


@pytest.mark.parametrize(
    "body",
    [
        "", "<xml>", "not xml", "<root><a>1</a></root>",
        '<!DOCTYPE xml [<!ENTITY a "b">]><xml><A>&a;</A></xml>',
        '<!DOCTYPE xml SYSTEM "http://example.com/x.dtd"><xml/>',
        "<xml>" + "<a>" * 50 + "x" + "</a>" * 50 + "</xml>",
    ],
)
def test_hostile_or_malformed_xml_is_rejected_with_400(body):
    with pytest.raises(CallbackRejected) as info:
        xml_parse(body)
    assert info.value.status == 400


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(lambda t: f"<xml>{t}</xml>")))
def test_parser_never_raises_anything_but_a_rejection(body):
    try:
        result = xml_parse(body)
    except CallbackRejected as exc:
        assert exc.status == 400
    else:
        assert isinstance(result, dict)


def test_dedupe_key_uses_msgid_for_messages_and_sender_time_event_for_events():
    assert dedupe_key({"MsgType": "text", "MsgId": "42", "FromUserName": "o", "CreateTime": "1"}) == "msg:42"
    click = {"MsgType": "event", "Event": "CLICK", "EventKey": "K", "FromUserName": "o", "CreateTime": "1"}
    assert dedupe_key(click) == "evt:o:1:CLICK:K"
    assert dedupe_key({**click, "EventKey": "L"}) != dedupe_key(click)


def test_two_template_reports_in_one_second_have_distinct_keys():
    report = {"MsgType": "event", "Event": "TEMPLATESENDJOBFINISH", "FromUserName": "o", "CreateTime": "1", "MsgID": "100"}
    assert dedupe_key(report) != dedupe_key({**report, "MsgID": "101"})


def test_long_event_keys_are_hashed_to_fit():
    key = dedupe_key({"MsgType": "event", "Event": "VIEW", "EventKey": "https://x/" + "a" * 500, "FromUserName": "o", "CreateTime": "1"})
    assert key.startswith("evth:") and len(key) <= 200
