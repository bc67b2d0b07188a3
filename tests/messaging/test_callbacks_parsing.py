"""The hardened parser and the de-duplication key."""

from __future__ import annotations

import time
from pathlib import Path
from string import Template

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.callbacks.crypto import CallbackRejected
from messaging.callbacks.parsing import _flat_parse, _tree_parse, as_list, dedupe_key, xml_parse


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


# --- the flat-document fast path ------------------------------------------------------------------

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "wechat").glob("*.xml"))


def _reference(body):
    """What defusedxml alone makes of `body` (the parser before the fast path): a dict or a 400."""
    try:
        return _tree_parse(body)
    except CallbackRejected as exc:
        return exc.status


def _parsed(body):
    try:
        return xml_parse(body)
    except CallbackRejected as exc:
        return exc.status


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_every_payload_fixture_parses_as_defusedxml_parses_it(path):
    body = Template(path.read_text()).safe_substitute(
        to="gh_brand", openid="o-1", create_time="1700000000", msg_id="6057404712141979648", content="hi ]]&lt; 你好"
    )
    assert _parsed(body) == _reference(body)
    assert _parsed(body.encode()) == _reference(body.encode())


def test_wechat_envelopes_and_messages_take_the_fast_path():
    envelope = b"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[a+b/c==]]></Encrypt></xml>"
    message = "<xml>\n <MsgType><![CDATA[text]]></MsgType>\n <Content><![CDATA[ [Smile] a]b ]]></Content><MsgId>1</MsgId>\n</xml>"
    assert _flat_parse(envelope) == {"ToUserName": "gh_x", "Encrypt": "a+b/c=="}
    assert _flat_parse(message) == {"MsgType": "text", "Content": "[Smile] a]b", "MsgId": "1"}


@pytest.mark.parametrize(
    "body",
    [
        '<!DOCTYPE xml [<!ENTITY a "b">]><xml><A>&a;</A></xml>',
        '<?xml version="1.0"?><xml><A>1</A></xml>',
        "<xml><A>&amp;</A></xml>",
        "<xml><A>&#65;</A></xml>",
        "<xml><A>a]]>b</A></xml>",
        "<xml><A>a\r\nb</A></xml>",
        "<xml><A>\x01</A></xml>",
        '<xml><A x="1">1</A></xml>',
        "<xml><A><B>1</B></A></xml>",
        "<xml><A>1</A><A>2</A></xml>",
        "<xml><!-- c --><A>1</A></xml>",
        "<xml><A><![CDATA[x]]>y</A></xml>",
        "<xml><A>1</B></xml>",
        "<xml>text<A>1</A></xml>",
        "<root><A>1</A></root>",
    ],
)
def test_anything_but_a_plain_flat_document_goes_to_defusedxml(body):
    assert _flat_parse(body) is None
    assert _parsed(body) == _reference(body)


def _hostile_bodies(n: int) -> list[str]:
    return [
        "<xml><A><![CDATA[" + "]" * (4 * n) + "</A></xml>",
        "<xml><A><![CDATA[" + "] ]>" * n + "</A></xml>",
        "<xml>" + "<A>x</A>" * (n // 2) + "<A",
        "<xml><A>" + "x" * (4 * n) + "</xml>",
    ]


def _parse_seconds(bodies: list[str]) -> float:
    started = time.perf_counter()
    for body in bodies:
        _parsed(body)
    return time.perf_counter() - started


def test_fast_path_takes_linear_time_on_hostile_input():
    # Four times the input: linear parsing takes ~4x as long, a quadratic scan ~16x. A ratio, not a
    # wall-clock bound, so a loaded machine does not fail it: the two sizes alternate over five rounds
    # and each keeps its best (a busy machine slows a run, it never speeds one up), so a burst of load
    # from another process cannot land on one size only.
    small_bodies, large_bodies = _hostile_bodies(4_000), _hostile_bodies(16_000)
    small = large = float("inf")
    for _ in range(5):
        small = min(small, _parse_seconds(small_bodies))
        large = min(large, _parse_seconds(large_bodies))
    assert large / small < 8


_leaf_text = st.lists(
    st.sampled_from(list("ab ]>[<&;#\t\n\r\x01\x7f!-é你😀") + ["]]>", "<![CDATA[", "&amp;", "\ud800"]), max_size=12
).map("".join)


@st.composite
def _flat_documents(draw):
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.sampled_from(["A", "B", "MsgType", "_x", "a.b-c", "1a"]))
        content = draw(_leaf_text)
        if draw(st.booleans()):
            content = f"<![CDATA[{content}]]>"
        parts.append(draw(st.sampled_from(["", " ", "\n", "\t", "\r\n"])) + f"<{name}>{content}</{name}>")
    return draw(st.sampled_from(["", " ", "\n"])) + "<xml>" + "".join(parts) + draw(st.sampled_from(["", "\n"])) + "</xml>"


@settings(max_examples=1000, deadline=None)
@given(_flat_documents(), st.booleans())
def test_fast_path_agrees_with_defusedxml(body, as_bytes):
    body = body.encode(errors="surrogatepass") if as_bytes else body
    flat = _flat_parse(body)
    if flat is not None:
        assert flat == _reference(body)
    assert _parsed(body) == _reference(body)
