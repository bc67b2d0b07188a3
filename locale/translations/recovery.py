"""Simplified Chinese for dispatch recovery (claims as leases, the pump watchdog)."""

ZH_HANS = {
    "pump generation": "发送泵代次",
    "pump alive until": "发送泵存活截止",
}
