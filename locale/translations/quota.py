"""Simplified Chinese for WeChat's quotas in dispatch (issue 14, defect 6): deferral to the next quota day,
the known limits checked before the call, the customer-service window."""

ZH_HANS = {
    # The account's template quota
    "template messages per day (WeChat's quota)": "每日模板消息条数（微信配额）",
    "WeChat's daily quota of template messages for this account (100,000 unless WeChat raised it). Sends beyond it wait for the next quota day (midnight Beijing time).":
        "该账号在微信的每日模板消息配额（默认 100,000 条，除非微信已为其提高）。超出的发送会等到下一个配额日（北京时间零点）再发。",
    # WeChat's codes, for operators
    "the account's daily API quota is used up; it resets at midnight Beijing time": "该账号今日的接口调用额度已用完，北京时间零点重置",
    "the API's per-minute quota is used up; it resets next minute": "该接口每分钟的调用额度已用完，下一分钟恢复",
    "the customer has not interacted within the customer-service window": "客户不在客服消息窗口内（近期没有互动）",
    "the customer-service messages allowed in the customer's window are used up": "客户当前客服消息窗口内允许的条数已用完",
    # Recorded on deliveries
    "Put off by WeChat's quota for this kind of message; it is sent when the quota turns, not failed.":
        "因微信对该类消息的配额而推迟；配额重置后会自动发送，不算失败。",
    "The account's daily quota of template messages is used up; the rest wait for the next quota day (midnight Beijing time).":
        "该账号今日的模板消息配额已用完；其余消息等到下一个配额日（北京时间零点）再发。",
    "WeChat allows 100 mass sends a day; the rest wait for the next quota day (midnight Beijing time).":
        "微信每天只允许 100 次群发；其余的等到下一个配额日（北京时间零点）再发。",
    "WeChat allows 60 mass sends a minute; the rest wait for the next minute.": "微信每分钟只允许 60 次群发；其余的等到下一分钟再发。",
    "WeChat refused this kind of message for the rest of the quota day; the rest wait for midnight Beijing time.":
        "微信在本配额日内拒绝了该类消息；其余的等到北京时间零点再发。",
    # The customer-service window on an identity
    "customer-service window kind": "客服消息窗口类型",
    "customer-service messages sent in the window": "窗口内已发客服消息数",
    # Suppression reason
    "Customer-service messages of the window used up": "客服消息窗口内的条数已用完",
    # Progress page and report
    "Deferred until %(until)s by WeChat's quota (%(reason)s): %(count)d deliveries wait and go out by themselves then; none failed.":
        "因微信配额推迟到 %(until)s（%(reason)s）：%(count)d 条待发消息届时会自动发出，没有失败。",
    "Was deferred until %(until)s by WeChat's quota (%(reason)s): %(count)d deliveries waited and went out after it turned.":
        "曾因微信配额推迟到 %(until)s（%(reason)s）：%(count)d 条消息在配额重置后发出。",
}
