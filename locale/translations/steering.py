"""Simplified Chinese for steering by expected value: the campaign's fields and the budget's reasons."""

ZH_HANS = {
    "steer by expected value": "按期望价值引导",
    "value of a click": "每次点击的价值",
    "Weekly attention budget used": "本周注意力预算已用完",
    "Budget kept for a campaign worth more": "预算留给价值更高的活动",
    "Expected value below the disturbance cost": "期望价值低于打扰成本",
    "Saved their preference centre": "保存了偏好设置",
}
