"""Simplified Chinese for WeCom relationships, staff, corp tags, customer groups and hand-over."""

ZH_HANS = {
    # --- relationships ---
    "WeCom staff member": "企业微信成员",
    "WeCom staff": "企业微信成员",
    "staff userid": "成员账号（userid）",
    "WeCom status": "企业微信状态",
    "departed at": "离职时间",
    "Active": "正常",
    "Deleted by the staff member": "被成员删除",
    "Deleted by the customer": "被客户删除",
    "Transferred": "已转接",
    "added by the customer only": "仅客户添加（成员未回加）",
    "remark": "备注",
    "remark mobiles": "备注手机号",
    "remark company": "备注企业名称",
    "corp tags": "企业标签",
    "add way": "添加方式",
    "channel code state": "渠道码 state",
    "removed at": "删除时间",
    "last interaction": "最近交互",
    "WeCom relationship": "企业微信客户关系",
    "WeCom relationships": "企业微信关系",
    "WeCom client": "企业微信客户端",
    # --- events ---
    "Added another WeCom staff member": "又添加了一位企业微信成员",
    "Removed one of several WeCom staff members": "删除了其中一位企业微信成员（仍有其他成员）",
    "Edited by a WeCom staff member (remark, tags)": "企业微信成员编辑了客户（备注、标签）",
    "WeCom hand-over failed": "企业微信客户转接失败",
    # --- Customer 360 ---
    "Staff member": "成员",
    "Remark": "备注",
    "Corp tags": "企业标签",
    "Added on": "添加时间",
    "Removed": "删除于",
    "Departed": "已离职",
    "Added by the customer only": "仅客户添加",
}
