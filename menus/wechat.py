"""Calls to WeChat's menu APIs: a refusal or an outage becomes an ApplicationError naming WeChat's errcode."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from requests import RequestException
from wechatpy.exceptions import WeChatClientException

from menus.errors import MenuError
from scrm.errors import ApplicationError

NO_SUCH_CONDITIONAL_MENU = 65301
NO_MENU = 46003


def wechat_refusal(exc: WeChatClientException) -> ApplicationError:
    return ApplicationError(
        gettext("WeChat refused the menu: %(errcode)s %(errmsg)s") % {"errcode": exc.errcode, "errmsg": exc.errmsg},
        code=MenuError.MENU_WECHAT_REFUSED,
        detail={"errcode": exc.errcode, "errmsg": str(exc.errmsg or "")},
    )


def wechat_call(call, *args, **kwargs) -> Any:
    """One WeChat call (or a step made of them); 502 when WeChat refuses, 503 when it cannot be reached."""
    try:
        return call(*args, **kwargs)
    except WeChatClientException as exc:
        raise wechat_refusal(exc) from exc
    except RequestException as exc:
        raise ApplicationError(
            gettext("WeChat could not be reached."), code=MenuError.MENU_WECHAT_REFUSED, detail={"error": type(exc).__name__}, status_code=503
        ) from exc
