"""Untrusted XML from callbacks, parsed with defusedxml (no DTDs, no entities, no external references).

wechatpy's parse_message is not used on untrusted input: it misses the WeCom and subscribe-message
events anyway, and its attribute defaults write into its data. `xml_parse` turns the document into
plain dicts: leaf elements become strings, repeated elements (`<List>`) become lists.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from messaging.callbacks.crypto import CallbackRejected

_MAX_DEPTH = 8


# WeChat's documents are nearly always one flat <xml> of leaf elements, each holding plain text or
# one CDATA section. Those are read with regular expressions (a fifth of the cost of building an
# element tree); a document qualifies only if it holds nothing an XML parser would expand or
# interpret differently: no declaration, DTD, entity or character reference (no `&` outside CDATA),
# comment, processing instruction, attribute, nesting, repeated element, CR (XML normalises line
# ends), `]` in text (no `]]>`) or character XML forbids. Everything else — including every hostile
# document — goes to defusedxml. A property test checks both readings agree.
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"
_FORBIDDEN = r"\x00-\x08\x0b\x0c\x0e-\x1f\r\ud800-\udfff\ufffe\uffff"
_FLAT_ROOT = re.compile(r"[ \t\n]*<xml>(.*)</xml>[ \t\n]*", re.DOTALL)
_FLAT_LEAF = re.compile(
    # CDATA: runs of ordinary characters, each `]` not starting `]]>` (an unrolled loop: linear time).
    rf"[ \t\n]*<({_NAME})>(?:<!\[CDATA\[([^\]{_FORBIDDEN}]*(?:\](?!\]>)[^\]{_FORBIDDEN}]*)*)\]\]>|([^<&\]{_FORBIDDEN}]*))</\1>"
)
_FLAT_TAIL = re.compile(r"[ \t\n]*")


def _flat_parse(body: str | bytes) -> dict[str, str] | None:
    """A flat WeChat document as a dict, or None when it is anything else (see above)."""
    if isinstance(body, bytes):
        try:
            body = body.decode()
        except UnicodeDecodeError:
            return None
    root = _FLAT_ROOT.fullmatch(body) if isinstance(body, str) else None
    if root is None:
        return None
    inner, pos = root.group(1), 0
    result: dict[str, str] = {}
    while True:
        leaf = _FLAT_LEAF.match(inner, pos)
        if leaf is None:
            return result if _FLAT_TAIL.match(inner, pos).end() == len(inner) else None
        name, cdata, text = leaf.groups()
        if name in result:
            return None
        result[name] = (cdata if cdata is not None else text).strip()
        pos = leaf.end()


def xml_parse(body: str | bytes) -> dict[str, Any]:
    """The `<xml>` document as a dict; CallbackRejected(400) for anything malformed or hostile."""
    flat = _flat_parse(body)
    return flat if flat is not None else _tree_parse(body)


def _tree_parse(body: str | bytes) -> dict[str, Any]:
    """Any document, with defusedxml."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, TypeError):
        raise CallbackRejected(400, "malformed or forbidden XML") from None
    if root.tag != "xml":
        raise CallbackRejected(400, "root element is not <xml>")
    value = _element(root, 0)
    return value if isinstance(value, dict) else {}


def _element(element: Element, depth: int) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if depth >= _MAX_DEPTH:
        raise CallbackRejected(400, "XML nested too deeply")
    result: dict[str, Any] = {}
    repeated: set[str] = set()
    for child in children:
        value = _element(child, depth + 1)
        if child.tag in repeated:
            result[child.tag].append(value)
        elif child.tag in result:
            result[child.tag] = [result[child.tag], value]
            repeated.add(child.tag)
        else:
            result[child.tag] = value
    return result


def as_list(value: Any) -> list[Any]:
    """One `<List>` element parses as a dict, several as a list: always get a list."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def create_time(fields: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(fields.get("CreateTime", "")), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def dedupe_key(fields: dict[str, Any]) -> str:
    """MsgId for messages; FromUserName + CreateTime + Event (+ EventKey / ChangeType) for events."""
    msg_type = _text(fields.get("MsgType"))
    msg_id = _text(fields.get("MsgId"))
    if msg_type != "event" and msg_id:
        return f"msg:{msg_id}"
    parts = [
        _text(fields.get("FromUserName")) or _text(fields.get("ExternalUserID")) or _text(fields.get("UserID")),
        _text(fields.get("CreateTime")),
        _text(fields.get("Event")) or msg_type,
        _text(fields.get("EventKey")) or _text(fields.get("ChangeType")),
    ]
    if _text(fields.get("MsgID")):
        # Two template reports for one user in the same second differ only by MsgID.
        parts.append(_text(fields.get("MsgID")))
    if _text(fields.get("ChangeType")):
        # Two staff members adding the same contact in one second are two events; so are two corp
        # tags (Id) or two customer groups (ChatId, UpdateDetail) changed in one second.
        parts += [_text(fields.get(name)) for name in ("UserID", "ExternalUserID", "Id", "TagType", "ChatId", "UpdateDetail")]
    key = "evt:" + ":".join(p for p in parts if p)
    if len(key) > 180:
        key = "evth:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: Any) -> int:
    """An integer field of a callback (counts), 0 when missing or not a number."""
    try:
        return int(str(value or 0).strip())
    except ValueError:
        return 0
