"""Hand-over of customers (在职继承 and 离职继承) as WeCom does it.

分配在职成员的客户 externalcontact/transfer_customer
(https://developer.work.weixin.qq.com/document/path/92125): at most 100 customers a call, each a
contact of the handover staff member; `transfer_success_msg` at most 200 characters; "为保障客户服务
体验，90个自然日内，在职成员的每位客户仅可被转接2次". Each customer answers its own errcode; 0 starts
a transfer that completes automatically 24 hours later unless the customer refuses.
分配离职成员的客户 externalcontact/resigned/transfer_customer
(https://developer.work.weixin.qq.com/document/path/94081): the handover staff member must have
left the corp. 查询客户接替状态 transfer_result (/92973) and resigned/transfer_result (/94082):
status 1 done, 2 waiting, 3 refused by the customer, 4 the takeover staff member's customer limit;
pages of at most 1000. 获取待分配的离职成员列表 get_unassigned_list (/92124): page_size ≤ 1000.

Per-customer errcodes: 40096 (not a contact of the handover staff member) is the documentation's
example; 40129 for the 90-day rule and 40100 for a customer already in a transfer are the sandbox's
choice [unverified]: the product records any non-zero errcode as refused, with the code.
"""

from __future__ import annotations

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.state import ApiError, App

MAX_CUSTOMERS = 100
MAX_MESSAGE = 200
ACCEPT_SECONDS = 24 * 3600
WINDOW_SECONDS = 90 * 24 * 3600
MAX_TRANSFERS_IN_WINDOW = 2
PAGE = 1000
ERR_NOT_CONTACT = 40096
ERR_TRANSFER_LIMIT = 40129
ERR_IN_TRANSFER = 40100


def _transfer(ctx: Ctx, *, resigned: bool) -> dict:
    app, body, now = ctx.app, ctx.body, ctx.state.now()
    handover, takeover = body.get("handover_userid"), body.get("takeover_userid")
    if resigned:
        if not handover or handover not in app.resigned_staff:
            raise ApiError(40097, "handover_userid is not a departed member")
    elif not handover or handover not in app.staff:
        raise ApiError(60111, "invalid handover_userid")
    if not takeover or takeover not in app.staff:
        raise ApiError(60111, "invalid takeover_userid")
    if handover == takeover:
        raise ApiError(40058, "handover_userid and takeover_userid must differ")
    externals = body.get("external_userid")
    if not isinstance(externals, list) or not 1 <= len(externals) <= MAX_CUSTOMERS:
        raise ApiError(40058, f"external_userid must hold 1 to {MAX_CUSTOMERS} ids")
    message = body.get("transfer_success_msg") or ""
    if resigned and message:
        raise ApiError(40058, "transfer_success_msg is not a parameter of resigned/transfer_customer")
    if len(message) > MAX_MESSAGE:
        raise ApiError(40058, f"transfer_success_msg longer than {MAX_MESSAGE} characters")
    pending = app.transfers.setdefault((handover, takeover), {})
    answers = []
    for external in externals:
        times = [t for t in app.transfer_times.get(external, []) if now - t < WINDOW_SECONDS]
        if handover not in app.follows.get(external, {}):
            code = ERR_NOT_CONTACT
        elif any(e.get(external, {}).get("status") == 2 for e in app.transfers.values()):
            code = ERR_IN_TRANSFER
        elif not resigned and len(times) >= MAX_TRANSFERS_IN_WINDOW:
            code = ERR_TRANSFER_LIMIT
        else:
            code = 0
            pending[external] = {"status": 2, "takeover_time": int(now + ACCEPT_SECONDS), "message": message}
            app.transfer_times[external] = [*times, now]
        answers.append({"external_userid": external, "errcode": code})
    return {"customer": answers}


def transfer_customer(ctx: Ctx) -> dict:
    return _transfer(ctx, resigned=False)


def resigned_transfer_customer(ctx: Ctx) -> dict:
    return _transfer(ctx, resigned=True)


def transfers_settle(app: App, now: float) -> None:
    """Waiting transfers whose 24 hours have passed complete: the pair moves to the takeover."""
    for (handover, takeover), customers in app.transfers.items():
        for external, entry in customers.items():
            if entry["status"] != 2 or now < entry["takeover_time"]:
                continue
            relations = app.follows.get(external, {})
            info = relations.pop(handover, None)
            if info is not None:
                relations[takeover] = {**info, "userid": takeover, "createtime": int(entry["takeover_time"])}
            entry["status"] = 1


def _result(ctx: Ctx) -> dict:
    app, body = ctx.app, ctx.body
    transfers_settle(app, ctx.state.now())
    key = (body.get("handover_userid"), body.get("takeover_userid"))
    if not all(key):
        raise ApiError(40058, "handover_userid and takeover_userid are required")
    rows = [
        {"external_userid": e, "status": v["status"], "takeover_time": v["takeover_time"] if v["status"] in (1, 2) else 0}
        for e, v in app.transfers.get(key, {}).items()
    ]
    start = int(body.get("cursor") or 0)
    page = rows[start:start + PAGE]
    return {"customer": page, "next_cursor": str(start + PAGE) if start + PAGE < len(rows) else ""}


def get_unassigned_list(ctx: Ctx) -> dict:
    app, body = ctx.app, ctx.body
    transfers_settle(app, ctx.state.now())
    size = int(body.get("page_size") or PAGE)
    if not 1 <= size <= PAGE:
        raise ApiError(40058, f"page_size must be 1 to {PAGE}")
    rows = [
        {"handover_userid": staff, "external_userid": external, "dimission_time": info["dimission_time"]}
        for staff, info in app.resigned_staff.items()
        for external, relations in app.follows.items()
        if staff in relations and not any(external in c and c[external]["status"] == 2 for (h, _), c in app.transfers.items() if h == staff)
    ]
    start = int(body.get("cursor") or 0)
    page = rows[start:start + size]
    more = start + size < len(rows)
    return {"info": page, "is_last": not more, "next_cursor": str(start + size) if more else ""}


ROUTES = {
    "/cgi-bin/externalcontact/transfer_customer": transfer_customer,
    "/cgi-bin/externalcontact/resigned/transfer_customer": resigned_transfer_customer,
    "/cgi-bin/externalcontact/transfer_result": _result,
    "/cgi-bin/externalcontact/resigned/transfer_result": _result,
    "/cgi-bin/externalcontact/get_unassigned_list": get_unassigned_list,
}
