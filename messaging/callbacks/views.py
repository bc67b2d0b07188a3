"""The callback endpoints WeChat and WeCom call.

Lean on purpose (the benchmark holds it to ≥1,000 requests/s and ≥0.5x an empty view): a cached
account lookup, signature and replay checks, decryption, hardened parses, one INSERT … ON CONFLICT DO
NOTHING (shared with the concurrent requests of the process: group commit), and an enqueue after
commit. Everything else happens in the `callbacks` queue. Bad input is answered with a status and
nothing is stored; no exception escapes for it. A database error is not bad input: it escapes (500)
and WeChat retries.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.handlers.wsgi import get_bytes_from_wsgi
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from messaging.callbacks import selectors, services
from messaging.callbacks.crypto import (
    CallbackRejected,
    envelope_decrypt,
    envelope_encrypt,
    signature_verify,
    timestamp_verify,
)
from messaging.callbacks.parsing import xml_parse
from messaging.callbacks.selectors import CallbackAccount

logger = logging.getLogger(__name__)

_XML = "application/xml; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"


@csrf_exempt
def wechat_callback(request: HttpRequest, account_id: int) -> HttpResponse:
    return _callback(request, account_id, wecom=False)


@csrf_exempt
def wecom_callback(request: HttpRequest, account_id: int) -> HttpResponse:
    return _callback(request, account_id, wecom=True)


def _callback(request: HttpRequest, account_id: int, *, wecom: bool) -> HttpResponse:
    try:
        account = selectors.callback_account(account_id=account_id, wecom=wecom)
        if account is None:
            raise CallbackRejected(404, "unknown account")
        if request.method == "GET":
            return _verify_url(request, account)
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "GET, POST"})
        return _receive(request, account)
    except CallbackRejected as exc:
        logger.info("callback rejected account=%s status=%s reason=%s", account_id, exc.status, exc.reason)
        return HttpResponse(exc.reason, status=exc.status, content_type=_TEXT)


def _query(request: HttpRequest) -> dict[str, str]:
    """request.GET's values (the last one of a repeated name) without building a QueryDict, which
    costs more CPU than the signature check and decryption together."""
    raw = get_bytes_from_wsgi(request.META, "QUERY_STRING", "")
    try:
        query_string = raw.decode()
    except UnicodeDecodeError:
        query_string = raw.decode("iso-8859-1")
    try:
        return dict(parse_qsl(query_string, keep_blank_values=True, max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))
    except ValueError:
        raise CallbackRejected(400, "too many query parameters") from None


def _verify_url(request: HttpRequest, account: CallbackAccount) -> HttpResponse:
    query = _query(request)
    timestamp, nonce, echostr = query.get("timestamp", ""), query.get("nonce", ""), query.get("echostr", "")
    if account.is_wecom:
        signature_verify(signature=query.get("msg_signature", ""), token=account.token, timestamp=timestamp, nonce=nonce, encrypt=echostr)
        timestamp_verify(timestamp)
        echostr = envelope_decrypt(encrypt=echostr, keys=account.aes_keys, receive_id=account.app_id)
    else:
        # The service-account echostr is never encrypted, even in safe mode.
        signature_verify(signature=query.get("signature", ""), token=account.token, timestamp=timestamp, nonce=nonce)
        timestamp_verify(timestamp)
    return HttpResponse(echostr, content_type=_TEXT)


def _read_body(request: HttpRequest, limit: int) -> bytes:
    """The body, read up to `limit` + 1 bytes and no further: a larger one is a 413, however sent."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise CallbackRejected(400, "bad Content-Length") from None
    if declared > limit:
        raise CallbackRejected(413, "body too large")
    if not declared and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Without a Content-Length Django's request stream reads nothing; gunicorn's wsgi.input
        # de-chunks, so read it directly, stopping one byte past the limit.
        body = _read_at_most(request.META["wsgi.input"], limit + 1)
    else:
        body = request.read(limit + 1)
    if len(body) > limit:
        raise CallbackRejected(413, "body too large")
    return body


def _read_at_most(stream, size: int) -> bytes:
    parts, left = [], size
    while left > 0:
        data = stream.read(min(left, 65536))
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def _receive(request: HttpRequest, account: CallbackAccount) -> HttpResponse:
    query = _query(request)
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    body = _read_body(request, selectors.max_body_bytes())
    encrypted = account.is_wecom or query.get("encrypt_type", "") == "aes" or account.encrypt_mode == "safe"
    if encrypted:
        if account.encrypt_mode == "plain" and not account.is_wecom:
            raise CallbackRejected(400, "account expects plaintext callbacks")
        envelope = xml_parse(body)
        encrypt = envelope.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise CallbackRejected(400, "no <Encrypt> in body")
        signature_verify(signature=query.get("msg_signature", ""), token=account.token, timestamp=timestamp, nonce=nonce, encrypt=encrypt)
        timestamp_verify(timestamp)
        raw = envelope_decrypt(encrypt=encrypt, keys=account.aes_keys, receive_id=account.app_id)
    else:
        signature_verify(signature=query.get("signature", ""), token=account.token, timestamp=timestamp, nonce=nonce)
        timestamp_verify(timestamp)
        try:
            raw = body.decode()
        except UnicodeDecodeError:
            raise CallbackRejected(400, "body is not UTF-8") from None
    fields = xml_parse(raw)
    for required in ("MsgType", "FromUserName", "CreateTime"):
        if not isinstance(fields.get(required), str) or not fields[required]:
            raise CallbackRejected(400, f"no {required}")

    services.inbound_store(account_id=account.id, fields=fields, raw=raw)

    reply = selectors.auto_reply_text(account=account, fields=fields)
    if reply is None:
        return HttpResponse("success", content_type=_TEXT)
    reply_xml = services.passive_text_reply(fields=fields, text=reply)
    if encrypted:
        reply_xml = envelope_encrypt(
            plaintext=reply_xml, token=account.token, encoding_aes_key=account.aes_keys[0], receive_id=account.app_id, nonce=nonce
        )
    return HttpResponse(reply_xml, content_type=_XML)


@csrf_exempt
def bench_empty(request: HttpRequest) -> HttpResponse:
    """An empty view, routed only when CALLBACKS_BENCH_EMPTY_VIEW is on (benchmark baseline)."""
    return HttpResponse("success", content_type=_TEXT)
