"""Event XML as WeChat and WeCom post it, and the user actions behind each event.

`apply_user_event` changes the sandbox state the way the user's action changes WeChat's (a subscribe
makes the user a follower, a text message opens the 48-hour window, an accepted subscribe popup grants
a consent credit, a WeCom contact added through a "contact me" way creates the relation and a welcome
code) and returns the XML to post to the app's callback URL.
"""

from __future__ import annotations

import secrets
from typing import Any

from messaging.sandbox.state import ApiError, App, SandboxState, User


def cdata(value: Any) -> str:
    text = str(value)
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_xml(fields: dict[str, Any]) -> str:
    """`<xml>` with one element per field; numbers bare, strings in CDATA, dicts/lists nested."""

    def render(name: str, value: Any) -> str:
        if isinstance(value, dict):
            return f"<{name}>" + "".join(render(k, v) for k, v in value.items()) + f"</{name}>"
        if isinstance(value, list):
            return "".join(render(name, item) for item in value)
        if isinstance(value, bool | int):
            return f"<{name}>{int(value)}</{name}>"
        return f"<{name}>{cdata(value)}</{name}>"

    return "<xml>" + "".join(render(k, v) for k, v in fields.items()) + "</xml>"


def oa_event_fields(app: App, openid: str, at: int, msg_type: str = "event") -> dict[str, Any]:
    return {"ToUserName": app.original_id, "FromUserName": openid, "CreateTime": at, "MsgType": msg_type}


def template_report_xml(app: App, openid: str, msgid: int, status: str, at: int) -> str:
    return render_xml({**oa_event_fields(app, openid, at), "Event": "TEMPLATESENDJOBFINISH", "MsgID": msgid, "Status": status})


def mass_report_xml(app: App, msgid: int, *, total: int, filtered: int, sent: int, errors: int, at: int) -> str:
    fields = oa_event_fields(app, "mphelper", at)
    fields.update(
        Event="MASSSENDJOBFINISH", MsgID=msgid, Status="send success", TotalCount=total, FilterCount=filtered,
        SentCount=sent, ErrorCount=errors,
    )
    return render_xml(fields)


def apply_user_event(state: SandboxState, app: App, event: str, params: dict[str, Any]) -> tuple[str, str]:
    """Apply a user action to the state; returns (xml, openid-or-external-id) to post to the callback URL."""
    at = int(params.get("create_time") or state.now())
    if app.kind == "wecom":
        return _wecom_event(state, app, event, params, at)
    openid = params.get("openid")
    if not openid:
        raise ValueError("openid is required")
    fields = oa_event_fields(app, openid, at)
    user = app.users.get(openid)
    if event == "subscribe":
        user = user or state.add_user(app, User(openid=openid))
        if params.get("unionid"):
            user.unionid = params["unionid"]
        user.subscribe, user.subscribe_time = True, at
        state.interact(user, "event", at)
        fields["Event"] = "subscribe"
        scene = params.get("scene")
        if scene not in (None, ""):
            ticket = params.get("ticket") or _ticket_for_scene(app, str(scene))
            fields.update(EventKey=f"qrscene_{scene}", Ticket=ticket)
            user.subscribe_scene, user.qr_scene_str = "ADD_SCENE_QR_CODE", str(scene)
    elif event == "unsubscribe":
        if user is not None:
            user.subscribe = False
        fields.update(Event="unsubscribe", EventKey="")
    elif event in ("SCAN", "CLICK", "VIEW"):
        if event != "VIEW":  # a URL menu opens no customer-service window
            _touch(state, app, openid, at, "event")
        if event == "SCAN":
            scene = str(params.get("scene", ""))
            fields.update(Event="SCAN", EventKey=scene, Ticket=params.get("ticket") or _ticket_for_scene(app, scene))
        elif event == "CLICK":
            fields.update(Event="CLICK", EventKey=params.get("key", ""))
        else:
            fields.update(Event="VIEW", EventKey=params.get("url", ""))
    elif event == "text":
        _touch(state, app, openid, at, "message")
        fields = oa_event_fields(app, openid, at, "text")
        fields.update(Content=params.get("content", ""), MsgId=params.get("msg_id") or state.next_msgid())
    elif event in ("subscribe_msg_popup_event", "subscribe_msg_change_event"):
        items = params.get("templates") or []
        for item in items:
            key = (openid, item["template_id"])
            if item.get("status", "accept") == "accept":
                app.consent[key] = app.consent.get(key, 0) + 1
            else:
                app.consent.pop(key, None)
        wrapper = "SubscribeMsgPopupEvent" if event == "subscribe_msg_popup_event" else "SubscribeMsgChangeEvent"
        fields["Event"] = event
        fields[wrapper] = {
            "List": [
                {"TemplateId": i["template_id"], "SubscribeStatusString": i.get("status", "accept"), "PopupScene": i.get("scene", 0)}
                for i in items
            ]
        }
    else:
        raise ValueError(f"unknown event {event!r}; use xml= for anything else")
    return render_xml(fields), openid


def _touch(state: SandboxState, app: App, openid: str, at: int, kind: str) -> None:
    user = app.users.get(openid)
    if user is not None:
        state.interact(user, kind, at)


def _ticket_for_scene(app: App, scene: str) -> str:
    for ticket, info in app.qrcodes.items():
        if str(info.get("scene")) == scene:
            return ticket
    return "gQ" + secrets.token_urlsafe(24)


def _wecom_event(state: SandboxState, app: App, event: str, params: dict[str, Any], at: int) -> tuple[str, str]:
    change = params.get("change_type") or event
    if change in STAFF_CHANGES:
        return _wecom_staff_event(app, change, params, at), params.get("userid") or ""
    if event == "change_external_tag":
        return _wecom_tag_event(state, app, change, params, at), ""
    if event == "change_external_chat":
        return _wecom_chat_event(app, change, params, at), ""
    staff = params.get("staff_userid") or params.get("userid")
    external = params.get("external_userid")
    if not staff or not external:
        raise ValueError("staff_userid and external_userid are required")
    fields: dict[str, Any] = {
        "ToUserName": app.app_id, "FromUserName": "sys", "CreateTime": at, "MsgType": "event",
        "Event": "change_external_contact", "ChangeType": change, "UserID": staff, "ExternalUserID": external,
    }
    # 客户联系变更事件 (https://developer.work.weixin.qq.com/document/path/92130 and 92277): every
    # change concerns one (staff member, external contact) pair.
    if change in ("add_external_contact", "add_half_external_contact"):
        # add_half_external_contact: the customer added a staff member who skips verification; the
        # pair exists (the customer sees the staff member) before the staff member adds them back.
        state_value = params.get("state", "")
        wecom_add_contact(
            state, app, staff_userid=staff, external_userid=external, unionid=params.get("unionid", ""),
            name=params.get("name", ""), state_value=state_value, at=at,
        )
        if state_value:
            fields["State"] = state_value
        code = secrets.token_urlsafe(24)
        app.welcome_codes[code] = {"issued_at": state.now(), "used": False, "staff": staff, "external": external}
        fields["WelcomeCode"] = code
    elif change == "edit_external_contact":
        _wecom_edit_in_client(app, staff, external, params)
    elif change in ("del_external_contact", "del_follow_user"):
        relations = app.follows.get(external, {})
        relations.pop(staff, None)
        if not relations and external in app.users:
            app.users[external].subscribe = False
        if change == "del_external_contact" and params.get("source"):
            fields["Source"] = params["source"]  # DELETE_BY_TRANSFER: removed by a hand-over
    elif change == "transfer_fail":
        # The customer refused the hand-over, or the takeover staff member has too many customers:
        # the waiting transfer to `staff` ends with status 3 / 4 (查询客户接替状态).
        reason = params.get("fail_reason") or "customer_refused"
        fields["FailReason"] = reason
        for (_handover, takeover), customers in app.transfers.items():
            if takeover == staff and customers.get(external, {}).get("status") == 2:
                customers[external]["status"] = 3 if reason == "customer_refused" else 4
    else:
        raise ValueError(f"unknown change_type {change!r}")
    return render_xml(fields), external


def _wecom_edit_in_client(app: App, staff: str, external: str, params: dict[str, Any]) -> None:
    """What a staff member changes in the WeCom client: remark, description, mobiles, corp tags."""
    info = app.follows.get(external, {}).get(staff)
    if info is None:
        raise ValueError("external_userid is not a contact of staff_userid")
    for name in ("remark", "description", "remark_corp_name"):
        if params.get(name) is not None:
            info[name] = str(params[name])
    if params.get("remark_mobiles") is not None:
        info["remark_mobiles"] = [str(m) for m in params["remark_mobiles"]]
    known = {t["id"]: (g, t) for g in app.corp_tag_groups.values() for t in g["tag"]}
    for tag_id in params.get("add_tags") or []:
        if tag_id not in known:
            raise ValueError(f"unknown corp tag {tag_id!r}")
        if all(t["tag_id"] != tag_id for t in info["tags"]):
            group, tag = known[tag_id]
            info["tags"].append({"group_name": group["group_name"], "tag_name": tag["name"], "type": 1, "tag_id": tag_id})
    removed = set(params.get("remove_tags") or [])
    info["tags"] = [t for t in info["tags"] if t["tag_id"] not in removed]


def wecom_add_contact(
    state: SandboxState, app: App, *, staff_userid: str, external_userid: str, unionid: str = "", name: str = "",
    state_value: str = "", at: int | None = None,
) -> User:
    """Make `external_userid` a contact of the staff member (creating both as needed)."""
    if app.kind != "wecom":
        raise ApiError(40013, "not a WeCom corp")
    app.staff.setdefault(staff_userid, {"name": staff_userid})
    user = app.users.get(external_userid)
    if user is None:
        user = state.add_user(app, User(openid=external_userid, unionid=unionid, name=name or external_userid))
    user.subscribe = True
    if unionid:
        user.unionid = unionid
    app.follows.setdefault(external_userid, {})[staff_userid] = {
        "userid": staff_userid, "remark": "", "description": "", "createtime": int(at or state.now()),
        "tags": [], "remark_corp_name": "", "remark_mobiles": [], "oper_userid": external_userid,
        "state": state_value, "add_way": 1 if state_value else 0,
    }
    app.last_chat[external_userid] = staff_userid  # adding a contact starts a chat with them
    return user


# 成员变更通知 (https://developer.work.weixin.qq.com/document/path/90970).
STAFF_CHANGES = ("create_user", "update_user", "delete_user")


def _wecom_staff_event(app: App, change: str, params: dict[str, Any], at: int) -> str:
    userid = params.get("userid") or params.get("staff_userid")
    if not userid:
        raise ValueError("userid is required")
    fields: dict[str, Any] = {
        "ToUserName": app.app_id, "FromUserName": "sys", "CreateTime": at, "MsgType": "event",
        "Event": "change_contact", "ChangeType": change, "UserID": userid,
    }
    if change == "delete_user":
        info = app.staff.pop(userid, None)
        if info is None:
            raise ValueError(f"unknown staff member {userid!r}")
        # Their customers stay theirs, unassigned, until handed over (离职继承).
        app.resigned_staff[userid] = {**info, "dimission_time": at}
        return render_xml(fields)
    info = app.staff.setdefault(userid, {"name": userid}) if change == "create_user" else app.staff.get(userid)
    if info is None:
        raise ValueError(f"unknown staff member {userid!r}")
    if params.get("name"):
        info["name"] = params["name"]
    if params.get("department"):
        info["department"] = [int(d) for d in params["department"]]
    new_userid = params.get("new_userid")
    if change == "update_user" and new_userid and new_userid != userid:
        app.staff[new_userid] = app.staff.pop(userid)
        for relations in app.follows.values():
            if userid in relations:
                relations[new_userid] = {**relations.pop(userid), "userid": new_userid}
        fields["NewUserID"] = new_userid
    # Apps created after 2022-06-20 receive no Name in these events (the name is not released to
    # them); the sandbox sends it, the product tolerates its absence.
    fields.update(Name=info.get("name", ""), Department=",".join(str(d) for d in info.get("department") or [1]),
                  Status=int(info.get("status") or 1))
    return render_xml(fields)


def _wecom_tag_event(state: SandboxState, app: App, change: str, params: dict[str, Any], at: int) -> str:
    """企业客户标签事件 (https://developer.work.weixin.qq.com/document/path/92277): an administrator
    changed corp tags in the admin console. create / update / delete name a tag or a tag group by
    `Id` and `TagType`; shuffle (reordering) names the group whose tags moved, or none."""
    tag_type = params.get("tag_type") or "tag"
    fields: dict[str, Any] = {
        "ToUserName": app.app_id, "FromUserName": "sys", "CreateTime": at, "MsgType": "event",
        "Event": "change_external_tag", "ChangeType": change,
    }
    groups = app.corp_tag_groups
    if change == "create":
        group = next((g for g in groups.values() if g["group_name"] == params.get("group_name")), None)
        if group is None:
            group = {"group_id": "et" + secrets.token_hex(10), "group_name": params.get("group_name") or "Group",
                     "create_time": at, "order": 0, "deleted": False, "tag": []}
            groups[group["group_id"]] = group
        if tag_type == "tag_group":
            ident = group["group_id"]
        else:
            tag = {"id": "et" + secrets.token_hex(10), "name": params.get("name") or "Tag", "create_time": at,
                   "order": 0, "deleted": False}
            group["tag"].append(tag)
            ident = tag["id"]
    elif change in ("update", "delete"):
        ident = params.get("id") or ""
        group = groups.get(ident)
        tag_pair = next(((g, t) for g in groups.values() for t in g["tag"] if t["id"] == ident), None)
        if group is None and tag_pair is None:
            raise ValueError(f"unknown corp tag or group {ident!r}")
        tag_type = "tag_group" if group is not None else "tag"
        if change == "update" and params.get("name"):
            if group is not None:
                group["group_name"] = params["name"]
            else:
                tag_pair[1]["name"] = params["name"]
        elif change == "delete":
            removed = {t["id"] for t in group["tag"]} if group is not None else {ident}
            if group is not None:
                del groups[ident]
            else:
                tag_pair[0]["tag"] = [t for t in tag_pair[0]["tag"] if t["id"] != ident]
            for relations in app.follows.values():
                for info in relations.values():
                    info["tags"] = [t for t in info["tags"] if t["tag_id"] not in removed]
    elif change == "shuffle":
        ident = params.get("id") or ""
        tag_type = ""
    else:
        raise ValueError(f"unknown change_type {change!r}")
    fields.update(Id=ident, TagType=tag_type)
    return render_xml(fields)


def wecom_group_put(app: App, *, chat_id: str, name: str, owner: str, members: list[dict], at: int) -> dict:
    """Create or replace a customer group; members are {"userid", "type" (1 staff, 2 external), "unionid"}."""
    group = {"chat_id": chat_id, "name": name, "owner": owner, "create_time": at, "notice": "", "status": 0,
             "admin_list": [], "member_list": [], "version": 1}
    app.group_chats[chat_id] = group
    _group_members_add(app, group, members, at)
    return group


def _group_members_add(app: App, group: dict, members: list[dict], at: int) -> list[str]:
    present = {m["userid"] for m in group["member_list"]}
    added = []
    for member in members:
        userid = member["userid"] if isinstance(member, dict) else member
        if userid in present:
            continue
        kind = int(member.get("type", 2)) if isinstance(member, dict) else (1 if userid in app.staff else 2)
        row = {"userid": userid, "type": kind, "join_time": at, "join_scene": 1, "invitor": {"userid": group["owner"]},
               "group_nickname": "", "name": userid}
        unionid = (member.get("unionid") if isinstance(member, dict) else "") or (app.users[userid].unionid if userid in app.users else "")
        if kind == 2 and unionid:
            row["unionid"] = unionid
        group["member_list"].append(row)
        added.append(userid)
    return added


def _wecom_chat_event(app: App, change: str, params: dict[str, Any], at: int) -> str:
    """客户群变更事件 (https://developer.work.weixin.qq.com/document/path/92277): create, update
    (UpdateDetail add_member / del_member / change_owner / change_name / change_notice) or dismiss of
    one group, named by ChatId."""
    chat_id = params.get("chat_id") or ("wr" + secrets.token_hex(12))
    fields: dict[str, Any] = {
        "ToUserName": app.app_id, "FromUserName": "sys", "CreateTime": at, "MsgType": "event",
        "Event": "change_external_chat", "ChatId": chat_id, "ChangeType": change,
    }
    if change == "create":
        owner = params.get("owner") or next(iter(app.staff), "")
        wecom_group_put(app, chat_id=chat_id, name=params.get("name", ""), owner=owner,
                        members=[{"userid": owner, "type": 1}, *(params.get("members") or [])], at=at)
        return render_xml(fields)
    group = app.group_chats.get(chat_id)
    if group is None:
        raise ValueError(f"unknown chat {chat_id!r}")
    if change == "dismiss":
        del app.group_chats[chat_id]
        return render_xml(fields)
    if change != "update":
        raise ValueError(f"unknown change_type {change!r}")
    detail = params.get("update_detail") or "add_member"
    fields["UpdateDetail"] = detail
    group["version"] = group.get("version", 1) + 1
    if detail == "add_member":
        changed = _group_members_add(app, group, params.get("members") or [], at)
        fields.update(JoinScene=1, MemChangeCnt=len(changed))
    elif detail == "del_member":
        gone = set(params.get("members") or [])
        group["member_list"] = [m for m in group["member_list"] if m["userid"] not in gone]
        fields.update(QuitScene=0, MemChangeCnt=len(gone))
    elif detail == "change_owner":
        group["owner"] = params.get("owner") or group["owner"]
    elif detail == "change_name":
        group["name"] = params.get("name", group["name"])
    elif detail == "change_notice":
        group["notice"] = params.get("notice", "")
    else:
        raise ValueError(f"unknown update_detail {detail!r}")
    return render_xml(fields)
