"""Simplified Chinese for the campaign report page."""

ZH_HANS = {
    "Campaign reports": "活动报表",
    "Open the campaign": "打开活动",
    "Download CSV": "下载 CSV",
    "No campaign has this number; pick one from the list.": "没有这个编号的营销活动，请从列表中选择。",
    "No campaign yet: create one under Campaigns, its report appears here once it sends.": "还没有营销活动：在“营销活动”中创建，开始发送后报表会出现在这里。",
    "Delivery rate": "送达率",
    "Clicks per push": "推送点击率",
    "Funnel": "漏斗",
    "Customers": "客户",
    "Held out": "对照组",
    "Converted": "已转化",
    "Conversion": "转化",
    "Engagement (any click, reply or visit)": "互动（任意点击、回复或访问）",
    "Without a holdout there is nothing to compare with: set a holdout share in the campaign to measure lift.": "没有对照组就无法比较：在活动中设置对照组比例即可衡量提升。",
    "The account over the last %(days)s days": "该账号近 %(days)s 天",
    "In local days": "按本地日期",
    "All accounts over the last %(days)s days": "全部账号近 %(days)s 天",
    "Conversions": "转化",
}
