"""WeChat's published limits that the sandbox enforces, each with the documentation page it is from.

A limit here is a promise that code tested against the sandbox respects it against WeChat: the
product must plan around these (see campaigns' send-time checks), not discover them through errors.
"""

from __future__ import annotations

from typing import Any

# 获取 Access token (https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html):
# 2,000 calls a day; after a refresh the previous token keeps working for 5 minutes.
TOKEN_FETCHES_PER_DAY = 2000
TOKEN_OVERLAP_SECONDS = 300

# 群发接口 (https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Batch_Sends_and_Originality_Checks.html):
# a verified service account may call the mass-send APIs 60 times a minute and 100 times a day;
# clientmsgid de-duplicates for 24 hours.
MASS_CALLS_PER_MINUTE = 60
MASS_CALLS_PER_DAY = 100
MASS_DEDUPE_SECONDS = 24 * 3600

# 模板消息接口 (https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html):
# the default daily quota of template messages is 100,000.
TEMPLATE_SENDS_PER_DAY = 100_000

# 客服消息 (https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html,
# 客服消息下发规则, cut to 5 in 2023): a user message opens 48 h with 5 messages; a follow, a QR-code
# scan or a click on a click-type menu allows 3 messages within 1 minute; a VIEW (URL menu) opens nothing.
CUSTOM_WINDOWS = {"message": (48 * 3600, 5), "event": (60, 3)}


class CallCounter:
    """Calls per (name, period) for one app — a period is a minute number or a day like "2026-12-06"."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, Any], int] = {}

    def take(self, name: str, period: Any, *, limit: int, error: Exception) -> None:
        """Count one call of `name` in `period`; raise `error` (counting nothing) once `limit` are used."""
        key = (name, period)
        used = self.counts.get(key, 0)
        if used >= limit:
            raise error
        if len(self.counts) > 1000:  # keep only the periods still current
            self.counts = {k: v for k, v in self.counts.items() if k[1] == period or k[0] != name}
        self.counts[key] = used + 1
