"""Which requests to a tracked link are not a person clicking.

Messengers and social apps fetch a link to draw its preview card before anyone taps it; search and
SEO crawlers follow links they find; browsers prefetch. None of them is a click. We keep the rule
conservative and explicit: a user agent matching one of these patterns, an empty user agent, a HEAD
request, or a prefetch hint. WeChat's own in-app browser (``MicroMessenger`` without a preview or
spider marker) is a real reader and is counted.
"""

from __future__ import annotations

import re

BOT_USER_AGENT_PATTERNS: tuple[str, ...] = (
    # WeChat / Tencent fetchers that build link previews or index articles.
    r"wechatspider",
    r"wxspider",
    r"wechat-preview",
    r"micromessenger.*\bpreview\b",
    r"mmspider",
    r"tencenttraveler.*spider",
    r"sogou\w* spider",
    # Generic crawlers.
    r"bot\b",
    r"bot/",
    r"crawl",
    r"spider",
    r"slurp",
    r"baiduspider",
    r"bytespider",
    r"yisouspider",
    r"360spider",
    r"headlesschrome",
    r"phantomjs",
    # Link-preview fetchers of other messengers and social sites.
    r"facebookexternalhit",
    r"facebookcatalog",
    r"whatsapp",
    r"telegrambot",
    r"twitterbot",
    r"slackbot",
    r"slack-imgproxy",
    r"discordbot",
    r"linkedinbot",
    r"skypeuripreview",
    r"embedly",
    r"preview",
    # Scripts and HTTP libraries.
    r"^curl/",
    r"^wget/",
    r"python-requests",
    r"python-urllib",
    r"python-httpx",
    r"go-http-client",
    r"okhttp",
    r"java/",
    r"libwww-perl",
)

_BOT_RE = re.compile("|".join(BOT_USER_AGENT_PATTERNS), re.IGNORECASE)
_PREFETCH_HEADERS = ("HTTP_PURPOSE", "HTTP_SEC_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")


def is_bot_user_agent(user_agent: str) -> bool:
    """True for an empty user agent or one of a known crawler / preview fetcher."""
    user_agent = (user_agent or "").strip()
    return not user_agent or bool(_BOT_RE.search(user_agent))


def is_bot_request(*, method: str, user_agent: str, meta: dict | None = None) -> bool:
    """True when a request to a tracked link must not count as a click."""
    if method.upper() != "GET":
        return True
    meta = meta or {}
    if any("prefetch" in str(meta.get(header, "")).lower() or "preview" in str(meta.get(header, "")).lower() for header in _PREFETCH_HEADERS):
        return True
    return is_bot_user_agent(user_agent)
