"""Simplified Chinese for the dispatch take-over fix (campaigns/dispatch/liveness.py)."""

ZH_HANS = {
    "pump generation started at": "发送泵本代启动时间",
}
