"""Simplified Chinese for the hardening work of issue 14 (API hosts, login throttling)."""

ZH_HANS = {
    "The account's API base URL is neither WeChat's nor a listed sandbox; nothing was sent.":
        "该账号的 API 地址既不是微信的服务器，也不是已登记的沙箱；未发送任何内容。",
    "The API base URL must be one of WeChat's API hosts over HTTPS (%(hosts)s) or a sandbox this "
    "deployment lists in WECHAT_SANDBOX_URLS; leave it empty for WeChat's default.":
        "API 地址必须是使用 HTTPS 的微信 API 主机（%(hosts)s），或本部署在 WECHAT_SANDBOX_URLS 中登记的沙箱；留空即使用微信的默认地址。",
    "Empty means WeChat's real servers. Otherwise one of WeChat's API hosts, or a sandbox listed in WECHAT_SANDBOX_URLS.":
        "留空即使用微信的正式服务器；否则须为微信的 API 主机，或 WECHAT_SANDBOX_URLS 中登记的沙箱。",
    "Too many failed logins for this user; try again later.": "该用户登录失败次数过多，请稍后再试。",
}
