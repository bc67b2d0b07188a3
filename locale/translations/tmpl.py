"""Simplified Chinese for the template library (sync from WeChat, admin, errors)."""

ZH_HANS = {
    # Model and admin
    "Subscribe message": "订阅消息",
    "template ID": "模板 ID",
    "title": "标题",
    "example": "示例",
    "keys": "字段",
    "synced at": "同步时间",
    "Message templates": "消息模板",
    "label": "名称",
    "key": "字段键",
    "accepted values": "取值要求",
    "any text": "任意文字",
    "%(hint)s, at most %(count)d characters": "%(hint)s，最多 %(count)d 个字符",
    "status": "状态",
    "Deleted on WeChat": "已在微信端删除",
    "Available": "可用",
    "All service accounts and mini-programs": "全部服务号和小程序",
    "Sync now from WeChat": "立即从微信同步",
    "Sync now": "立即同步",
    "Sync the template library from WeChat": "从微信同步模板库",
    "Reads the templates WeChat lists for the account (template messages and subscribe messages) and updates this list. Templates deleted on WeChat are marked deleted.":
        "读取微信为该账号列出的模板（模板消息和订阅消息）并更新此列表。在微信端删除的模板会标记为已删除。",
    "Sync the selected templates' accounts from WeChat": "从微信同步所选模板所属账号的模板库",
    "Sync message templates from WeChat": "从微信同步消息模板",
    "%(account)s: %(added)d added, %(updated)d updated, %(removed)d removed, %(unchanged)d unchanged.":
        "%(account)s：新增 %(added)d 个，更新 %(updated)d 个，删除 %(removed)d 个，未变 %(unchanged)d 个。",
    "Subscribe messages are not enabled for this account (errcode 48001); they were left as they were.":
        "该账号未开通订阅消息（错误码 48001），订阅消息模板保持不变。",
    "Template messages are not enabled for this account (errcode 48001); they were left as they were.":
        "该账号未开通模板消息（错误码 48001），模板消息模板保持不变。",
    "There is no active service account or mini-program to sync.": "没有可同步的已启用服务号或小程序。",
    # Sync errors
    "WeChat refused to give the template library of %(account)s: %(meaning)s (errcode %(errcode)s).":
        "微信拒绝返回 %(account)s 的模板库：%(meaning)s（错误码 %(errcode)s）。",
    "WeChat refused to give the template library of %(account)s: %(errmsg)s (errcode %(errcode)s).":
        "微信拒绝返回 %(account)s 的模板库：%(errmsg)s（错误码 %(errcode)s）。",
    "WeChat could not be reached for the template library of %(account)s; try again later (%(error)s).":
        "无法连接微信获取 %(account)s 的模板库，请稍后重试（%(error)s）。",
    "The template library of %(account)s could not be read from WeChat (%(error)s).":
        "无法从微信读取 %(account)s 的模板库（%(error)s）。",
    "Only service accounts and mini-programs have a template library.": "只有服务号和小程序有模板库。",
    "WeChat did not give the template library.": "微信未返回模板库。",
    "The account has no such template; sync its template library from WeChat.": "该账号没有这个模板，请先从微信同步模板库。",
    "The template was deleted on WeChat; choose another one.": "该模板已在微信端删除，请选择其他模板。",
    # What WeChat's errcodes mean
    "WeChat is busy; try again in a moment": "微信系统繁忙，请稍后重试",
    "the access token is invalid (the app secret may have changed)": "access_token 无效（AppSecret 可能已更改）",
    "the app ID is not valid": "AppID 无效",
    "the access token is invalid": "access_token 无效",
    "the template ID is not valid": "模板 ID 无效",
    "the app secret is wrong": "AppSecret 错误",
    "this server's IP address is not on the account's IP whitelist (set it in WeChat's console)":
        "本服务器的 IP 不在该账号的 IP 白名单中（请在微信后台设置）",
    "the access token is missing": "缺少 access_token",
    "the access token expired": "access_token 已过期",
    "the account's daily API quota is used up; it resets tomorrow": "该账号今日的接口调用次数已用完，明天恢复",
    "the account already has 25 templates, WeChat's limit": "该账号已有 25 个模板，达到微信上限",
    "the account is not authorized for this API (not verified, or the feature is not enabled)":
        "该账号没有此接口的权限（未认证或未开通该功能）",
    "the account is restricted (blocked or under review)": "该账号受限（已封禁或审核中）",
    # Value types of template keys (the wizard's hints)
    "text": "文字",
    "digits": "数字",
    "letters": "字母",
    "symbols": "符号",
    "digits, letters or symbols": "数字、字母或符号",
    "a time, e.g. 15:01 or 2019-10-01 15:01": "时间，如 15:01 或 2019-10-01 15:01",
    "a date, e.g. 2019-10-01 or 2019年10月1日": "日期，如 2019-10-01 或 2019年10月1日",
    "an amount with at most 2 decimals, e.g. ¥99.5": "金额，最多两位小数，如 ¥99.5",
    "a phone number": "电话号码",
    "a car number plate": "车牌号",
    "a name (10 Chinese characters or 20 letters)": "姓名（10 个汉字或 20 个字母以内）",
    "at most 5 Chinese characters": "5 个汉字以内",
    "one of the template's values": "模板给定的取值之一",
    "fixed text": "固定文字",
}
