"""Control calls for WeCom customer groups: seed many groups at once (benchmarks, tests of large corps)."""

from __future__ import annotations

import time

from messaging.sandbox.events import wecom_group_put


def add_group_chats(server, params: dict) -> dict:
    """`count` groups owned by `owner` (a staff member of the corp), each with the owner and
    `members - 1` external members taken in turn from a pool of `pool` external userids
    (`external_prefix` + a 7-digit number; unionid `unionid_prefix` + the same number when given),
    so groups share members as real ones do. Returns the chat ids."""
    app = server.state.apps.get(params.get("corp_id") or "")
    if app is None:
        raise ValueError("corp_id names no registered corp")
    owner = params.get("owner") or next(iter(app.staff), "")
    count, members, pool = int(params.get("count") or 0), int(params.get("members") or 1), int(params.get("pool") or 0)
    if owner not in app.staff or count <= 0 or not 1 <= members <= 2000:
        raise ValueError("owner must be a staff member, count positive and members 1 to 2000")
    pool = pool or count * (members - 1)
    prefix, unionid_prefix = params.get("external_prefix") or "wmg", params.get("unionid_prefix") or ""
    chat_prefix = params.get("chat_prefix") or "wrg"
    at = int(time.time())
    chat_ids, cursor = [], 0
    for n in range(count):
        external = []
        for _ in range(members - 1):
            number = cursor % pool
            cursor += 1
            row = {"userid": f"{prefix}{number:07d}", "type": 2}
            if unionid_prefix:
                row["unionid"] = f"{unionid_prefix}{number:07d}"
            external.append(row)
        chat_id = f"{chat_prefix}{n:06d}"
        wecom_group_put(app, chat_id=chat_id, name=f"群 {n}", owner=owner, members=[{"userid": owner, "type": 1}, *external], at=at)
        chat_ids.append(chat_id)
    return {"chat_ids": chat_ids}


ROUTES = {"add_group_chats": add_group_chats}
