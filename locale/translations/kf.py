"""Simplified Chinese for WeChat's own customer-service (kf) accounts and the keyword hand-over (issue 16)."""

ZH_HANS = {
    # Errors
    "WeChat's customer-service accounts exist for service accounts only.": "微信客服账号仅适用于服务号。",
    "The kf account does not meet WeChat's rules (prefix@WeChat ID, the prefix at most 10 letters, digits or underscores; a nickname of at most 16 characters; a jpg avatar).":
        "客服账号不符合微信的规则（格式为 前缀@公众号微信号，前缀最多 10 个英文字母、数字或下划线；昵称最多 16 个字；头像须为 jpg）。",
    "This kf account exists already.": "该客服账号已存在。",
    "No such kf account on this service account (sync the kf accounts from WeChat first).": "该服务号没有这个客服账号（请先从微信同步客服账号）。",
    "No kf account holds this conversation.": "当前没有客服账号接待该会话。",
    "WeChat refused the customer-service call.": "微信拒绝了本次客服接口调用。",
    "WeChat could not be reached or failed.": "无法连接微信，或微信处理失败。",
    "WeChat refused the call: %(errcode)s %(errmsg)s": "微信拒绝了调用：%(errcode)s %(errmsg)s",
    "The new customer service is not enabled for this account in WeChat's console.": "该账号尚未在微信公众平台开通新版客服功能。",
    "WeChat does not know this kf account.": "微信中不存在该客服账号。",
    "The kf account is not bound to a WeChat user yet: it cannot take sessions.": "该客服账号尚未绑定微信号，不能接入会话。",
    "WeChat refused the nickname.": "微信拒绝了该客服昵称。",
    "WeChat refused the kf account (its suffix must be the service account's WeChat ID).": "微信拒绝了该客服账号（@ 后缀必须是本公众号的微信号）。",
    "The account has WeChat's maximum of 100 kf accounts.": "该账号的客服账号已达微信上限 100 个。",
    "This kf account exists already in WeChat.": "微信中已存在该客服账号。",
    "The customer has no session with this kf account.": "该客户与这个客服账号之间没有会话。",
    "Another kf account is serving this customer.": "该客户正在由其他客服接待。",
    "The kf account is not online.": "该客服不在线。",
    "The customer is not a follower of this account.": "该客户不是本公众号的粉丝。",
    "“%(value)s” is not prefix@WeChat ID: the prefix is 1–10 letters, digits or underscores, the WeChat ID at most 30 characters.":
        "“%(value)s”不是 前缀@公众号微信号 的格式：前缀为 1–10 个英文字母、数字或下划线，微信号最多 30 个字符。",
    "The nickname must have 1–16 characters (“%(value)s” has %(count)s).": "昵称须为 1–16 个字（“%(value)s”有 %(count)s 个字）。",
    "The avatar must be a jpg image of at most 5 MB.": "头像须为不超过 5 MB 的 jpg 图片。",
    # Models
    "held by WeChat kf account": "接待中的微信客服账号",
    "held by the kf account since": "微信客服接待开始时间",
    "kf account": "客服账号",
    "prefix@the account's WeChat ID; the prefix is at most 10 letters, digits or underscores.": "前缀@公众号微信号；前缀最多 10 个英文字母、数字或下划线。",
    "nickname": "昵称",
    "kf number": "客服编号",
    "avatar": "头像",
    "bound WeChat ID": "绑定的微信号",
    "The WeChat user who serves as this account; unbound accounts cannot take sessions.": "使用该客服账号接待的微信号；未绑定的账号不能接入会话。",
    "invited WeChat ID": "邀请绑定的微信号",
    "invitation": "邀请状态",
    "sessions being served": "正在接待的会话数",
    "read from WeChat at": "从微信同步时间",
    "WeChat kf account": "微信客服账号",
    "WeChat kf accounts": "微信客服账号",
    "hand over to a person": "转人工",
    "The customer asks for a person (e.g. “人工”): besides the reply, their conversation opens in the inbox for an operator.":
        "客户要求人工服务（如“人工”）：除自动回复外，还会在客服工作台为其打开会话，交由客服人员处理。",
    # API
    "Send as this WeChat kf account; by default the kf account holding the conversation, if any.": "以该微信客服账号的身份发送；默认使用正在接待该会话的客服账号（如有）。",
    "prefix@the service account's WeChat ID": "前缀@公众号微信号",
    "At most 16 characters (checked with WeChat's rule).": "最多 16 个字（按微信的规则检查）。",
    "A jpg image (WeChat recommends 640×640).": "jpg 图片（微信建议 640×640）。",
    # Console
    "avatar (jpg)": "头像（jpg）",
    "A jpg image; WeChat recommends 640×640.": "jpg 图片；微信建议 640×640。",
    "All service accounts": "全部服务号",
    "Sync the kf accounts from WeChat": "从微信同步客服账号",
    "Reads the kf accounts WeChat lists for the account and who is online; kf accounts WeChat no longer has are removed here.":
        "读取微信中该账号的客服账号及在线状态；微信中已不存在的客服账号会在这里删除。",
    "%(account)s: %(accounts)d kf accounts, %(online)d online, %(removed)d removed.": "%(account)s：%(accounts)d 个客服账号，%(online)d 个在线，删除 %(removed)d 个。",
    "%(kf)s was not removed: %(reason)s": "%(kf)s 未删除：%(reason)s",
}
ZH_HANS["message: the customer wrote; menu: a menu item asked for a person; keyword: a keyword rule (e.g. “人工”) asked for a person; kf: a WeChat kf session."] = (
    "message：客户发来消息；menu：客户点击了转人工的菜单项；keyword：客户发送了转人工关键词（如“人工”）；kf：微信客服会话。"
)
ZH_HANS["WeChat kf"] = "微信客服"
