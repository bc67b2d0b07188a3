"""WeCom's address book as an app within its visible range sees it: departments and their members.

读取成员 user/get (https://developer.work.weixin.qq.com/document/path/90196), 获取部门成员详情
user/list (https://developer.work.weixin.qq.com/document/path/90201), 获取部门列表 department/list
(https://developer.work.weixin.qq.com/document/path/90208). Errors as documented: 60111 userid not
found, 60123 invalid department id; department_id is required by user/list (40058 missing field).
The sandbox has one root department (id 1) unless staff name others.
"""

from __future__ import annotations

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.state import ApiError

ROOT_DEPARTMENT = 1


def _staff_json(userid: str, info: dict) -> dict:
    return {
        "userid": userid,
        "name": info.get("name") or userid,
        "department": list(info.get("department") or [ROOT_DEPARTMENT]),
        "status": int(info.get("status") or 1),
    }


def _departments(ctx: Ctx) -> set[int]:
    found = {ROOT_DEPARTMENT}
    for info in ctx.app.staff.values():
        found.update(info.get("department") or [ROOT_DEPARTMENT])
    return found


def department_list(ctx: Ctx) -> dict:
    wanted = ctx.query.get("id")
    ids = sorted(_departments(ctx))
    if wanted not in (None, ""):
        if not str(wanted).isdigit() or int(wanted) not in ids:
            raise ApiError(60123, "invalid department id")
        ids = [i for i in ids if i == int(wanted) or (int(wanted) == ROOT_DEPARTMENT)]
    return {"department": [
        {"id": i, "name": "总部" if i == ROOT_DEPARTMENT else f"部门{i}", "parentid": 0 if i == ROOT_DEPARTMENT else ROOT_DEPARTMENT, "order": i}
        for i in ids
    ]}


def user_list(ctx: Ctx) -> dict:
    department = ctx.query.get("department_id")
    if department in (None, ""):
        raise ApiError(40058, "department_id is required")
    if not str(department).isdigit() or int(department) not in _departments(ctx):
        raise ApiError(60123, "invalid department id")
    department = int(department)
    return {"userlist": [
        _staff_json(userid, info) for userid, info in ctx.app.staff.items()
        if department in (info.get("department") or [ROOT_DEPARTMENT])
    ]}


def user_get(ctx: Ctx) -> dict:
    userid = ctx.query.get("userid")
    info = ctx.app.staff.get(userid or "")
    if info is None:
        raise ApiError(60111, "userid not found")
    return _staff_json(userid, info)


ROUTES = {
    "/cgi-bin/department/list": department_list,
    "/cgi-bin/user/list": user_list,
    "/cgi-bin/user/get": user_get,
}
