"""Simplified Chinese for fast reads at scale: bounded counts, big changelists' filters, search help."""

ZH_HANS = {
    "more than %(count)s": "超过 %(count)s",
    "about %(count)s": "约 %(count)s",
    "event type": "事件类型",
    "occurred": "发生时间",
    "Last 24 hours": "最近 24 小时",
    "Last 7 days": "最近 7 天",
    "Last 30 days": "最近 30 天",
    "error code": "错误码",
    # The heading of a filter in the list's filter form (Django's own wording and translation).
    " By %(filter_title)s ": " 以 %(filter_title)s ",
    # Campaign report: the lift's kept counts (campaigns/reports/lift.py).
    "Counted at %(at)s, and again every 5 minutes until a day after the attribution window closes.": "统计于 %(at)s；归因窗口结束后一天内每 5 分钟重新统计一次。",
}
