"""WeCom externalcontact/batch/get_by_user: the contacts of up to 100 staff members, by pages."""

from __future__ import annotations

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.wecom import contact_json, known_staff
from messaging.sandbox.state import ApiError

# 批量获取客户详情 (https://developer.work.weixin.qq.com/document/path/92994): userid_list of 1 to 100
# staff members ("最多支持100个"), limit default 50, "最大值100 … 超过最大值时取最大值", an opaque cursor;
# follow_info carries the corp tags as `tag_id` (ids only, unlike externalcontact/get's `tags`).
# The page does not name the codes for a bad list or cursor: 40058 (missing or bad argument) [unverified].
BATCH_MAX_STAFF = 100
BATCH_MAX_LIMIT = 100
BATCH_DEFAULT_LIMIT = 50


def _batch_cursor(value) -> tuple[int, int]:
    if not value:
        return 0, 0
    try:
        position, skip = (int(part) for part in str(value).split(":"))
    except ValueError:
        raise ApiError(40058, "invalid cursor") from None
    if position < 0 or skip < 0:
        raise ApiError(40058, "invalid cursor")
    return position, skip


def _batch_follow_info(info: dict) -> dict:
    return {**{k: v for k, v in info.items() if k != "tags"}, "tag_id": [t["tag_id"] for t in info["tags"]]}


def batch_get_by_user(ctx: Ctx) -> dict:
    app = ctx.app
    staff_ids = ctx.body.get("userid_list")
    if not isinstance(staff_ids, list) or not 1 <= len(staff_ids) <= BATCH_MAX_STAFF:
        raise ApiError(40058, f"userid_list must hold 1 to {BATCH_MAX_STAFF} userids")
    staff_ids = list(dict.fromkeys(staff_ids))
    for staff in staff_ids:
        known_staff(ctx, staff)
    try:
        limit = int(ctx.body.get("limit") or BATCH_DEFAULT_LIMIT)
    except (TypeError, ValueError):
        raise ApiError(40058, "invalid limit") from None
    limit = BATCH_DEFAULT_LIMIT if limit <= 0 else min(limit, BATCH_MAX_LIMIT)
    position, skip = _batch_cursor(ctx.body.get("cursor"))
    # Contacts in the order they were added; the cursor is (contact index, pairs of it already given).
    order = app.order
    page: list[tuple[str, str]] = []
    next_cursor = ""
    while position < len(order):
        external = order[position]
        relations = app.follows.get(external) or {}
        pairs = [s for s in staff_ids if s in relations][skip:]
        room = limit - len(page)
        if len(pairs) > room:
            page += [(external, s) for s in pairs[:room]]
            next_cursor = f"{position}:{skip + room}"
            break
        page += [(external, s) for s in pairs]
        position, skip = position + 1, 0
        if len(page) == limit:
            next_cursor = f"{position}:0" if position < len(order) else ""
            break
    return {
        "external_contact_list": [
            {"external_contact": contact_json(app, e), "follow_info": _batch_follow_info(app.follows[e][s])} for e, s in page
        ],
        "next_cursor": next_cursor,
    }


ROUTES = {
    "/cgi-bin/externalcontact/batch/get_by_user": batch_get_by_user,
}
