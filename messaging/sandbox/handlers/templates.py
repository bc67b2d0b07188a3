"""The template library: a service account's private templates (template messages) and the subscribe
templates of a service account (订阅通知) or mini-program (订阅消息).

Documentation followed (checked 2026-12):
- 模板消息接口 https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html
  `GET cgi-bin/template/get_all_private_template` answers `{"template_list": [{template_id, title,
  primary_industry, deputy_industry, content, example}]}` (no errcode on success);
  `POST cgi-bin/template/api_add_template {"template_id_short", "keyword_name_list"}` answers the new
  `template_id`; an account holds at most 25 private templates (45026 "template num exceeds limit");
  `POST cgi-bin/template/del_private_template {"template_id"}`; an unknown id is 40037.
  Only service accounts have template messages: a mini-program's token gets 48001.
- 订阅通知 https://developers.weixin.qq.com/doc/offiaccount/Subscription_Messages/api.html and the
  mini-program's https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/getMessageTemplateList.html
  `GET wxaapi/newtmpl/gettemplate` answers `{"errcode": 0, "errmsg": "ok", "data": [{priTmplId,
  title, content, example, type}]}` (type 2 one-time, 3 long-term).
WeCom tokens get 48001 for all of these (the server answers it for any path a kind has no route for).
"""

from __future__ import annotations

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.state import ApiError, App

# What `api_add_template` can add: a few entries of WeChat's public template library (模板库),
# by their short id. The sandbox's own stand-ins, shaped like WeChat's.
TEMPLATE_CATALOGUE: dict[str, dict[str, str]] = {
    "TM00015": {
        "title": "订单支付成功",
        "content": "{{first.DATA}}\n\n支付金额：{{orderMoneySum.DATA}}\n商品信息：{{orderProductName.DATA}}\n{{Remark.DATA}}",
        "example": "我们已收到您的货款，开始为您打包商品，请耐心等待: )\n支付金额：30.00元\n商品信息：我是商品名字\n\n如有问题请致电400-828-1878联系我们。",
    },
    "OPENTM200565259": {
        "title": "订单发货提醒",
        "content": "{{first.DATA}}\n订单编号：{{keyword1.DATA}}\n物流公司：{{keyword2.DATA}}\n物流单号：{{keyword3.DATA}}\n{{remark.DATA}}",
        "example": "您的订单已发货\n订单编号：20261206001\n物流公司：顺丰速运\n物流单号：SF1234567890\n感谢您的支持",
    },
    "OPENTM207685059": {
        "title": "会员积分变动提醒",
        "content": "{{first.DATA}}\n变动积分：{{keyword1.DATA}}\n当前积分：{{keyword2.DATA}}\n变动时间：{{keyword3.DATA}}\n{{remark.DATA}}",
        "example": "您的积分发生变动\n变动积分：+20\n当前积分：1520\n变动时间：2026-12-06 10:00\n积分可在商城兑换好礼",
    },
}


def _oa_only(app: App) -> None:
    # Template messages belong to service accounts; a mini-program's token is refused.
    if app.kind != "oa":
        raise ApiError(48001, "api unauthorized")


def get_all_private_template(ctx: Ctx) -> dict:
    _oa_only(ctx.app)
    return {"template_list": [dict(t) for t in ctx.app.private_templates.values()], "_no_errcode": True}


def api_add_template(ctx: Ctx) -> dict:
    _oa_only(ctx.app)
    short = ctx.body.get("template_id_short")
    entry = TEMPLATE_CATALOGUE.get(short) if isinstance(short, str) else None
    if entry is None:
        raise ApiError(40037, "invalid template_id")
    template = ctx.state.template_add(ctx.app, kind="template", **entry)
    return {"errcode": 0, "errmsg": "ok", "template_id": template["template_id"]}


def del_private_template(ctx: Ctx) -> dict:
    _oa_only(ctx.app)
    ctx.state.template_delete(ctx.app, kind="template", template_id=ctx.body.get("template_id"))
    return {"errcode": 0, "errmsg": "ok"}


def gettemplate(ctx: Ctx) -> dict:
    # Service accounts (订阅通知) and mini-programs (订阅消息) both have it.
    return {"errcode": 0, "errmsg": "ok", "data": [dict(t) for t in ctx.app.subscribe_templates.values()]}


def template_in_library(ctx: Ctx, template_id: object) -> None:
    """A template send names a template of the account's library, else 40037 (auto_templates: learn it)."""
    app = ctx.app
    if not isinstance(template_id, str) or not template_id:
        raise ApiError(40037, "invalid template_id")
    if template_id in app.private_templates:
        return
    if app.auto_templates or (app.auto_templates is None and not app.library_seeded):
        ctx.state.template_add(app, kind="template", template_id=template_id, title=template_id, content="", limit=False)
        return
    raise ApiError(40037, "invalid template_id")


ROUTES = {
    "/cgi-bin/template/get_all_private_template": get_all_private_template,
    "/cgi-bin/template/api_add_template": api_add_template,
    "/cgi-bin/template/del_private_template": del_private_template,
    "/wxaapi/newtmpl/gettemplate": gettemplate,
}
