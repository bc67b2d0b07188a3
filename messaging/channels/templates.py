"""Reading an account's template library from WeChat (the calls; the mirror is
messaging.template_library.services).

- Template messages (service accounts): `GET cgi-bin/template/get_all_private_template` →
  `{"template_list": [{template_id, title, primary_industry, deputy_industry, content, example}]}`
  (模板消息接口 https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html).
- Subscribe messages (service-account 订阅通知 and mini-program 订阅消息): `GET wxaapi/newtmpl/gettemplate`
  → `{"errcode": 0, "errmsg": "ok", "data": [{priTmplId, title, content, example, type}]}`
  (https://developers.weixin.qq.com/doc/offiaccount/Subscription_Messages/api.html,
  https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/getMessageTemplateList.html).

Both raise wechatpy's WeChatClientException (or a requests error) like every other call; callers
classify them (messaging.channels.errors).
"""

from __future__ import annotations

from typing import Any

from messaging.channels.clients import wechat_client

# wxaapi is not under cgi-bin/: an absolute URL, which the client's session rewrites to the
# account's API base (WECHAT.md §10).
GETTEMPLATE_URL = "https://api.weixin.qq.com/wxaapi/newtmpl/gettemplate"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def private_templates_get(account) -> list[dict[str, str]]:
    """The service account's template-message templates, as
    [{template_id, title, content, example, primary_industry, deputy_industry}]."""
    answer = wechat_client(account).get("template/get_all_private_template")
    templates = []
    for item in (answer or {}).get("template_list") or []:
        if not isinstance(item, dict) or not item.get("template_id"):
            continue
        templates.append({
            "template_id": _text(item["template_id"]),
            "title": _text(item.get("title")),
            "content": _text(item.get("content")),
            "example": _text(item.get("example")),
            "primary_industry": _text(item.get("primary_industry")),
            "deputy_industry": _text(item.get("deputy_industry")),
        })
    return templates


def subscribe_templates_get(account) -> list[dict[str, str]]:
    """The account's subscribe templates (service account or mini-program), in the same shape
    (`priTmplId` becomes `template_id`; no industries)."""
    answer = wechat_client(account).get(GETTEMPLATE_URL)
    templates = []
    for item in (answer or {}).get("data") or []:
        if not isinstance(item, dict) or not item.get("priTmplId"):
            continue
        templates.append({
            "template_id": _text(item["priTmplId"]),
            "title": _text(item.get("title")),
            "content": _text(item.get("content")),
            "example": _text(item.get("example")),
            "primary_industry": "",
            "deputy_industry": "",
        })
    return templates
