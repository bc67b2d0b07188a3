"""The keys of a template body: "订单号：{{character_string1.DATA}}\\n金额：{{amount2.DATA}}" →
[{"key": "character_string1", "label": "订单号", "rule": "character_string"},
 {"key": "amount2", "label": "金额", "rule": "amount"}].

`label` is the text before the placeholder on its line (after the previous placeholder, if the line
has two), without the colon. `rule` is the key's type prefix, for the keys WeChat types: subscribe
messages and the template messages made since 2023 name their keys thing1, amount2…, and WeChat checks
each value against its type on send (subscribe-message keys: 订阅消息 "subscribeMessage.send",
https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html;
template messages: 模板消息接口 "类目模板消息", https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html).
Older template-message keys (first, keyword1, remark) carry no type: rule "".
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

# WeChat writes the placeholder as {{key.DATA}}; its documentation pages render it "{ {key.DATA} }".
PLACEHOLDER = re.compile(r"\{\s*\{\s*([A-Za-z][A-Za-z0-9_]*)\.DATA\s*\}\s*\}")
KEY_RULE = re.compile(r"^([a-z_]+?)_?\d+$")

# The value types WeChat knows, with what each accepts (for the wizard's hints and checks).
# max_length counts characters; None where the type is a format rather than a length.
RULES: dict[str, dict] = {
    "thing": {"max_length": 20, "hint": _("text")},
    "short_thing": {"max_length": 5, "hint": _("text")},
    "number": {"max_length": 32, "hint": _("digits")},
    "letter": {"max_length": 32, "hint": _("letters")},
    "symbol": {"max_length": 5, "hint": _("symbols")},
    "character_string": {"max_length": 32, "hint": _("digits, letters or symbols")},
    "time": {"max_length": None, "hint": _("a time, e.g. 15:01 or 2019-10-01 15:01")},
    "date": {"max_length": None, "hint": _("a date, e.g. 2019-10-01 or 2019年10月1日")},
    "amount": {"max_length": None, "hint": _("an amount with at most 2 decimals, e.g. ¥99.5")},
    "phone_number": {"max_length": 17, "hint": _("a phone number")},
    "car_number": {"max_length": 8, "hint": _("a car number plate")},
    "name": {"max_length": 10, "hint": _("a name (10 Chinese characters or 20 letters)")},
    "phrase": {"max_length": 5, "hint": _("at most 5 Chinese characters")},
    "enum": {"max_length": None, "hint": _("one of the template's values")},
    "const": {"max_length": 20, "hint": _("fixed text")},
}


def key_rule(key: str) -> str:
    """The value type of a key ("amount2" → "amount"), or "" when WeChat does not type it."""
    match = KEY_RULE.match(key)
    if match and match.group(1) in RULES:
        return match.group(1)
    return ""


def _label(text: str) -> str:
    return text.strip().rstrip(":：").strip()


def template_keys_parse(content: str) -> list[dict[str, str]]:
    """The keys of a template body, in order, each once, with label and rule."""
    keys: list[dict[str, str]] = []
    seen: set[str] = set()
    for line in (content or "").splitlines():
        start = 0
        for match in PLACEHOLDER.finditer(line):
            key = match.group(1)
            label = _label(line[start : match.start()])
            start = match.end()
            if key in seen:
                continue
            seen.add(key)
            keys.append({"key": key, "label": label, "rule": key_rule(key)})
    return keys
