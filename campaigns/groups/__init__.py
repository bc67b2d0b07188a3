"""WeCom group messages to customer groups (客户群): a wecom_group campaign whose audience is groups
(content["group_audience"]) rather than a segment. One row per (campaign, group) (GroupSend); one
add_msg_template task per owner with chat_type=group and the owner's chosen chat_id_list."""
