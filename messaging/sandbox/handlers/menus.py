"""Custom menus of a service account: the default menu and the conditional (personalized) menus.

Pages (checked 2026-12; see also ../shared/WECHAT.md §11):
- 创建自定义菜单 https://developers.weixin.qq.com/doc/service/api/custommenu/api_createcustommenu
  `POST cgi-bin/menu/create {"button": [...]}`: 1–3 top items, each either a typed item or 1–5
  `sub_button`s; `name` ≤ 16 bytes (a sub-item's ≤ 60), `key` ≤ 128 bytes (click-type items must have
  one), `url` ≤ 1024 bytes (view and miniprogram must have one), miniprogram needs `appid` and
  `pagepath`, media_id / view_limited a `media_id`, article_id / article_view_limited an `article_id`.
- 查询自定义菜单 (api_getcurrentselfmenuinfo / menu/get) answers `{"menu": {"button", "menuid"},
  "conditionalmenu": [{"button", "matchrule", "menuid"}]}`; no menu → 46003.
- 删除自定义菜单 (api_deletemenu): `menu/delete` removes the default menu and every conditional one.
- 创建个性化菜单 https://developers.weixin.qq.com/doc/service/api/custommenu/api_addconditionalmenu
  `POST cgi-bin/menu/addconditional {"button", "matchrule"}` → `{"menuid"}`: a default menu must exist
  (65303); the rule must name something (65304); rules on gender, region, client platform or
  language are refused with 65320 since WeChat stopped filtering on private data — only `tag_id`
  remains. All conditional menus together link to at most 3 domains (65316).
- 删除个性化菜单 (api_deleteconditionalmenu): `menu/delconditional {"menuid"}`; unknown → 65301.
- 测试个性化菜单匹配结果 (api_trymatchmenu): `menu/trymatch {"user_id"}` → `{"button": [...]}`, the
  newest conditional menu whose tag the follower carries, else the default; unknown user → 65302.
- Global return codes (全局返回码): 40016 button count, 40017 button type, 40018 button name size,
  40019 button key size, 40020 button url size, 40023 sub-button count, 40024 sub-button type,
  40025 sub-button name size, 40026 sub-button key size, 40027 sub-button url size, 40007 invalid
  media_id, 65308 an item with no response type.
- Daily call limits (接口调用频次限制说明): menu/create 1,000, menu/get 10,000, menu/delete 1,000;
  addconditional 2,000, delconditional 2,000, trymatch 20,000; beyond → 45009.
[unverified] An empty `appid` / `pagepath` / `article_id` answers 47001 here (the pages give no code);
and an older page says a follower with several tags matches by the tag set last — the sandbox
matches any of the follower's tags, which is what the current page describes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.state import ApiError

MAX_TOP_ITEMS = 3
MAX_SUB_ITEMS = 5
TOP_NAME_BYTES = 16
SUB_NAME_BYTES = 60
KEY_BYTES = 128
URL_BYTES = 1024
CONDITIONAL_DOMAINS = 3
KEY_TYPES = frozenset(
    {"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select"}
)
URL_TYPES = frozenset({"view", "miniprogram"})
MEDIA_TYPES = frozenset({"media_id", "view_limited"})
ARTICLE_TYPES = frozenset({"article_id", "article_view_limited"})
ALL_TYPES = KEY_TYPES | URL_TYPES | MEDIA_TYPES | ARTICLE_TYPES
PRIVATE_RULE_FIELDS = ("sex", "country", "province", "city", "client_platform_type", "language")
DAILY_LIMITS = {
    "menu/create": 1000,
    "menu/get": 10000,
    "menu/delete": 1000,
    "menu/addconditional": 2000,
    "menu/delconditional": 2000,
    "menu/trymatch": 20000,
}


def _bytes(value: Any) -> int:
    return len(value.encode("utf-8")) if isinstance(value, str) else 0


def _menus(ctx: Ctx) -> dict[str, Any]:
    if ctx.app.kind != "oa":
        raise ApiError(48001, "api unauthorized")
    api = ctx.path.removeprefix("/cgi-bin/")
    ctx.app.calls.take(api, ctx.state.today(), limit=DAILY_LIMITS[api], error=ApiError(45009, "reach max api daily quota limit"))
    return ctx.app.menus


def _check_item(item: Any, *, sub: bool) -> dict:
    codes = (40024, 40025, 40026, 40027) if sub else (40017, 40018, 40019, 40020)
    type_code, name_code, key_code, url_code = codes
    if not isinstance(item, dict):
        raise ApiError(47001, "data format error")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or _bytes(name) > (SUB_NAME_BYTES if sub else TOP_NAME_BYTES):
        raise ApiError(name_code, "invalid sub button name size" if sub else "invalid button name size")
    children = item.get("sub_button")
    if not sub and isinstance(children, list) and children:
        if len(children) > MAX_SUB_ITEMS:
            raise ApiError(40023, "invalid sub button size")
        return {"name": name, "sub_button": [_check_item(child, sub=True) for child in children]}
    kind = item.get("type")
    if kind is None:
        raise ApiError(65308, "button without response type")
    if kind not in ALL_TYPES:
        raise ApiError(type_code, "invalid sub button type" if sub else "invalid button type")
    clean = {"type": kind, "name": name}
    if kind in KEY_TYPES:
        key = item.get("key")
        if not isinstance(key, str) or not key or _bytes(key) > KEY_BYTES:
            raise ApiError(key_code, "invalid sub button key size" if sub else "invalid button key size")
        clean["key"] = key
    if kind in URL_TYPES:
        url = item.get("url")
        if not isinstance(url, str) or not url or _bytes(url) > URL_BYTES:
            raise ApiError(url_code, "invalid sub button url size" if sub else "invalid button url size")
        clean["url"] = url
    if kind == "miniprogram":
        for name_ in ("appid", "pagepath"):
            if not isinstance(item.get(name_), str) or not item[name_]:
                raise ApiError(47001, "data format error")
            clean[name_] = item[name_]
    if kind in MEDIA_TYPES:
        if not isinstance(item.get("media_id"), str) or not item["media_id"]:
            raise ApiError(40007, "invalid media_id")
        clean["media_id"] = item["media_id"]
    if kind in ARTICLE_TYPES:
        if not isinstance(item.get("article_id"), str) or not item["article_id"]:
            raise ApiError(47001, "data format error")
        clean["article_id"] = item["article_id"]
    return clean


def _check_buttons(body: dict) -> list[dict]:
    buttons = body.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_TOP_ITEMS:
        raise ApiError(40016, "invalid button size")
    return [_check_item(item, sub=False) for item in buttons]


def _with_sub_lists(buttons: list[dict]) -> list[dict]:
    # menu/get lists `sub_button: []` on every item, as WeChat does.
    return [{**b, "sub_button": _with_sub_lists(b.get("sub_button") or [])} for b in buttons]


def _domains(buttons: list[dict]) -> set[str]:
    hosts = set()
    for item in buttons:
        if item.get("url"):
            try:
                hosts.add((urlsplit(item["url"]).hostname or "").lower())
            except ValueError:
                raise ApiError(65317, "invalid url") from None
        hosts |= _domains(item.get("sub_button") or [])
    return hosts


def menu_create(ctx: Ctx) -> dict:
    menus = _menus(ctx)
    buttons = _check_buttons(ctx.body)
    menus["default"] = {"button": buttons, "menuid": ctx.state.next_msgid()}
    menus.setdefault("conditional", [])
    return {"errcode": 0, "errmsg": "ok"}


def menu_get(ctx: Ctx) -> dict:
    menus = _menus(ctx)
    if not menus.get("default"):
        raise ApiError(46003, "menu no exist")
    answer: dict[str, Any] = {
        "menu": {"button": _with_sub_lists(menus["default"]["button"]), "menuid": menus["default"]["menuid"]}
    }
    if menus.get("conditional"):
        answer["conditionalmenu"] = [
            {"button": _with_sub_lists(m["button"]), "matchrule": dict(m["matchrule"]), "menuid": m["menuid"]}
            for m in menus["conditional"]
        ]
    answer["_no_errcode"] = True
    return answer


def menu_delete(ctx: Ctx) -> dict:
    menus = _menus(ctx)
    menus.clear()
    return {"errcode": 0, "errmsg": "ok"}


def menu_addconditional(ctx: Ctx) -> dict:
    menus = _menus(ctx)
    buttons = _check_buttons(ctx.body)
    rule = ctx.body.get("matchrule")
    if not isinstance(rule, dict) or not any(v not in (None, "") for v in rule.values()):
        raise ApiError(65304, "match rule empty")
    if any(rule.get(name) not in (None, "") for name in PRIVATE_RULE_FIELDS):
        raise ApiError(65320, "matchrule on private information is not supported")
    try:
        tag_id = int(rule.get("tag_id"))
    except (TypeError, ValueError):
        raise ApiError(40050, "invalid tag id") from None
    if tag_id not in ctx.app.tags:
        raise ApiError(40050, "invalid tag id")
    if not menus.get("default"):
        raise ApiError(65303, "there is no selfmenu, please create selfmenu first")
    conditional = menus.setdefault("conditional", [])
    if len(_domains(buttons).union(*(_domains(m["button"]) for m in conditional)) - {""}) > CONDITIONAL_DOMAINS:
        raise ApiError(65316, "invalid url domain: conditional menus link to at most 3 domains")
    menuid = ctx.state.next_msgid()
    conditional.append({"button": buttons, "matchrule": {"tag_id": str(tag_id)}, "menuid": menuid})
    return {"menuid": str(menuid), "_no_errcode": True}


def menu_delconditional(ctx: Ctx) -> dict:
    menus = _menus(ctx)
    menuid = str(ctx.body.get("menuid") or "")
    kept = [m for m in menus.get("conditional", []) if str(m["menuid"]) != menuid]
    if not menuid or len(kept) == len(menus.get("conditional", [])):
        raise ApiError(65301, "menuid not exist")
    menus["conditional"] = kept
    return {"errcode": 0, "errmsg": "ok"}


def menu_trymatch(ctx: Ctx) -> dict:
    menus = _menus(ctx)
    user = ctx.app.users.get(ctx.body.get("user_id") or "")
    if user is None:
        raise ApiError(65302, "user not exist")
    if not menus.get("default"):
        raise ApiError(46003, "menu no exist")
    # Newest first: a follower in several segments sees the menu published last.
    for menu in reversed(menus.get("conditional", [])):
        if int(menu["matchrule"]["tag_id"]) in user.tags:
            return {"button": _with_sub_lists(menu["button"]), "_no_errcode": True}
    return {"button": _with_sub_lists(menus["default"]["button"]), "_no_errcode": True}


ROUTES = {
    "/cgi-bin/menu/create": menu_create,
    "/cgi-bin/menu/get": menu_get,
    "/cgi-bin/menu/delete": menu_delete,
    "/cgi-bin/menu/addconditional": menu_addconditional,
    "/cgi-bin/menu/delconditional": menu_delconditional,
    "/cgi-bin/menu/trymatch": menu_trymatch,
}
