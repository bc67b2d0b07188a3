"""Mini-program adapter (subscribe message) and login (jscode2session)."""

from __future__ import annotations

import logging

from django.utils.translation import gettext
from wechatpy.exceptions import WeChatClientException

from messaging.channels.adapter import ChannelAdapter
from messaging.channels.base import OutboundMessage, Recipient, SendOutcome
from messaging.channels.clients import wechat_client
from messaging.channels.errors import classify_exception
from messaging.errors import MessagingError
from scrm.errors import ApplicationError

logger = logging.getLogger(__name__)

MP_SUBSCRIBE = "mp_subscribe"


class MiniProgramAdapter(ChannelAdapter):
    message_types = frozenset({MP_SUBSCRIBE})

    def _send_one(self, recipient: Recipient, message: OutboundMessage) -> SendOutcome:
        result = wechat_client(self.account).post(
            "message/subscribe/send", data={**message.payload, "touser": recipient.external_id}
        )
        msgid = result.get("msgid") if isinstance(result, dict) else None
        return SendOutcome(status="sent", msgid=str(msgid or ""))


def code_to_session(account, js_code: str) -> dict[str, str]:
    """Exchange a wx.login() code for {"openid", "unionid", "session_key"}; a bad, used or risky
    code raises ApplicationError(code=MessagingError.MP_LOGIN_FAILED)."""
    if not js_code:
        raise ApplicationError(gettext("A login code is required."), code=MessagingError.MP_LOGIN_FAILED)
    client = wechat_client(account)
    try:
        result = client.request_without_token(
            "GET",
            "https://api.weixin.qq.com/sns/jscode2session",
            params={
                "appid": account.app_id,
                "secret": account.app_secret,
                "js_code": js_code,
                "grant_type": "authorization_code",
            },
        )
    except WeChatClientException as exc:
        raise ApplicationError(
            gettext("WeChat refused the login code."),
            code=MessagingError.MP_LOGIN_FAILED,
            detail={"errcode": exc.errcode, "errmsg": exc.errmsg},
        ) from exc
    except Exception as exc:
        outcome = classify_exception(exc)
        raise ApplicationError(
            gettext("WeChat login is unavailable, try again."),
            code=MessagingError.MP_LOGIN_FAILED,
            detail={"errcode": outcome.error_code},
            status_code=503,
        ) from exc
    if not isinstance(result, dict) or not result.get("openid"):
        raise ApplicationError(gettext("WeChat answered without an openid."), code=MessagingError.MP_LOGIN_FAILED)
    return {
        "openid": result["openid"],
        "unionid": result.get("unionid", ""),
        "session_key": result.get("session_key", ""),
    }
