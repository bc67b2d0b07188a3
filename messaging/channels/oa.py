"""Service-account adapter: mass send to an openid list (the marketing channel), template message
(service notifications only), customer-service message, subscribe message (bizsend)."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from wechatpy.exceptions import WeChatClientException

from messaging.channels.adapter import ChannelAdapter, idempotency_id
from messaging.channels.base import OutboundMessage, Recipient, SendOutcome
from messaging.channels.clients import wechat_client
from messaging.channels.errors import CLIENTMSGID_EXISTS, error_response_json
from messaging.content.models import Material

MASS = "mass"
# message/mass/preview to one openid (the operator's own WeChat): not counted in the 4 a month.
MASS_PREVIEW = "mass_preview"
TEMPLATE = "template"
CUSTOMER_SERVICE = "customer_service"
OA_SUBSCRIBE = "oa_subscribe"
# A video converted by media/uploadvideo is reused this long (WeChat does not state the converted
# media_id's lifetime; the sandbox keeps it 3 days like temporary media) [unverified].
MPVIDEO_REUSE_SECONDS = 2 * 24 * 3600


def _msgid(result: Any, *names: str) -> str:
    if isinstance(result, dict):
        for name in names:
            if result.get(name) not in (None, ""):
                return str(result[name])
    return ""


def mass_clientmsgid(message: OutboundMessage, openids: list[str]) -> str:
    """clientmsgid of a mass send: the batch key and its exact recipients, so a crashed batch
    retried with the same recipients is de-duplicated by WeChat, and a different list is not."""
    return idempotency_id(message.idempotency_key, *sorted(openids))


class OfficialAccountAdapter(ChannelAdapter):
    message_types = frozenset({MASS, MASS_PREVIEW, TEMPLATE, CUSTOMER_SERVICE, OA_SUBSCRIBE})
    batch_types = frozenset({MASS})
    batch_limit = 10_000

    @property
    def client(self):
        return wechat_client(self.account)

    def mass_video(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An mpvideo body with its video's media_id converted by media/uploadvideo, as 群发 requires
        (Batch_Sends_and_Originality_Checks): POST {media_id, title, description} → a new media_id.
        The title and description are the video material's. Other bodies are returned unchanged."""
        if payload.get("msgtype") != "mpvideo":
            return payload
        source = str(payload["mpvideo"]["media_id"])
        key = f"mpvideo:{self.account.pk}:{source}"
        converted = cache.get(key)
        if not converted:
            title, introduction = Material.objects.filter(account_id=self.account.pk, media_id=source).values_list("title", "introduction").first() or ("", "")
            answer = self.client.post("media/uploadvideo", data={"media_id": source, "title": title, "description": introduction})
            converted = str(answer["media_id"])
            cache.set(key, converted, MPVIDEO_REUSE_SECONDS)
        return {**payload, "mpvideo": {**payload["mpvideo"], "media_id": converted}}

    def _send_many(self, recipients: list[Recipient], message: OutboundMessage) -> dict[str, SendOutcome]:
        openids = list(dict.fromkeys(r.external_id for r in recipients))
        payload = self.mass_video(message.payload)
        if "filter" in payload:
            # By tag (sendall): one call reaches the tag's members; the recipients only record it.
            path = "message/mass/sendall"
            body = {"send_ignore_reprint": 0, **payload, "clientmsgid": idempotency_id(message.idempotency_key)}
        else:
            # message/mass/send takes 2 to 10,000 openids; a single recipient is listed twice
            # (WeChat counts the person once) [unverified: WeChat documents only the minimum].
            path = "message/mass/send"
            touser = openids if len(openids) > 1 else openids * 2
            body = {"send_ignore_reprint": 0, **payload, "touser": touser, "clientmsgid": mass_clientmsgid(message, openids)}
        try:
            result = self.client.post(path, data=body)
            outcome = SendOutcome(status="sent", msgid=_msgid(result, "msg_id", "msgid"))
        except WeChatClientException as exc:
            if exc.errcode != CLIENTMSGID_EXISTS:
                raise
            # Sent before (a retry after a crash): WeChat names the first send's msg_id.
            outcome = SendOutcome(status="sent", msgid=_msgid(error_response_json(exc), "msg_id", "msgid"))
        return {r.key: outcome for r in recipients}

    def _send_one(self, recipient: Recipient, message: OutboundMessage) -> SendOutcome:
        if message.message_type == MASS:
            return self._send_many([recipient], message)[recipient.key]
        if message.message_type == MASS_PREVIEW:
            body = {key: value for key, value in self.mass_video(message.payload).items() if key not in ("filter", "send_ignore_reprint")}
            result = self.client.post("message/mass/preview", data={**body, "touser": recipient.external_id})
            return SendOutcome(status="sent", msgid=_msgid(result, "msg_id", "msgid"))
        if message.message_type == TEMPLATE:
            body = {
                **message.payload,
                "touser": recipient.external_id,
                "client_msg_id": idempotency_id(message.idempotency_key),
            }
            # wechatpy's send_template cannot pass client_msg_id.
            try:
                result = self.client.post("message/template/send", data=body)
            except WeChatClientException as exc:
                if exc.errcode != CLIENTMSGID_EXISTS:
                    raise
                result = error_response_json(exc)
            return SendOutcome(status="sent", msgid=_msgid(result, "msgid", "msg_id"))
        if message.message_type == CUSTOMER_SERVICE:
            result = self.client.post("message/custom/send", data={**message.payload, "touser": recipient.external_id})
            return SendOutcome(status="sent", msgid=_msgid(result, "msgid", "msg_id"))
        result = self.client.post(
            "message/subscribe/bizsend", data={**message.payload, "touser": recipient.external_id}
        )
        return SendOutcome(status="sent", msgid=_msgid(result, "msgid", "msg_id"))
