"""Simplified Chinese for WeCom welcome messages and WeCom media (branch `welcome`)."""

ZH_HANS = {
    # Models
    "welcome attachments": "欢迎语附件",
    "Image": "图片",
    "Voice": "语音",
    "Video": "视频",
    "File": "文件",
    "file name": "文件名",
    "size (bytes)": "大小（字节）",
    "media file": "素材文件",
    "media files": "素材文件",
    "Temporary media (media_id, 3 days)": "临时素材（media_id，3 天有效）",
    "Image URL (lasting)": "图片链接（永久有效）",
    "Sending": "发送中",
    "Sent": "已发送",
    "Expired or used": "已过期或已使用",
    "welcome messages": "欢迎语",
    "Welcome messages": "欢迎语记录",
    "staff member": "员工",
    "external contact": "外部联系人",
    "event received at": "事件接收时间",
    # Errors
    "The media file or attachment does not meet WeCom's rules.": "素材文件或附件不符合企业微信的要求。",
    "WeCom's 20 seconds for the welcome message had passed; nothing was sent.": "已超过企业微信发送欢迎语的 20 秒时限，未发送。",
    "Unknown media kind.": "未知的素材类型。",
    "The file is not of that kind (images are JPG or PNG, voice AMR, video MP4).":
        "文件与所选类型不符（图片须为 JPG 或 PNG，语音为 AMR，视频为 MP4）。",
    "The file must be more than 5 bytes and at most %(max)s bytes for this kind.":
        "文件须大于 5 字节，且此类型最多 %(max)s 字节。",
    "A link or moment picture must be a JPG or PNG image of at most 2 MB.": "链接或朋友圈的图片须为不超过 2 MB 的 JPG 或 PNG 图片。",
    "Attachment %(n)s needs the field %(field)s.": "第 %(n)s 个附件缺少字段 %(field)s。",
    "Attachment %(n)s: %(field)s is longer than %(limit)s bytes.": "第 %(n)s 个附件：%(field)s 超过 %(limit)s 字节。",
    "Attachments must be a list.": "附件须为列表。",
    "At most 9 attachments.": "最多 9 个附件。",
    "Attachment %(n)s: unknown msgtype.": "第 %(n)s 个附件：未知的消息类型（msgtype）。",
    "Attachment %(n)s needs a media file of the right kind.": "第 %(n)s 个附件需要类型正确的素材文件。",
    "Attachment %(n)s: the link must be an http(s) URL.": "第 %(n)s 个附件：链接须为 http(s) 地址。",
    "Only WeCom contact-me ways send welcome attachments.": "只有企业微信“联系我”方式可发送欢迎语附件。",
}
